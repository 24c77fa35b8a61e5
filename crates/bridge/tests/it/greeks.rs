//! The greeks series end to end: the real bridge process against ibkr-sim, writing to a
//! PostgreSQL cluster of the test's own that the test stops, starts — and kills the bridge
//! around — to check that every row lands exactly once, in order, on time.

use std::time::Duration;

use portfolio_bridge::greeks::record::{GreeksRecord, RISK_COLUMNS};
use sqlx::PgPool;

use crate::helpers::{
    Bridge, OwnCluster, Spawned, TinyFs, eventually, rows_made, sim_config, spooled_keys,
    start_sim, stop, stored_greeks, stored_once, until_spool_empty, within,
};

/// Ticks every quarter second, drains every half second.
const INTERVAL_MS: i64 = 250;

fn bridge(sim: &ibkr_sim::Simulator, url: &str, spool: &std::path::Path) -> Bridge {
    Bridge::new()
        .env("DATABASE_URL", url)
        .env("IB_SOCKET_ADDR", &sim.tws_addr().to_string())
        .env("GREEKS_INTERVAL_SECONDS", "0.25")
        .env("BUFFER_FLUSH_INTERVAL_SECONDS", "0.5")
        .env("BRIDGE_BUFFER_PATH", spool.to_str().expect("utf-8"))
}

async fn connect(url: &str) -> PgPool {
    within("connect to the test's cluster", async {
        loop {
            if let Ok(pool) = PgPool::connect(url).await {
                return pool;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

/// The tick times (ms) of the stored all-accounts PORTFOLIO rows (one a tick; each account
/// has its own beside it), in the order they were stored.
async fn portfolio_ticks(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar(
        r#"SELECT (extract(epoch FROM "timestamp") * 1000)::bigint FROM portfolio_greeks
            WHERE contract = 'PORTFOLIO' AND account IS NULL ORDER BY id"#,
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}

async fn until_rows(pool: &PgPool, at_least: usize) {
    within("rows in portfolio_greeks", async {
        while portfolio_ticks(pool).await.len() < at_least {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

async fn until_spooled(path: &std::path::Path, at_least: usize) {
    within("records in the spool", async {
        while spooled_keys(path).len() < at_least {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_goes_away_and_comes_back_while_the_ticker_keeps_its_cadence() {
    let sim = start_sim(sim_config()).await;
    let cluster = OwnCluster::new("outage", 31441);
    let url = cluster.start().await;
    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().join("spool.jsonl");
    let b = bridge(&sim, &url, &spool);
    let running = b.spawn(&["run"]);
    let pool = connect(&url).await;
    until_rows(&pool, 6).await;

    cluster.stop().await;
    // The ticks go on, into the spool.
    until_spooled(&spool, 12).await;
    let during = spooled_keys(&spool);
    cluster.start().await;
    until_spool_empty(&spool).await;
    let pool = connect(&url).await;
    let (status, stderr) = stop(running, "INT").await;
    assert!(status.success(), "{stderr}");

    stored_once(&pool, &during).await;
    let ticks = portfolio_ticks(&pool).await;
    assert!(
        ticks.windows(2).all(|w| w[0] < w[1]),
        "stored in tick order: {ticks:?}"
    );
    assert!(
        ticks.iter().all(|t| t % INTERVAL_MS == 0),
        "on the interval boundaries"
    );
    // Every boundary from the first row to the last has its row: the outage did not hold the
    // ticker up. A loaded machine may make the ticker miss a boundary now and then.
    let missing = (ticks.last().expect("rows") - ticks[0]) / INTERVAL_MS + 1 - ticks.len() as i64;
    assert!(
        missing <= 2,
        "{missing} ticks missing out of {}",
        ticks.len()
    );
    let events: Vec<String> =
        sqlx::query_scalar("SELECT message FROM api_logs WHERE api_mode = 'BRIDGE' ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("events");
    assert!(
        events.iter().any(|e| e.contains("circuit breaker opened")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("drained: circuit breaker closed")),
        "{events:#?}"
    );
    assert!(stderr.contains("circuit breaker opened"));
    cluster.stop().await;
}

/// Migrates first, so nothing reaches the spool before the test stops the database, then
/// runs the bridge with `failpoint` armed.
async fn spawn_armed(b: &Bridge, failpoint: &str) -> Spawned {
    let migrated = b.run(&["migrate"]);
    assert_eq!(migrated.code(), Some(0), "{}", migrated.stderr());
    b.spawn_with(&["run"], &[("PORTFOLIO_BRIDGE_FAILPOINT", failpoint)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_append_then_restarted_loses_no_kept_row_and_duplicates_none() {
    let sim = start_sim(sim_config()).await;
    let cluster = OwnCluster::new("kill-append", 31442);
    let url = cluster.start().await;
    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().join("spool.jsonl");
    let b = bridge(&sim, &url, &spool);
    let running = spawn_armed(&b, "spool.mid_append").await;
    let pool = connect(&url).await;
    until_rows(&pool, 4).await;
    cluster.stop().await;
    running
        .wait_for_stderr("failpoint spool.mid_append reached")
        .await;
    running.kill().await;
    let text = std::fs::read_to_string(&spool).expect("spool");
    assert!(
        !text.is_empty() && !text.ends_with('\n'),
        "the kill left a torn line"
    );
    let kept = spooled_keys(&spool);

    cluster.start().await;
    let again = b.spawn(&["run"]);
    again.wait_for_stderr("torn line").await;
    until_spool_empty(&spool).await;
    let pool = connect(&url).await;
    until_rows(&pool, portfolio_ticks(&pool).await.len() + 2).await;
    let (status, stderr) = stop(again, "INT").await;
    assert!(status.success(), "{stderr}");
    stored_once(&pool, &kept).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_a_drain_commit_before_the_spool_is_trimmed_duplicates_nothing() {
    let sim = start_sim(sim_config()).await;
    let cluster = OwnCluster::new("kill-drain", 31443);
    let url = cluster.start().await;
    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().join("spool.jsonl");
    let b = bridge(&sim, &url, &spool);
    let running = spawn_armed(&b, "spool.drain.after_commit").await;
    let pool = connect(&url).await;
    until_rows(&pool, 4).await;
    cluster.stop().await;
    until_spooled(&spool, 8).await;
    cluster.start().await;
    running
        .wait_for_stderr("failpoint spool.drain.after_commit reached")
        .await;
    running.kill().await;
    let kept = spooled_keys(&spool);
    let pool = connect(&url).await;
    let committed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM portfolio_greeks WHERE row_key = ANY($1)")
            .bind(&kept)
            .fetch_one(&pool)
            .await
            .expect("count");
    assert!(committed > 0, "the drain committed before the kill");

    let again = b.spawn(&["run"]);
    until_spool_empty(&spool).await;
    let (status, stderr) = stop(again, "INT").await;
    assert!(status.success(), "{stderr}");
    stored_once(&pool, &kept).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_postgresql_is_down_spools_every_row_it_made() {
    let sim = start_sim(sim_config()).await;
    let cluster = OwnCluster::new("sigterm", 31444);
    let url = cluster.start().await;
    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().join("spool.jsonl");
    let running = bridge(&sim, &url, &spool).spawn(&["run"]);
    let pool = connect(&url).await;
    until_rows(&pool, 4).await;
    pool.close().await;
    cluster.stop().await;
    until_spooled(&spool, 4).await;

    let (status, stderr) = stop(running, "TERM").await;
    assert!(status.success(), "{stderr}");
    let made = rows_made(&stderr);
    cluster.start().await;
    let pool = connect(&url).await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT row_key FROM portfolio_greeks")
        .fetch_all(&pool)
        .await
        .expect("stored rows");
    let spooled = spooled_keys(&spool);
    assert!(
        spooled.iter().all(|k| !stored.contains(k)),
        "a row both stored and spooled"
    );
    assert_eq!(
        stored.len() + spooled.len(),
        made,
        "every row the ticker made is stored or spooled"
    );
    assert!(stderr.contains(", 0 lost"), "{stderr}");
    pool.close().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_during_an_outage_loses_nothing_and_the_breaker_waits_for_the_spool() {
    let Some(fs) = TinyFs::mount(1024) else {
        return;
    };
    let sim = start_sim(sim_config()).await;
    let cluster = OwnCluster::new("full-disk", 31445);
    let url = cluster.start().await;
    let spool = fs.path().join("spool.jsonl");
    let b = bridge(&sim, &url, &spool);
    let migrated = b.run(&["migrate"]);
    assert_eq!(migrated.code(), Some(0), "{}", migrated.stderr());
    cluster.stop().await;

    // PostgreSQL is down: rows go to the spool until the disk is full, then wait in memory.
    let running = b.spawn(&["run"]);
    until_spooled(&spool, 8).await;
    fs.fill();
    running.wait_for_stderr("No space left on device").await;

    cluster.start().await;
    running
        .wait_for_stderr("drained: circuit breaker closed")
        .await;
    assert!(
        spooled_keys(&spool).is_empty(),
        "the breaker closed with records still in the spool"
    );
    let (status, stderr) = stop(running, "TERM").await;
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains(" 0 wait in the spool") && stderr.contains(", 0 lost"),
        "{stderr}"
    );
    let pool = connect(&url).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM portfolio_greeks")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(
        stored as usize,
        rows_made(&stderr),
        "every row, once: {stderr}"
    );
    let ticks = portfolio_ticks(&pool).await;
    assert!(
        ticks.windows(2).all(|w| w[0] < w[1]),
        "stored in tick order, spool and memory alike: {ticks:?}"
    );
    pool.close().await;
}

#[sqlx::test(migrations = false)]
async fn sigterm_stores_every_row_it_made_before_exiting(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = crate::helpers::database_url_of(&pool).await;
    let dir = tempfile::tempdir().expect("dir");
    let spool = dir.path().join("spool.jsonl");
    let running = bridge(&sim, &url, &spool).spawn(&["run"]);
    until_rows(&pool, 3).await;

    let (status, stderr) = stop(running, "TERM").await;
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM portfolio_greeks")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored as usize, rows_made(&stderr), "{stderr}");
    assert!(spooled_keys(&spool).is_empty());
}

/// The figures that add up across accounts, by name; a NULL reads as NaN so that it can never
/// pass for a sum.
fn figures(r: &GreeksRecord) -> Vec<(&'static str, f64)> {
    let mut out = vec![
        ("delta", r.delta),
        ("gamma", r.gamma),
        ("vega", r.vega),
        ("theta", r.theta),
    ];
    out.extend(
        RISK_COLUMNS
            .into_iter()
            .zip(r.risk_figures().map(|x| x.unwrap_or(f64::NAN))),
    );
    out
}

/// The rows of the newest tick whose all-accounts row has dollar figures (every underlying
/// priced) and vega (options' greeks in); none while the bridge has not made the table yet.
async fn newest_priced_tick(pool: &PgPool) -> Vec<GreeksRecord> {
    stored_greeks(
        pool,
        r#"WHERE "timestamp" = (SELECT max("timestamp") FROM portfolio_greeks
                                 WHERE contract = 'PORTFOLIO' AND account IS NULL
                                   AND delta_dollars IS NOT NULL AND vega <> 0)
           ORDER BY account NULLS FIRST, contract"#,
    )
    .await
    .unwrap_or_default()
}

#[sqlx::test(migrations = false)]
async fn each_tick_stores_every_accounts_rows_that_add_up_to_the_all_accounts_rows(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = crate::helpers::database_url_of(&pool).await;
    let dir = tempfile::tempdir().expect("dir");
    let running = bridge(&sim, &url, &dir.path().join("spool.jsonl")).spawn(&["run"]);
    // Stored rows announce nothing: ask until a tick has every underlying priced, moving
    // prices each time so that the options' greeks are sent.
    eventually(
        "a tick with every underlying priced and options counted",
        || async {
            sim.control().world().advance(1);
            !newest_priced_tick(&pool).await.is_empty()
        },
    )
    .await;
    let (status, stderr) = stop(running, "TERM").await;
    assert!(status.success(), "{stderr}");

    let rows = newest_priced_tick(&pool).await;
    let at_ms = rows[0].at_ms;
    let accounts: std::collections::BTreeSet<Option<&str>> = rows
        .iter()
        .map(|r| r.account.as_ref().map(|a| a.as_str()))
        .collect();
    assert_eq!(
        accounts,
        [None, Some("DU1234567"), Some("DU7654321")].into(),
        "every account together, and each of the scenario's accounts"
    );
    for r in &rows {
        let bridge = r.bridge.as_ref().expect("a named bridge's row");
        let key = match &r.account {
            None => format!("{at_ms}@{bridge}:{}", r.contract),
            Some(a) => format!("{at_ms}@{bridge}:{a}:{}", r.contract),
        };
        assert_eq!(r.key, key);
    }

    let all: Vec<&GreeksRecord> = rows.iter().filter(|r| r.account.is_none()).collect();
    assert!(
        all.iter().any(|r| r.contract == "PORTFOLIO") && all.iter().any(|r| r.contract == "CL"),
        "{all:#?}"
    );
    for total in &all {
        let parts: Vec<&GreeksRecord> = rows
            .iter()
            .filter(|r| r.account.is_some() && r.contract == total.contract)
            .collect();
        assert!(!parts.is_empty(), "some account holds {}", total.contract);
        for (i, (name, whole)) in figures(total).into_iter().enumerate() {
            let summed: f64 = parts.iter().map(|r| figures(r)[i].1).sum();
            assert!(
                (whole - summed).abs() <= 1e-6 * whole.abs().max(1.0),
                "{} {name}: {whole} for every account together, {summed} summed over accounts",
                total.contract
            );
        }
        if total.contract != "PORTFOLIO" {
            // Each position is valued at its own month's price, all within a few percent of
            // the front month's.
            let price = total.underlying_price.expect("priced");
            let ratio = total.delta_dollars.expect("priced") / (total.delta * price);
            assert!((ratio - 1.0).abs() < 0.05, "{ratio}: {total:?}");
        }
    }
    // Every option in the scenario has an expiry, so the buckets hold all of the vega.
    let portfolio = all.iter().find(|r| r.contract == "PORTFOLIO").expect("row");
    let buckets: f64 = [
        portfolio.vega_lt30,
        portfolio.vega_30_90,
        portfolio.vega_gt90,
    ]
    .into_iter()
    .map(|v| v.expect("bucketed"))
    .sum();
    assert!(
        (buckets - portfolio.vega).abs() <= 1e-6 * portfolio.vega.abs(),
        "{portfolio:?}"
    );
}
