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
                Record::Greeks(g) => Some(g.delta as i64),
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
    let spool = Spool::open(path).expect("spool");
    Writer::new(db.clone(), spool, settings).expect("writer").0
}

/// A spool that cannot be appended to, as on a full disk: the file is `/dev/full`, whose writes
/// fail with ENOSPC (reads stop at the length the spool knows, 0).
fn full_disk_spool(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("s.jsonl");
    std::os::unix::fs::symlink("/dev/full", &path).expect("symlink");
    path
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
    w.drain(None).await;
    assert_eq!(
        w.status.borrow().breaker,
        Breaker::Open,
        "still down: nothing drained"
    );
    db.down.store(false, Ordering::SeqCst);
    w.drain(None).await;
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
    w.drain(None).await;
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
    second.drain(None).await;
    assert_eq!(db.ticks(), [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn an_unwritable_spool_keeps_records_in_memory_up_to_its_limit() {
    let d = tempfile::tempdir().expect("dir");
    let db = Arc::new(FakeDb::default());
    let limit = WriterSettings {
        memory_limit: 4,
        ..settings()
    };
    let mut w = writer(&db, &full_disk_spool(d.path()), limit);
    db.down.store(true, Ordering::SeqCst);
    for i in 1..=6 {
        w.accept(tick(i)).await;
    }
    let status = w.status.borrow().clone();
    assert_eq!(status.in_memory, 4);
    assert_eq!(status.spooled, 0);
    assert!(status.dropped >= 2, "{status:?}");
    db.down.store(false, Ordering::SeqCst);
    w.drain(None).await;
    let ticks = db.ticks();
    assert!(
        ticks.ends_with(&[5, 6]) && ticks.windows(2).all(|w| w[0] < w[1]),
        "the newest survive, in order: {ticks:?}"
    );
    assert_eq!(w.status.borrow().breaker, Breaker::Closed);
}

#[tokio::test]
async fn a_spool_that_keeps_failing_is_reported_once_not_at_every_tick() {
    let d = tempfile::tempdir().expect("dir");
    let db = Arc::new(FakeDb::default());
    let mut w = writer(&db, &full_disk_spool(d.path()), settings());
    db.down.store(true, Ordering::SeqCst);
    for i in 1..=30 {
        w.accept(tick(i)).await;
    }
    db.down.store(false, Ordering::SeqCst);
    w.drain(None).await;
    let about_the_spool: Vec<String> = db
        .log_messages()
        .into_iter()
        .filter(|m| m.contains("cannot be used") || m.contains("can be written again"))
        .collect();
    assert_eq!(
        about_the_spool.len(),
        1,
        "one line when the trouble began: {about_the_spool:#?}"
    );
    assert!(
        about_the_spool[0].contains("No space left on device"),
        "{about_the_spool:?}"
    );
    assert_eq!(db.ticks(), (1..=30).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_trouble_ends_when_nothing_waits_any_more_and_the_next_one_is_told_again() {
    let d = tempfile::tempdir().expect("dir");
    let db = Arc::new(FakeDb::default());
    let mut w = writer(&db, &full_disk_spool(d.path()), settings());
    let told = |db: &FakeDb, what: &str| {
        db.log_messages()
            .iter()
            .filter(|m| m.contains(what))
            .count()
    };
    db.down.store(true, Ordering::SeqCst);
    w.accept(tick(1)).await;
    db.down.store(false, Ordering::SeqCst);
    // Stored from memory: the spool was never written again, yet nothing needs it now.
    w.drain(None).await;
    assert_eq!(w.status.borrow().breaker, Breaker::Closed);
    // The breaker's events go out with the next records.
    w.accept(Vec::new()).await;
    assert_eq!(told(&db, "no record waits in memory any more"), 1);
    // A second outage on the still full disk is a trouble of its own, told as such.
    db.down.store(true, Ordering::SeqCst);
    w.settings.report_every = Duration::ZERO;
    w.spool_trouble = Episode::new(Duration::ZERO);
    w.accept(tick(2)).await;
    db.down.store(false, Ordering::SeqCst);
    w.drain(None).await;
    w.accept(Vec::new()).await;
    assert_eq!(told(&db, "cannot be used"), 2, "{:#?}", db.log_messages());
}

/// A spool an earlier run left with ticks 1..=`ticks`.
fn left_by_an_earlier_run(path: &Path, ticks: i64) {
    let (mut spool, _) = Spool::open(path).expect("spool");
    let earlier: Vec<Record> = (1..=ticks).flat_map(tick).collect();
    spool.append(&earlier).expect("append");
}

/// A database whose first write waits until the test lets it go (then every write works).
#[derive(Default)]
struct HeldDb {
    db: FakeDb,
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
    held: AtomicBool,
}

impl Sink for HeldDb {
    fn store<'a>(&'a self, records: &'a [Record]) -> super::super::sink::Stored<'a> {
        Box::pin(async move {
            if !self.held.swap(true, Ordering::SeqCst) {
                self.entered.notify_one();
                self.release.notified().await;
            }
            self.db.store(records).await
        })
    }
}

#[tokio::test]
async fn a_drain_under_way_when_the_bridge_stops_finishes_its_batch_and_leaves_the_rest() {
    let d = tempfile::tempdir().expect("dir");
    let path = d.path().join("s.jsonl");
    left_by_an_earlier_run(&path, 30);

    let db = Arc::new(HeldDb::default());
    let (w, status) =
        Writer::new(db.clone(), Spool::open(&path).expect("spool"), settings()).expect("writer");
    let trigger = w.drain_trigger();
    let (tx, rx) = channel();
    let task = tokio::spawn(w.run(rx));
    let entered = db.entered.notified();
    trigger.notify_one();
    entered.await;
    // The bridge stops mid-drain: the batch in flight is finished, the rest left for next time.
    drop(tx);
    db.release.notify_one();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the writer stops without draining everything")
        .expect("join");
    let stored = db.db.ticks();
    assert!(
        !stored.is_empty() && stored.len() < 30,
        "one batch, not the whole spool: {stored:?}"
    );
    assert_eq!(status.borrow().breaker, Breaker::Open);
    let db = Arc::new(FakeDb::default());
    let mut w = writer(&db, &path, settings());
    w.drain(None).await;
    let mut all = stored;
    all.extend(db.ticks());
    all.dedup();
    assert_eq!(
        all,
        (1..=30).collect::<Vec<_>>(),
        "the rest, at the next start"
    );
}

#[tokio::test]
async fn ticks_that_arrive_during_a_long_drain_are_on_disk_before_it_ends() {
    let d = tempfile::tempdir().expect("dir");
    let path = d.path().join("s.jsonl");
    // An earlier run left 20 records: the drain takes a while.
    left_by_an_earlier_run(&path, 20);

    // Its first write is never let go: a long drain, caught in the middle.
    let db = Arc::new(HeldDb::default());
    let (w, mut status) =
        Writer::new(db.clone(), Spool::open(&path).expect("spool"), settings()).expect("writer");
    let trigger = w.drain_trigger();
    let (tx, rx) = channel();
    let task = tokio::spawn(w.run(rx));
    let entered = db.entered.notified();
    trigger.notify_one();
    entered.await;

    // The first batch is being written: a tick arrives and must reach the spool now.
    let before = status.borrow().spooled;
    tx.send(tick(21)).expect("send");
    let spooled = status.wait_for(|s| s.spooled > before);
    tokio::time::timeout(Duration::from_secs(10), spooled)
        .await
        .expect("the tick reaches the spool while the drain is still writing")
        .expect("the writer runs");
    let on_disk = crate::greeks::spool::status(&path)
        .expect("status")
        .expect("spool");
    assert!(on_disk.rows > before, "{on_disk:?}");

    // A crash now (the task is gone mid-write) loses nothing that was handed over.
    task.abort();
    let _ = task.await;
    let db = Arc::new(FakeDb::default());
    let mut w = writer(&db, &path, settings());
    w.drain(None).await;
    assert_eq!(db.ticks(), (1..=21).collect::<Vec<_>>());
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
                    Op::Drain => w.drain(None).await,
                }
            }
            db.down.store(false, Ordering::SeqCst);
            db.lose_next_ack.store(false, Ordering::SeqCst);
            w.drain(None).await;
            w.accept(Vec::new()).await;
            prop_assert_eq!(db.ticks(), (1..=produced).collect::<Vec<_>>());
            prop_assert_eq!(w.status.borrow().breaker, Breaker::Closed);
            Ok(())
        })?;
    }
}
