use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use proptest::prelude::*;

use super::*;
use crate::greeks::record::test_record;

/// A database stand-in: stores each key once, can be down, and can lose the acknowledgement of
/// a commit (the rows are stored, the writer hears an error).
#[derive(Default)]
struct FakeDb {
    rows: Mutex<Vec<Record>>,
    down: AtomicBool,
    lose_next_ack: AtomicBool,
}

impl Sink for FakeDb {
    fn store<'a>(&'a self, records: &'a [Record]) -> super::super::sink::Stored<'a> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err("connection refused".into());
            }
            let mut rows = self.rows.lock().expect("lock");
            let mut keys: HashSet<String> = rows.iter().map(|r| r.key().to_owned()).collect();
            for r in records {
                if keys.insert(r.key().to_owned()) {
                    rows.push(r.clone());
                }
            }
            if self.lose_next_ack.swap(false, Ordering::SeqCst) {
                return Err("connection reset after COMMIT".into());
            }
            Ok(())
        })
    }
}

impl FakeDb {
    /// The greeks rows stored, by their tick number (the delta field carries it).
    fn ticks(&self) -> Vec<i64> {
        self.rows
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|r| match r {
                Record::Greeks { delta, .. } => Some(*delta as i64),
                _ => None,
            })
            .collect()
    }

    fn log_messages(&self) -> Vec<String> {
        self.rows
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|r| match r {
                Record::ApiLog { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

fn tick(i: i64) -> Vec<Record> {
    vec![test_record(i * 5, i as f64)]
}

fn writer(db: &Arc<FakeDb>, path: &Path, settings: WriterSettings) -> Writer {
    Writer::new(db.clone(), path.to_owned(), settings).0
}

fn settings() -> WriterSettings {
    WriterSettings {
        batch: 3,
        ..WriterSettings::default()
    }
}

#[tokio::test]
async fn a_closed_breaker_writes_straight_through() {
    let d = tempfile::tempdir().expect("dir");
    let db = Arc::new(FakeDb::default());
    let mut w = writer(&db, &d.path().join("s.jsonl"), settings());
    for i in 1..=3 {
        w.accept(tick(i)).await;
    }
    assert_eq!(db.ticks(), [1, 2, 3]);
    assert_eq!(w.status.borrow().breaker, Breaker::Closed);
    assert_eq!(
        std::fs::metadata(d.path().join("s.jsonl"))
            .expect("spool")
            .len(),
        0
    );
}

#[tokio::test]
async fn an_outage_spools_in_order_and_the_drain_stores_everything_once() {
    let d = tempfile::tempdir().expect("dir");
    let path = d.path().join("s.jsonl");
    let db = Arc::new(FakeDb::default());
    let mut w = writer(&db, &path, settings());
    w.accept(tick(1)).await;
    db.down.store(true, Ordering::SeqCst);
    for i in 2..=8 {
        w.accept(tick(i)).await;
    }
    assert_eq!(w.status.borrow().breaker, Breaker::Open);
    assert_eq!(
        crate::greeks::spool::status(&path)
            .expect("status")
            .expect("spool")
            .rows,
        7 + 1,
        "seven ticks and the 'opened' event"
    );
    w.drain().await;
    assert_eq!(
        w.status.borrow().breaker,
        Breaker::Open,
        "still down: nothing drained"
    );
    db.down.store(false, Ordering::SeqCst);
    w.drain().await;
    assert_eq!(w.status.borrow().breaker, Breaker::Closed);
    assert_eq!(db.ticks(), (1..=8).collect::<Vec<_>>());
    w.accept(tick(9)).await;
    assert_eq!(db.ticks().last(), Some(&9));
    let log = db.log_messages();
    assert!(
        log.iter().any(|m| m.contains("circuit breaker opened")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|m| m.starts_with("drain attempted")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|m| m.contains("drained: circuit breaker closed")),
        "{log:?}"
    );
    assert_eq!(
        crate::greeks::spool::status(&path)
            .expect("status")
            .expect("spool")
            .rows,
        0
    );
}

#[tokio::test]
async fn a_commit_whose_acknowledgement_is_lost_is_stored_once() {
    let d = tempfile::tempdir().expect("dir");
    let db = Arc::new(FakeDb::default());
    let mut w = writer(&db, &d.path().join("s.jsonl"), settings());
    db.lose_next_ack.store(true, Ordering::SeqCst);
    w.accept(tick(1)).await;
    assert_eq!(
        w.status.borrow().breaker,
        Breaker::Open,
        "the writer heard a failure"
    );
    w.drain().await;
    assert_eq!(db.ticks(), [1], "the replay was deduplicated");
}

#[tokio::test]
async fn a_restart_drains_what_the_last_run_left_before_anything_new() {
    let d = tempfile::tempdir().expect("dir");
    let path = d.path().join("s.jsonl");
    let db = Arc::new(FakeDb::default());
    db.down.store(true, Ordering::SeqCst);
    let mut first = writer(&db, &path, settings());
    for i in 1..=4 {
        first.accept(tick(i)).await;
    }
    drop(first);
    db.down.store(false, Ordering::SeqCst);
    let mut second = writer(&db, &path, settings());
    assert_eq!(
        second.status.borrow().breaker,
        Breaker::Open,
        "a spool with records opens the breaker"
    );
    second.accept(tick(5)).await;
    assert_eq!(db.ticks(), Vec::<i64>::new(), "nothing jumps the queue");
    second.drain().await;
    assert_eq!(db.ticks(), [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn an_unwritable_spool_keeps_records_in_memory_up_to_its_limit() {
    let db = Arc::new(FakeDb::default());
    let limit = WriterSettings {
        memory_limit: 4,
        ..settings()
    };
    let mut w = writer(&db, Path::new("/nonexistent-dir/s.jsonl"), limit);
    db.down.store(true, Ordering::SeqCst);
    for i in 1..=6 {
        w.accept(tick(i)).await;
    }
    let status = w.status.borrow().clone();
    assert_eq!(status.in_memory, 4);
    assert!(status.dropped >= 2, "{status:?}");
    db.down.store(false, Ordering::SeqCst);
    w.drain().await;
    let ticks = db.ticks();
    assert!(
        ticks.ends_with(&[5, 6]) && ticks.windows(2).all(|w| w[0] < w[1]),
        "the newest survive, in order: {ticks:?}"
    );
    assert_eq!(w.status.borrow().breaker, Breaker::Closed);
}

#[derive(Debug, Clone)]
enum Op {
    Tick,
    DatabaseDown,
    DatabaseUp,
    LoseNextAck,
    Crash,
    Drain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Tick),
        1 => Just(Op::DatabaseDown),
        1 => Just(Op::DatabaseUp),
        1 => Just(Op::LoseNextAck),
        1 => Just(Op::Crash),
        2 => Just(Op::Drain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever happens between them, every tick ends up stored exactly once, in order.
    #[test]
    fn every_tick_is_stored_once_in_order(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async {
            let d = tempfile::tempdir().expect("dir");
            let path = d.path().join("s.jsonl");
            let db = Arc::new(FakeDb::default());
            let mut w = writer(&db, &path, settings());
            let mut produced = 0;
            for op in ops {
                match op {
                    Op::Tick => {
                        produced += 1;
                        w.accept(tick(produced)).await;
                    }
                    Op::DatabaseDown => db.down.store(true, Ordering::SeqCst),
                    Op::DatabaseUp => db.down.store(false, Ordering::SeqCst),
                    Op::LoseNextAck => db.lose_next_ack.store(true, Ordering::SeqCst),
                    Op::Crash => {
                        drop(w);
                        w = writer(&db, &path, settings());
                    }
                    Op::Drain => w.drain().await,
                }
            }
            db.down.store(false, Ordering::SeqCst);
            db.lose_next_ack.store(false, Ordering::SeqCst);
            w.drain().await;
            w.accept(Vec::new()).await;
            prop_assert_eq!(db.ticks(), (1..=produced).collect::<Vec<_>>());
            prop_assert_eq!(w.status.borrow().breaker, Breaker::Closed);
            Ok(())
        })?;
    }
}
