//! Combo sync and the spreads API over 10,000 combos with 20,000 legs in 5 accounts.
//!
//! - Combo sync: a `portfolio-bridge worker` runs `combo_positions.sync` against ibkr-sim with
//!   prices still; the first sync into an empty database, then an unchanged re-sync, then one
//!   after 1 % of the combos changed in the sim (their quantity, through the control API). The
//!   figure is the job's own `duration_ms`; the rows it wrote come from its result.
//! - Spreads API: `portfolio-bridge run` over that database; 50 connections request
//!   `GET /api/v1/spreads?limit=100` as fast as answers come, then `GET /healthz` the same way.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::Env;
use crate::procs::{
    Proc, Sim, bridge_env, fresh_database, run_bridge, start_bridge, start_sim, tempdir,
};
use crate::report::Figure;
use crate::scenarios;
use crate::stats::{median, percentile};

const ACCOUNTS: usize = 5;
const COMBOS: usize = 10_000;
/// Every `CHANGE_EVERY`-th combo changes between the second and third sync: 1 %.
const CHANGE_EVERY: usize = 100;
const CONNECTIONS: usize = 50;
const LOAD: Duration = Duration::from_secs(5);
/// The gap between the end of one sync and the start of the next. The gateway allows
/// `/portfolio/accounts` once per 5 s, which every sync reads first, and the bridge's pacer
/// holds a call until 5.5 s after the last: a sync enqueued sooner waits out the rest of that
/// window inside its own duration_ms (earlier runs of this benchmark measured 2.5–3.5 s of
/// such waiting in the re-sync). Scheduled syncs are minutes apart.
const GAP: Duration = Duration::from_secs(6);
const WARM_UP: Duration = Duration::from_secs(1);

/// Waits until `GAP` after `previous` (the end of the last sync, if any), enqueues
/// `combo_positions.sync`, waits for `worker` to log its end, and reads its result.
async fn sync(
    env: &Env,
    url: &str,
    worker: &mut Proc,
    previous: &mut Option<Instant>,
) -> anyhow::Result<Value> {
    if let Some(ended) = previous {
        tokio::time::sleep_until((*ended + GAP).into()).await;
    }
    let vars = vec![("DATABASE_URL".to_owned(), url.to_owned())];
    run_bridge(env, &["jobs", "enqueue", "combo_positions.sync"], &vars).await?;
    let end = worker
        .next_line(
            |l| l.contains("job completed") || l.contains("job failed"),
            Duration::from_secs(300),
        )
        .await?;
    anyhow::ensure!(end.contains("job completed"), "the sync failed: {end}");
    *previous = Some(Instant::now());
    let mut conn = PgConnection::connect(url).await?;
    let result: Option<Value> = sqlx::query_scalar(
        "SELECT result FROM jobs WHERE job_type = 'combo_positions.sync' AND status = 'completed' \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await?;
    result.context("a completed job has a result")
}

/// Every row the sync inserted, updated or deleted, as its result counts them.
fn written(result: &Value) -> anyhow::Result<f64> {
    result["rows_written"]
        .as_f64()
        .with_context(|| format!("rows_written in {result}"))
}

/// Changes every `CHANGE_EVERY`-th combo of the sim's scenario: one spread more (the combo of
/// the same legs is replaced, so its position, values and PnL move and nothing else does).
/// Returns how many rows a sync must write for that: each combo and its legs.
async fn change_combos(sim: &Sim) -> anyhow::Result<(usize, usize)> {
    let http = reqwest::Client::new();
    let scenario: Value = http
        .get(format!("{}/scenario", sim.control_url))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let combos = scenario["combos"]
        .as_array()
        .context("the scenario's combos")?;
    let (mut changed, mut rows) = (0, 0);
    for combo in combos.iter().step_by(CHANGE_EVERY) {
        let mut spec = combo.clone();
        let quantity = spec["quantity"].as_f64().context("a combo's quantity")?;
        spec["quantity"] = (quantity + 1.0).into();
        http.post(format!("{}/combos", sim.control_url))
            .json(&spec)
            .send()
            .await?
            .error_for_status()?;
        changed += 1;
        rows += 1 + spec["legs"].as_array().map_or(0, Vec::len);
    }
    Ok((changed, rows))
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
    let (mut some, mut some_rows, mut some_expected) = (Vec::new(), Vec::new(), 0);
    let mut some_changed = 0;
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
        let mut ended = None;
        let result = sync(env, &url, &mut worker, &mut ended).await?;
        first.push(result["duration_ms"].as_f64().context("duration_ms")?);
        legs_seen = result["legs_written"].as_i64().unwrap_or(0);
        let result = sync(env, &url, &mut worker, &mut ended).await?;
        again.push(result["duration_ms"].as_f64().context("duration_ms")?);
        again_rows.push(written(&result)?);
        (some_changed, some_expected) = change_combos(&sim).await?;
        let result = sync(env, &url, &mut worker, &mut ended).await?;
        some.push(result["duration_ms"].as_f64().context("duration_ms")?);
        some_rows.push(written(&result)?);
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
    let some_ms = median(&some);
    let some_written: Vec<String> = some_rows.iter().map(|r| format!("{r}")).collect();
    let only_those = some_rows.iter().all(|r| *r == some_expected as f64);
    Ok(vec![
        Figure {
            what: "Combo sync, first",
            value: first_ms,
            unit: "ms",
            reference: None,
            target: "< 1.5 s",
            met: Some(first_ms < 1500.0),
            runs: first,
            note: format!(
                "`combo_positions.sync` of {COMBOS} combos ({legs_seen} legs) in {ACCOUNTS} accounts from \
                 ibkr-sim's Client Portal (HTTPS) into an empty database; the job's own duration_ms. \
                 Each sync of a run starts {} s after the previous one ended: sooner, the pacer would \
                 hold its `/portfolio/accounts` call for the rest of the gateway's 5 s window.",
                GAP.as_secs()
            ),
        },
        Figure {
            what: "Combo sync, unchanged re-sync",
            value: again_ms,
            unit: "ms",
            reference: None,
            target: "< 0.3 s writing 0 rows",
            met: Some(again_ms < 300.0 && again_written == 0.0),
            runs: again,
            note: format!(
                "The same sync again with prices still: rows written (median) {again_written}."
            ),
        },
        Figure {
            what: "Combo sync, 1 % changed",
            value: some_ms,
            unit: "ms",
            reference: None,
            target: "< 0.5 s writing only those",
            met: Some(some_ms < 500.0 && only_those),
            runs: some,
            note: format!(
                "The same sync after {some_changed} of the {COMBOS} combos (every {CHANGE_EVERY}th) grew by one \
                 spread in ibkr-sim (`POST /combos` with the same legs): rows written {} per run, \
                 {some_expected} expected (each changed combo and its legs).",
                some_written.join(", ")
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
