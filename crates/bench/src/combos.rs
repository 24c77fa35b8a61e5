//! Combo sync and the spreads API over 10,000 combos with 20,000 legs in 5 accounts.
//!
//! - Combo sync: a `portfolio-bridge worker` runs `combo_positions.sync` against ibkr-sim with
//!   prices still; the first sync into an empty database, then an unchanged re-sync. The
//!   figure is the job's own `duration_ms`; the rows it wrote come from its result.
//! - Spreads API: `portfolio-bridge run` over that database; 50 connections request
//!   `GET /api/v1/spreads?limit=100` as fast as answers come, then `GET /healthz` the same way.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::Env;
use crate::procs::{
    Proc, bridge_env, fresh_database, run_bridge, start_bridge, start_sim, tempdir,
};
use crate::report::Figure;
use crate::scenarios;
use crate::stats::{median, percentile};

const ACCOUNTS: usize = 5;
const COMBOS: usize = 10_000;
const CONNECTIONS: usize = 50;
const LOAD: Duration = Duration::from_secs(5);
const WARM_UP: Duration = Duration::from_secs(1);

/// Enqueues `combo_positions.sync`, waits for `worker` to log its end, and reads its result.
async fn sync(env: &Env, url: &str, worker: &mut Proc) -> anyhow::Result<Value> {
    let vars = vec![("DATABASE_URL".to_owned(), url.to_owned())];
    run_bridge(env, &["jobs", "enqueue", "combo_positions.sync"], &vars).await?;
    let end = worker
        .next_line(
            |l| l.contains("job completed") || l.contains("job failed"),
            Duration::from_secs(300),
        )
        .await?;
    anyhow::ensure!(end.contains("job completed"), "the sync failed: {end}");
    let mut conn = PgConnection::connect(url).await?;
    let result: Option<Value> = sqlx::query_scalar(
        "SELECT result FROM jobs WHERE job_type = 'combo_positions.sync' AND status = 'completed' \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await?;
    result.context("a completed job has a result")
}

fn written(result: &Value) -> i64 {
    [
        "inserted",
        "updated",
        "legs_written",
        "legs_removed",
        "marked_stale",
    ]
    .iter()
    .map(|k| result[k].as_i64().unwrap_or(0))
    .sum()
}

/// Latencies (ms) of requests to `url` from `CONNECTIONS` connections for `LOAD`, and how
/// many answered something other than 200.
async fn load(url: &str) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut tasks = Vec::new();
    let warm_until = Instant::now() + WARM_UP;
    let until = warm_until + LOAD;
    for _ in 0..CONNECTIONS {
        let url = url.to_owned();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut bad) = (Vec::new(), 0usize);
            while Instant::now() < until {
                let started = Instant::now();
                let ok = match client.get(&url).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if started >= warm_until {
                    latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                    bad += usize::from(!ok);
                }
            }
            (latencies, bad)
        }));
    }
    let (mut all, mut bad) = (Vec::new(), 0);
    for t in tasks {
        let (l, b) = t.await?;
        all.extend(l);
        bad += b;
    }
    Ok((all, bad))
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Figure>> {
    let scenario = scenarios::combos(ACCOUNTS, COMBOS);
    let (mut first, mut again, mut again_rows) = (Vec::new(), Vec::new(), Vec::new());
    let (mut spreads_p99, mut health_p99, mut spreads_rps, mut bad_total) =
        (Vec::new(), Vec::new(), Vec::new(), 0);
    let mut legs_seen = 0;
    for run in 0..env.runs {
        eprintln!("combos: run {} of {}", run + 1, env.runs);
        let url = fresh_database(env, "pb_bench_combos").await?;
        let sim = start_sim(env, &scenario, &["--no-walk"]).await?;
        let dir = tempdir(env, "combos")?;
        run_bridge(env, &["migrate"], &[("DATABASE_URL".into(), url.clone())]).await?;

        let worker_env = bridge_env(&sim, &url, &dir, &[("IBKR_CP_ENABLED", "true")]);
        let mut worker = start_bridge(env, &["worker"], &worker_env, "worker")?;
        worker
            .wait_for_log("worker started", Duration::from_secs(30))
            .await?;
        let result = sync(env, &url, &mut worker).await?;
        first.push(result["duration_ms"].as_f64().context("duration_ms")?);
        legs_seen = result["legs_written"].as_i64().unwrap_or(0);
        let result = sync(env, &url, &mut worker).await?;
        again.push(result["duration_ms"].as_f64().context("duration_ms")?);
        again_rows.push(written(&result) as f64);
        worker.stop().await?;

        let run_env = bridge_env(&sim, &url, &dir, &[("IBKR_CP_ENABLED", "false")]);
        let addr = run_env
            .iter()
            .find(|(k, _)| k == "BRIDGE_HTTP_ADDR")
            .map(|(_, v)| v.clone())
            .context("the address")?;
        let mut bridge = start_bridge(env, &["run"], &run_env, "run")?;
        bridge
            .wait_for_log("portfolio-bridge running", Duration::from_secs(30))
            .await?;
        let (mut spreads, bad) = load(&format!("http://{addr}/api/v1/spreads?limit=100")).await?;
        bad_total += bad;
        spreads_rps.push(spreads.len() as f64 / LOAD.as_secs_f64());
        spreads_p99.push(percentile(&mut spreads, 99.0));
        let (mut health, bad) = load(&format!("http://{addr}/healthz")).await?;
        bad_total += bad;
        health_p99.push(percentile(&mut health, 99.0));
        bridge.stop().await?;
        sim.proc.stop().await?;
    }
    let (first_ms, again_ms) = (median(&first), median(&again));
    let (sp99, hp99) = (median(&spreads_p99), median(&health_p99));
    let again_written = median(&again_rows);
    Ok(vec![
        Figure {
            what: "Combo sync, first",
            value: first_ms,
            unit: "ms",
            reference: None,
            target: "< 2 s",
            met: Some(first_ms < 2000.0),
            runs: first,
            note: format!(
                "`combo_positions.sync` of {COMBOS} combos ({legs_seen} legs) in {ACCOUNTS} accounts from \
                 ibkr-sim's Client Portal (HTTPS) into an empty database; the job's own duration_ms."
            ),
        },
        Figure {
            what: "Combo sync, unchanged re-sync",
            value: again_ms,
            unit: "ms",
            reference: None,
            target: "< 1 s writing 0 rows",
            met: Some(again_ms < 1000.0 && again_written == 0.0),
            runs: again,
            note: format!(
                "The same sync again with prices still: rows written (median) {again_written}."
            ),
        },
        Figure {
            what: "Spreads API p99",
            value: sp99,
            unit: "ms",
            reference: Some(("GET /healthz p99", hp99)),
            target: "p99 < 20 ms",
            met: Some(sp99 < 20.0),
            runs: spreads_p99,
            note: format!(
                "`GET /api/v1/spreads?limit=100` over {COMBOS} combos, {CONNECTIONS} keep-alive connections \
                 for {} s after {} s of warm-up, the load generator on the same 2 cores as the bridge and \
                 PostgreSQL; throughput {:.0} requests/s (median); {bad_total} answers other than 200.",
                LOAD.as_secs(),
                WARM_UP.as_secs(),
                median(&spreads_rps)
            ),
        },
    ])
}
