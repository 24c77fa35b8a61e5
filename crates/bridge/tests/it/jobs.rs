//! The job queue and the sync jobs against a real PostgreSQL and ibkr-sim: workers racing for
//! jobs, leases that run out, retries, and `combo_positions.sync` / `positions.sync` from the
//! simulator's accounts into the tables — in process, and through the real binary.

use std::sync::Arc;
use std::time::Duration;

use ibkr_sim::cp::{Fault, FaultKind};
use ibkr_sim::scenario::{ComboLegSpec, ComboSpec};
use portfolio_bridge::Shutdown;
use portfolio_bridge::domain::ids::BridgeName;
use portfolio_bridge::jobs::combo_sync::ComboSync;
use portfolio_bridge::jobs::worker::{Ran, Worker, WorkerSettings};
use portfolio_bridge::jobs::{Handler, JobError, JobFuture};
use portfolio_bridge::store::jobs::{self, Claimed, Dedup, Enqueued, NewJob};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Bridge, client, database_url_of, eventually, sim_config, start_sim, stop, within,
};

/// Records each run in `processed`, whose primary key catches a job run twice.
struct Record {
    pool: PgPool,
    worker: String,
}

impl Handler for Record {
    fn job_type(&self) -> &'static str {
        "test.record"
    }

    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(async move {
            sqlx::query("INSERT INTO processed (job_id, worker) VALUES ($1, $2)")
                .bind(job.id)
                .bind(&self.worker)
                .execute(&self.pool)
                .await
                .map_err(|e| JobError::permanent(format!("ran twice? {e}")))?;
            Ok(json!({"by": self.worker}))
        })
    }
}

/// Always fails, transiently or for good.
struct Failing {
    transient: bool,
}

impl Handler for Failing {
    fn job_type(&self) -> &'static str {
        "test.failing"
    }

    fn run<'a>(&'a self, _job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(async move {
            Err(match self.transient {
                true => JobError::transient("the gateway is away"),
                false => JobError::permanent("Re-auth required: log in"),
            })
        })
    }
}

fn fast() -> WorkerSettings {
    WorkerSettings {
        idle_poll: Duration::from_millis(10),
        retry_base: Duration::ZERO,
        ..WorkerSettings::default()
    }
}

async fn processed_table(pool: &PgPool) {
    sqlx::query("CREATE TABLE processed (job_id INTEGER PRIMARY KEY, worker TEXT NOT NULL)")
        .execute(pool)
        .await
        .expect("processed");
}

fn record_worker(pool: &PgPool, name: &str) -> Worker {
    let handler = Record {
        pool: pool.clone(),
        worker: name.to_owned(),
    };
    Worker::new(
        pool.clone(),
        name.to_owned(),
        vec![Arc::new(handler)],
        fast(),
    )
}

fn allow(job_type: &str) -> NewJob {
    NewJob {
        dedup: Dedup::Allow,
        ..NewJob::new(job_type, "test")
    }
}

async fn job(pool: &PgPool, id: i32) -> jobs::JobRow {
    jobs::get(pool, id).await.expect("get").expect("the job")
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// Polls `sql` (a count) until it reaches `want`.
async fn until_count(pool: &PgPool, sql: &'static str, want: i64) {
    within(sql, async {
        while count(pool, sql).await != want {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[sqlx::test]
async fn four_concurrent_workers_run_each_of_many_jobs_exactly_once(pool: PgPool) {
    processed_table(&pool).await;
    for _ in 0..200 {
        jobs::enqueue(&pool, &allow("test.record"))
            .await
            .expect("enqueue");
    }
    let (stop_all, shutdown) = Shutdown::new();
    let workers: Vec<_> = (1..=4)
        .map(|n| tokio::spawn(record_worker(&pool, &format!("w{n}")).run(shutdown.clone())))
        .collect();
    until_count(
        &pool,
        "SELECT count(*) FROM jobs WHERE status = 'completed'",
        200,
    )
    .await;
    stop_all.send_replace(true);
    for w in workers {
        w.await.expect("worker");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM processed").await, 200);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM jobs WHERE attempts <> 1").await,
        0,
        "no job was claimed twice"
    );
    let busy = count(&pool, "SELECT count(DISTINCT worker) FROM processed").await;
    assert!(busy >= 2, "the work was shared, by {busy} workers");
}

#[sqlx::test]
async fn at_most_one_job_per_type_is_queued_or_running_unless_asked(pool: PgPool) {
    processed_table(&pool).await;
    let first = jobs::enqueue(&pool, &NewJob::new("test.record", "test"))
        .await
        .expect("enqueue");
    let Enqueued::Created(id) = first else {
        panic!("{first:?}")
    };
    // Beside the existing application's worker, whose job list shows it, it says whose it is.
    let note: Option<String> = sqlx::query_scalar("SELECT request_text FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("request_text");
    assert_eq!(note.as_deref(), Some(jobs::REQUEST_TEXT));
    let again = jobs::enqueue(&pool, &NewJob::new("test.record", "test"))
        .await
        .expect("enqueue");
    assert_eq!(again, Enqueued::AlreadyActive(id));
    let extra = jobs::enqueue(&pool, &allow("test.record"))
        .await
        .expect("enqueue");
    assert!(matches!(extra, Enqueued::Created(other) if other != id));

    let worker = record_worker(&pool, "w1");
    let (_stop, mut shutdown) = Shutdown::new();
    assert!(matches!(
        worker.step(&mut shutdown).await.expect("step"),
        Some(Ran::Completed(_))
    ));
    let after = jobs::enqueue(&pool, &NewJob::new("test.record", "test"))
        .await
        .expect("enqueue");
    assert!(
        matches!(after, Enqueued::Created(new) if new != id),
        "once it ran, the type is free again: {after:?}"
    );
}

/// Two bridges on one database: each keeps its own scheduled job queued (the dedup is per
/// bridge), and a bridge's worker runs its own jobs and those for nobody in particular, never
/// the other bridge's, which are about a gateway and accounts it cannot reach.
#[sqlx::test]
async fn each_bridge_runs_its_own_jobs_and_jobs_for_anybody(pool: PgPool) {
    processed_table(&pool).await;
    let name = |n: &str| BridgeName::parse(n).expect("valid");
    let (home, family) = (name("home"), name("family"));
    let for_home = NewJob::new("test.record", "scheduler").for_bridge(&home);
    let for_family = NewJob::new("test.record", "scheduler").for_bridge(&family);
    let mut ids = Vec::new();
    for job in [
        &for_home,
        &for_family,
        &NewJob::new("test.record", "another program"),
    ] {
        match jobs::enqueue(&pool, job).await.expect("enqueue") {
            Enqueued::Created(id) => ids.push(id),
            other => panic!("one of each bridge's and one for anybody: {other:?}"),
        }
    }
    assert_eq!(
        jobs::enqueue(&pool, &for_home).await.expect("enqueue"),
        Enqueued::AlreadyActive(ids[0]),
        "home's is queued already"
    );
    assert_eq!(job(&pool, ids[1]).await.bridge.as_deref(), Some("family"));

    let worker = Worker::new(
        pool.clone(),
        "home-1".to_owned(),
        vec![Arc::new(Record {
            pool: pool.clone(),
            worker: "home-1".to_owned(),
        })],
        WorkerSettings {
            bridge: home,
            ..fast()
        },
    );
    let (_stop, mut shutdown) = Shutdown::new();
    for _ in 0..2 {
        assert!(matches!(
            worker.step(&mut shutdown).await.expect("step"),
            Some(Ran::Completed(_))
        ));
    }
    assert!(
        worker.step(&mut shutdown).await.expect("step").is_none(),
        "family's job is not home's to run"
    );
    let ran: Vec<i32> = sqlx::query_scalar("SELECT job_id FROM processed ORDER BY job_id")
        .fetch_all(&pool)
        .await
        .expect("processed");
    assert_eq!(ran, [ids[0], ids[2]]);
    assert_eq!(job(&pool, ids[1]).await.status, "queued");
}

#[sqlx::test]
async fn an_expired_lease_is_picked_up_again_and_the_dead_worker_cannot_finish_it(pool: PgPool) {
    processed_table(&pool).await;
    let Enqueued::Created(id) = jobs::enqueue(&pool, &allow("test.record"))
        .await
        .expect("enqueue")
    else {
        panic!("created")
    };
    // A worker claims it and dies at once: its lease is already over.
    let bridge = WorkerSettings::default().bridge;
    let claimed = jobs::claim(&pool, "dead", &bridge, &["test.record"], Duration::ZERO)
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.id, id);

    let (_stop, mut shutdown) = Shutdown::new();
    let ran = record_worker(&pool, "alive")
        .step(&mut shutdown)
        .await
        .expect("step");
    assert_eq!(ran, Some(Ran::Completed(json!({"by": "alive"}))));
    let row = job(&pool, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("completed", 2));
    assert!(
        !jobs::complete(&pool, id, "dead", &json!({}))
            .await
            .expect("complete"),
        "a reaped lease is no longer the dead worker's"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM processed").await, 1);
}

#[sqlx::test]
async fn retries_stop_at_the_maximum_and_a_permanent_error_is_not_retried(pool: PgPool) {
    let failing = |transient| {
        Worker::new(
            pool.clone(),
            "w".into(),
            vec![Arc::new(Failing { transient })],
            fast(),
        )
    };
    let (_stop, mut shutdown) = Shutdown::new();
    let Enqueued::Created(id) = jobs::enqueue(&pool, &NewJob::new("test.failing", "test"))
        .await
        .expect("enqueue")
    else {
        panic!("created")
    };
    let worker = failing(true);
    let mut outcomes = Vec::new();
    while let Some(ran) = worker.step(&mut shutdown).await.expect("step") {
        outcomes.push(ran);
    }
    assert_eq!(
        outcomes,
        [
            Ran::Retry("the gateway is away".into()),
            Ran::Retry("the gateway is away".into()),
            Ran::Failed("the gateway is away".into()),
        ]
    );
    let row = job(&pool, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
    assert_eq!(row.last_error.as_deref(), Some("the gateway is away"));

    let Enqueued::Created(id) = jobs::enqueue(&pool, &NewJob::new("test.failing", "test"))
        .await
        .expect("enqueue")
    else {
        panic!("created")
    };
    let ran = failing(false).step(&mut shutdown).await.expect("step");
    assert_eq!(ran, Some(Ran::Failed("Re-auth required: log in".into())));
    assert_eq!(job(&pool, id).await.attempts, 1, "no second attempt");
}

#[sqlx::test]
async fn a_long_job_keeps_its_lease_while_its_worker_lives(pool: PgPool) {
    /// Works for three leases' time.
    struct Slow;
    impl Handler for Slow {
        fn job_type(&self) -> &'static str {
            "test.slow"
        }
        fn run<'a>(&'a self, _job: &'a Claimed) -> JobFuture<'a> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                Ok(json!("done"))
            })
        }
    }
    let short = WorkerSettings {
        lease: Duration::from_secs(1),
        ..fast()
    };
    let slow = |name: &str| {
        Worker::new(
            pool.clone(),
            name.into(),
            vec![Arc::new(Slow)],
            short.clone(),
        )
    };
    let Enqueued::Created(id) = jobs::enqueue(&pool, &NewJob::new("test.slow", "test"))
        .await
        .expect("enqueue")
    else {
        panic!("created")
    };
    let (_stop, shutdown) = Shutdown::new();
    let holder = slow("holder");
    let mut own = shutdown.clone();
    let running = tokio::spawn(async move { holder.step(&mut own).await });
    until_count(
        &pool,
        "SELECT count(*) FROM jobs WHERE locked_by = 'holder'",
        1,
    )
    .await;
    // Another worker reaps and claims all the while; the renewed lease never runs out.
    let other = slow("other");
    let mut theirs = shutdown.clone();
    while !running.is_finished() {
        assert_eq!(other.step(&mut theirs).await.expect("step"), None);
    }
    let ran = running.await.expect("join").expect("step");
    assert_eq!(ran, Some(Ran::Completed(json!("done"))));
    assert_eq!(job(&pool, id).await.attempts, 1);
}

#[sqlx::test]
async fn a_stopping_worker_hands_its_job_back(pool: PgPool) {
    struct Forever;
    impl Handler for Forever {
        fn job_type(&self) -> &'static str {
            "test.forever"
        }
        fn run<'a>(&'a self, _job: &'a Claimed) -> JobFuture<'a> {
            Box::pin(std::future::pending())
        }
    }
    let Enqueued::Created(id) = jobs::enqueue(&pool, &NewJob::new("test.forever", "test"))
        .await
        .expect("enqueue")
    else {
        panic!("created")
    };
    let worker = Worker::new(pool.clone(), "w".into(), vec![Arc::new(Forever)], fast());
    let (stop_all, mut shutdown) = Shutdown::new();
    let step = tokio::spawn(async move { worker.step(&mut shutdown).await });
    until_count(
        &pool,
        "SELECT count(*) FROM jobs WHERE status = 'running'",
        1,
    )
    .await;
    stop_all.send_replace(true);
    assert_eq!(
        step.await.expect("join").expect("step"),
        Some(Ran::Released)
    );
    let row = job(&pool, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("queued", 0));
}

// ---- combo_positions.sync --------------------------------------------------------------

async fn combo_sync(pool: &PgPool, sim: &ibkr_sim::Simulator) -> ComboSync {
    ComboSync {
        pool: pool.clone(),
        client: client(sim).await,
    }
}

/// `(account, combo_key, stale, legs as "conid:ratio" sorted)` of every stored combo.
async fn stored_combos(pool: &PgPool) -> Vec<(String, String, bool, Vec<String>)> {
    sqlx::query_as(
        "SELECT a.account, c.combo_key, c.stale_at IS NOT NULL,
                array_agg(l.con_id || ':' || l.ratio ORDER BY l.con_id)
           FROM combo_positions c
           JOIN accounts a ON a.id = c.account_id
           JOIN combo_position_legs l ON l.combo_position_id = c.id
          GROUP BY a.account, c.combo_key, c.stale_at
          ORDER BY a.account, c.combo_key",
    )
    .fetch_all(pool)
    .await
    .expect("combos")
}

fn metric(result: &Value, name: &str) -> u64 {
    result[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {result}"))
}

#[sqlx::test]
async fn a_spread_opened_as_a_combo_appears_as_one_spread_with_linked_legs_for_each_account(
    pool: PgPool,
) {
    let sim = start_sim(sim_config()).await;
    sim.control().world().freeze(true);
    let sync = combo_sync(&pool, &sim).await;
    let first = sync.sync().await.expect("sync");
    assert_eq!(metric(&first, "accounts"), 2);
    assert_eq!(metric(&first, "inserted"), 3);
    assert_eq!(metric(&first, "legs_written"), 6);
    let before = stored_combos(&pool).await;
    let accounts: Vec<&str> = before.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(accounts, ["DU1234567", "DU1234567", "DU7654321"]);

    let name = sim
        .control()
        .world()
        .open_combo(ComboSpec {
            account: "DU7654321".into(),
            name: None,
            quantity: 2.0,
            legs: vec![
                ComboLegSpec {
                    conid: 810000004,
                    ratio: 1,
                    avg_price: 72.9,
                },
                ComboLegSpec {
                    conid: 810000002,
                    ratio: -1,
                    avg_price: 72.3,
                },
            ],
        })
        .expect("open");
    let second = sync.sync().await.expect("sync");
    assert_eq!(metric(&second, "inserted"), 1);
    let after = stored_combos(&pool).await;
    let new: Vec<_> = after.iter().filter(|c| !before.contains(c)).collect();
    assert_eq!(
        new,
        [&(
            "DU7654321".to_owned(),
            "DU7654321|810000002:-1,810000004:1".to_owned(),
            false,
            vec!["810000002:-1".to_owned(), "810000004:1".to_owned()]
        )],
        "one spread, its two legs linked"
    );
    let (stored_name, position, legs_position): (Option<String>, Option<f64>, Vec<f64>) =
        sqlx::query_as(
            "SELECT c.name, c.position, array_agg(l.position ORDER BY l.con_id)
               FROM combo_positions c JOIN combo_position_legs l ON l.combo_position_id = c.id
              WHERE c.combo_key = 'DU7654321|810000002:-1,810000004:1'
              GROUP BY c.name, c.position",
        )
        .fetch_one(&pool)
        .await
        .expect("the new combo");
    assert_eq!(stored_name, Some(name));
    assert_eq!(position, Some(2.0));
    assert_eq!(legs_position, [-2.0, 2.0]);
}

#[sqlx::test]
async fn re_running_the_sync_is_idempotent_and_writes_nothing(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    sim.control().world().freeze(true);
    let sync = combo_sync(&pool, &sim).await;
    sync.sync().await.expect("first");
    let snapshot = "SELECT count(*)::text || '/' || max(updated_at)::text || '/' ||
                           (SELECT count(*) FROM combo_position_legs)::text || '/' ||
                           (SELECT max(updated_at) FROM combo_position_legs)::text
                      FROM combo_positions";
    let before: String = sqlx::query_scalar(snapshot)
        .fetch_one(&pool)
        .await
        .expect("state");
    let again = sync.sync().await.expect("second");
    for (name, want) in [
        ("inserted", 0),
        ("updated", 0),
        ("unchanged", 3),
        ("marked_stale", 0),
        ("legs_written", 0),
        ("legs_removed", 0),
        ("combos_seen", 3),
    ] {
        assert_eq!(metric(&again, name), want, "{name} in {again}");
    }
    let after: String = sqlx::query_scalar(snapshot)
        .fetch_one(&pool)
        .await
        .expect("state");
    assert_eq!(before, after, "row counts and updated_at unchanged");
    // Syncing known accounts takes no sequence value: ids stay 1, 2 for the next account.
    let last: i64 = sqlx::query_scalar(
        "SELECT last_value FROM pg_sequences
          WHERE sequencename = (SELECT split_part(pg_get_serial_sequence('accounts', 'id'), '.', 2))",
    )
    .fetch_one(&pool)
    .await
    .expect("the accounts sequence");
    assert_eq!(last, 2, "sequence values burned by syncs of known accounts");
}

/// `(combo_key, combo updated_at, its legs' updated_at)` of every stored combo, as text: what
/// a sync that writes a row changes.
async fn combo_stamps(pool: &PgPool) -> Vec<(String, String, Vec<String>)> {
    sqlx::query_as(
        "SELECT c.combo_key, c.updated_at::text,
                array_agg(l.con_id || '@' || l.updated_at::text ORDER BY l.con_id)
           FROM combo_positions c JOIN combo_position_legs l ON l.combo_position_id = c.id
          GROUP BY c.combo_key, c.updated_at
          ORDER BY c.combo_key",
    )
    .fetch_all(pool)
    .await
    .expect("stamps")
}

fn metrics(result: &Value, want: &[(&str, u64)]) {
    for (name, want) in want {
        assert_eq!(metric(result, name), *want, "{name} in {result}");
    }
}

#[sqlx::test]
async fn a_combo_changed_at_the_gateway_is_written_and_only_it(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let world = sim.control().world();
    world.freeze(true);
    let sync = combo_sync(&pool, &sim).await;
    sync.sync().await.expect("first");
    let before = combo_stamps(&pool).await;
    let again = sync.sync().await.expect("unchanged");
    metrics(
        &again,
        &[("rows_written", 0), ("hashes_stored", 0), ("unchanged", 3)],
    );
    assert_eq!(combo_stamps(&pool).await, before);

    // One more spread of the same combo: its position and values change, nothing else does.
    let mut spec = world
        .scenario()
        .combos
        .iter()
        .find(|c| c.account == "DU1234567")
        .cloned()
        .expect("a combo in the scenario");
    spec.quantity += 1.0;
    world.open_combo(spec.clone()).expect("the combo grows");
    let changed = sync.sync().await.expect("changed");
    metrics(
        &changed,
        &[
            ("inserted", 0),
            ("updated", 1),
            ("unchanged", 2),
            ("legs_written", 2),
            ("legs_removed", 0),
            ("hashes_stored", 0),
            ("marked_stale", 0),
            ("rows_written", 3),
        ],
    );
    let after = combo_stamps(&pool).await;
    let moved: Vec<&String> = after
        .iter()
        .zip(&before)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| &a.0)
        .collect();
    let key = "DU1234567|810000001:-1,810000002:1";
    assert_eq!(
        moved,
        [key],
        "only the changed combo and its legs are written"
    );
    assert!(
        after
            .iter()
            .zip(&before)
            .all(|(a, b)| a.0 != key || (a.1 != b.1 && a.2.iter().zip(&b.2).all(|(x, y)| x != y))),
        "the combo's row and both its legs: {before:?} → {after:?}"
    );
    let position: Option<f64> =
        sqlx::query_scalar("SELECT position FROM combo_positions WHERE combo_key = $1")
            .bind(key)
            .fetch_one(&pool)
            .await
            .expect("the combo");
    assert_eq!(position, Some(spec.quantity));
    metrics(
        &sync.sync().await.expect("after the change"),
        &[("rows_written", 0)],
    );
}

#[sqlx::test]
async fn combos_stored_without_a_hash_get_it_once_and_nothing_else(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    sim.control().world().freeze(true);
    let sync = combo_sync(&pool, &sim).await;
    sync.sync().await.expect("first");
    // As rows written before migration 0007 (or by another program) are.
    sqlx::query("UPDATE combo_positions SET content_hash = NULL")
        .execute(&pool)
        .await
        .expect("hashes dropped");
    let before = combo_stamps(&pool).await;
    let rehashed = sync.sync().await.expect("compared in full");
    metrics(
        &rehashed,
        &[
            ("updated", 0),
            ("unchanged", 3),
            ("legs_written", 0),
            ("hashes_stored", 3),
            ("rows_written", 3),
        ],
    );
    assert_eq!(
        combo_stamps(&pool).await,
        before,
        "the stored content is unchanged, and so is updated_at"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM combo_positions WHERE content_hash IS NULL"
        )
        .await,
        0
    );
    metrics(&sync.sync().await.expect("again"), &[("rows_written", 0)]);
}

#[sqlx::test]
async fn a_combo_table_altered_under_a_running_bridge_fails_the_sync_for_good_saying_what(
    pool: PgPool,
) {
    let sim = start_sim(sim_config()).await;
    let sync = combo_sync(&pool, &sim).await;
    sync.sync().await.expect("first");
    sqlx::query("ALTER TABLE combo_positions DROP COLUMN stale_at")
        .execute(&pool)
        .await
        .expect("alter");
    let err = sync
        .sync()
        .await
        .expect_err("the table cannot serve the sync");
    assert!(!err.is_transient(), "retried as if it could pass: {err}");
    let text = err.to_string();
    assert!(
        text.contains("column combo_positions.stale_at is missing")
            && text.contains("portfolio-bridge migrate"),
        "{text}"
    );
}

#[sqlx::test]
async fn a_combo_closed_at_the_gateway_becomes_stale_and_keeps_its_legs(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let world = sim.control().world();
    world.freeze(true);
    let sync = combo_sync(&pool, &sim).await;
    sync.sync().await.expect("first");
    let name = world
        .combos("DU7654321", jiff::Timestamp::now())
        .pop()
        .expect("a combo")
        .name;
    world.close_combo("DU7654321", &name).expect("close");
    let result = sync.sync().await.expect("second");
    assert_eq!(metric(&result, "marked_stale"), 1);
    let stale: Vec<(String, bool, Vec<String>)> = stored_combos(&pool)
        .await
        .into_iter()
        .filter(|c| c.0 == "DU7654321")
        .map(|c| (c.1, c.2, c.3))
        .collect();
    assert_eq!(stale.len(), 1);
    assert!(stale[0].1, "marked stale, kept for audit");
    assert_eq!(stale[0].2.len(), 2, "with its legs");
    let still_current = count(
        &pool,
        "SELECT count(*) FROM combo_positions WHERE stale_at IS NULL",
    )
    .await;
    assert_eq!(still_current, 2, "the other account's combos are current");
    assert_eq!(
        metric(&sync.sync().await.expect("third"), "marked_stale"),
        0,
        "marked once"
    );
}

#[sqlx::test]
async fn an_unauthenticated_session_gives_re_auth_required_and_writes_nothing(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let sync = combo_sync(&pool, &sim).await;
    for logged_out in [
        // The gateway is disconnected from IBKR (its SSO cookie left): only a login helps.
        |sim: &ibkr_sim::Simulator| sim.control().cp().logout(),
        // The SSO session itself expired: every call is refused.
        |sim: &ibkr_sim::Simulator| sim.control().cp().expire(),
    ] {
        logged_out(&sim);
        let err = sync.sync().await.expect_err("not authenticated");
        assert!(!err.is_transient(), "{err:?}");
        let message = err.to_string();
        assert!(
            message
                .starts_with("Re-auth required: log in to the Client Portal Gateway at https://"),
            "{message}"
        );
        for table in [
            "SELECT count(*) FROM combo_positions",
            "SELECT count(*) FROM combo_position_legs",
            "SELECT count(*) FROM accounts",
        ] {
            assert_eq!(count(&pool, table).await, 0, "{table}");
        }
        sim.control().cp().login();
    }
    sync.sync().await.expect("after a login it works");
}

#[sqlx::test]
async fn a_malformed_combo_names_its_account_and_combo_and_nothing_is_written(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let sync = combo_sync(&pool, &sim).await;
    sim.control().cp().add_fault(Fault {
        path: "/portfolio/DU7654321/combo".into(),
        kind: FaultKind::DropField {
            field: "ratio".into(),
        },
        count: None,
    });
    let err = sync.sync().await.expect_err("malformed");
    assert!(!err.is_transient());
    let name = sim
        .control()
        .world()
        .combos("DU7654321", jiff::Timestamp::now())[0]
        .name
        .clone();
    assert_eq!(
        err.to_string(),
        format!("account DU…321, combo {name}: leg 810000003 has no ratio")
    );
    let kept = err.result().expect("the payload is kept").to_string();
    assert!(kept.contains(&name) && kept.contains("810000003"), "{kept}");
    assert!(
        !kept.contains("DU7654321"),
        "the account code is masked: {kept}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM combo_positions").await,
        0,
        "not even the good account's combos: all are read before any is written"
    );
}

// ---- through the binary ----------------------------------------------------------------

#[sqlx::test]
async fn a_standalone_worker_runs_a_combo_sync_enqueued_from_the_command_line(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IBKR_CP_ENABLED", "true")
        .env("IBKR_CP_BASE_URL", &sim.cp_url());
    let enqueued = bridge.run(&["jobs", "enqueue", "combo_positions.sync"]);
    assert_eq!(enqueued.code(), Some(0), "{}", enqueued.stderr());
    assert!(
        enqueued.stdout().starts_with("enqueued job "),
        "{}",
        enqueued.stdout()
    );
    let twice = bridge.run(&["jobs", "enqueue", "combo_positions.sync"]);
    assert!(
        twice.stdout().contains("already queued"),
        "{}",
        twice.stdout()
    );

    let worker = bridge.spawn(&["worker"]);
    until_count(
        &pool,
        "SELECT count(*) FROM jobs WHERE job_type = 'combo_positions.sync' AND status = 'completed'",
        1,
    )
    .await;
    let (status, stderr) = stop(worker, "INT").await;
    assert!(status.success(), "{stderr}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM combo_positions").await,
        3
    );
    let listed = bridge.run(&["jobs", "list"]);
    assert_eq!(listed.code(), Some(0), "{}", listed.stderr());
    let line = listed
        .stdout()
        .lines()
        .find(|l| l.contains("combo_positions.sync"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        line.contains("completed") && line.contains("\"inserted\":3"),
        "{}",
        listed.stdout()
    );

    let unknown = bridge.run(&["jobs", "enqueue", "contracts.sync"]);
    assert_eq!(unknown.code(), Some(2));
    assert!(
        unknown.stderr().contains("combo_positions.sync"),
        "names what is possible: {}",
        unknown.stderr()
    );
}

#[sqlx::test]
async fn a_portal_mode_worker_syncs_positions_read_from_the_client_portal(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IB_API_MODE", "PORTAL")
        .env("IBKR_CP_BASE_URL", &sim.cp_url());
    let enqueued = bridge.run(&["jobs", "enqueue", "positions.sync"]);
    assert_eq!(enqueued.code(), Some(0), "{}", enqueued.stderr());
    let worker = bridge.spawn(&["worker"]);
    until_count(
        &pool,
        "SELECT count(*) FROM jobs WHERE job_type = 'positions.sync' AND status = 'completed'",
        1,
    )
    .await;
    let (status, stderr) = stop(worker, "TERM").await;
    assert!(status.success(), "{stderr}");
    let world = sim.control().world();
    let now = jiff::Timestamp::now();
    let want = (world.legs("DU1234567", now).len() + world.legs("DU7654321", now).len()) as i64;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM positions WHERE source = 'cpapi' AND raw ? 'conid'"
        )
        .await,
        want,
        "every leg of both accounts, each with its Client Portal row"
    );
}

/// A worker with only the database runs `greeks.history` (and says why not the syncs): a job
/// enqueued from the command line rolls up what the writer marked, whichever bridge asks.
#[sqlx::test(migrations = false)]
async fn a_worker_with_only_the_database_runs_the_greeks_history(pool: PgPool) {
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new().env("DATABASE_URL", &url);
    let worker = bridge.spawn(&["worker"]);
    worker
        .wait_for_stderr("this worker runs greeks.history;")
        .await;
    assert!(
        worker.stderr().contains("needs the live TWS feed")
            && worker.stderr().contains("IBKR_CP_ENABLED=true"),
        "{}",
        worker.stderr()
    );
    let at = jiff::Timestamp::now().as_millisecond();
    let rows: Vec<portfolio_bridge::greeks::record::Record> = (0..3)
        .map(|i| {
            let r = crate::helpers::portfolio_row("home", at + i * 5000, i as f64);
            portfolio_bridge::greeks::record::Record::Greeks(r)
        })
        .collect();
    portfolio_bridge::store::greeks::insert_records(&pool, &rows)
        .await
        .expect("written");
    let enqueued = bridge
        .env("BRIDGE_NAME", "another")
        .run_off_runtime(&["jobs", "enqueue", "greeks.history"])
        .await;
    assert_eq!(enqueued.code(), Some(0), "{}", enqueued.stderr());
    let done = "SELECT result FROM jobs WHERE job_type = 'greeks.history' AND status = 'completed'";
    eventually("greeks.history completed", || async {
        sqlx::query(done)
            .fetch_optional(&pool)
            .await
            .expect("jobs")
            .is_some()
    })
    .await;
    let result: Value = sqlx::query_scalar(done)
        .fetch_one(&pool)
        .await
        .expect("the result");
    assert!(
        result["minutes_rolled_up"].as_u64().is_some_and(|n| n >= 1),
        "{result}"
    );
    let rolled: i64 = sqlx::query_scalar("SELECT sum(n_rows)::bigint FROM portfolio_greeks_1m")
        .fetch_one(&pool)
        .await
        .expect("rollups");
    assert_eq!(rolled, 3);
    let (code, stderr) = stop(worker, "TERM").await;
    assert!(code.success(), "{stderr}");
}

#[sqlx::test]
async fn the_bridge_syncs_legs_and_combos_from_the_gateway_and_a_closed_leg_disappears(
    pool: PgPool,
) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let dir = tempfile::tempdir().expect("dir");
    let running = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IB_SOCKET_ADDR", &sim.tws_addr().to_string())
        .env("IBKR_CP_ENABLED", "true")
        .env("IBKR_CP_BASE_URL", &sim.cp_url())
        .env("POSITIONS_SYNC_INTERVAL_SECONDS", "1")
        .env(
            "BRIDGE_BUFFER_PATH",
            dir.path().join("spool.jsonl").to_str().expect("utf-8"),
        )
        .spawn(&["run"]);
    // Both accounts' legs, in the existing application's columns (its /positions keeps
    // working), and the combos the successful positions.sync enqueued.
    let legs = "SELECT count(*) FROM positions p JOIN accounts a ON a.id = p.account_id
                 WHERE p.symbol IS NOT NULL AND p.sec_type IS NOT NULL AND p.fetched_at IS NOT NULL
                   AND p.source = 'tws'";
    let world = sim.control().world();
    let want = (world.legs("DU1234567", jiff::Timestamp::now()).len()
        + world.legs("DU7654321", jiff::Timestamp::now()).len()) as i64;
    until_count(&pool, legs, want).await;
    until_count(
        &pool,
        "SELECT count(*) FROM combo_positions WHERE stale_at IS NULL",
        3,
    )
    .await;
    let (position, avg_cost): (f64, f64) = sqlx::query_as(
        "SELECT p.position, p.avg_cost FROM positions p JOIN accounts a ON a.id = p.account_id
          WHERE a.account = 'DU1234567' AND p.con_id = 265598",
    )
    .fetch_one(&pool)
    .await
    .expect("AAPL");
    assert_eq!((position, avg_cost), (100.0, 221.30));

    world
        .set_position("DU1234567", 265598, 0.0, 0.0)
        .expect("close AAPL");
    until_count(
        &pool,
        "SELECT count(*) FROM positions WHERE con_id = 265598",
        0,
    )
    .await;
    let (status, stderr) = stop(running, "INT").await;
    assert!(status.success(), "{stderr}");
}
