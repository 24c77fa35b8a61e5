//! `portfolio-bridge run` as a process: start-up to the first greeks row, and its resident
//! memory and CPU idle (the bundled scenario) and with 2,000 streaming positions.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::Env;
use crate::procs::{
    bridge_env, cpu_seconds, fresh_database, rss_mib, run_bridge, start_bridge, start_sim, tempdir,
};
use crate::report::Figure;
use crate::scenarios;
use crate::stats::median;

const SETTLE: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(10);
const STREAMING: usize = 2000;

/// Seconds from `started` to the first stored greeks row, and how long of it was the wait for
/// the first 5-second boundary.
async fn first_row(
    url: &str,
    started: Instant,
    started_at: jiff::Timestamp,
) -> anyhow::Result<(f64, f64)> {
    let mut conn = PgConnection::connect(url).await?;
    loop {
        let at_ms: Option<i64> = sqlx::query_scalar(
            "SELECT (extract(epoch FROM min(\"timestamp\")) * 1000)::bigint FROM portfolio_greeks",
        )
        .fetch_one(&mut conn)
        .await
        .ok()
        .flatten();
        if let Some(at_ms) = at_ms {
            let boundary = (at_ms - started_at.as_millisecond()) as f64 / 1000.0;
            let boundary = boundary.max(0.0);
            return Ok((started.elapsed().as_secs_f64(), boundary));
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no greeks row within 60 s"
        );
        // The measurement's resolution, not a wait for an event: the bridge announces no row,
        // so the table is sampled every 5 ms (min() over an empty-or-tiny table).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// RSS (MiB) at the end of a `WINDOW` after `SETTLE`, and CPU % over the window.
async fn sample(pid: u32) -> anyhow::Result<(f64, f64)> {
    // Fixed windows are the measurement: let start-up pass, then count CPU over WINDOW.
    tokio::time::sleep(SETTLE).await;
    let (cpu0, t0) = (cpu_seconds(pid)?, Instant::now());
    tokio::time::sleep(WINDOW).await;
    let cpu = (cpu_seconds(pid)? - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    Ok((rss_mib(pid)?, cpu))
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Figure>> {
    let default = ibkr_sim::scenario::DEFAULT_SCENARIO;
    let streaming = scenarios::streaming(5, STREAMING);
    let (mut startup, mut boundary) = (Vec::new(), Vec::new());
    let (mut startup_1s, mut boundary_1s) = (Vec::new(), Vec::new());
    let (mut idle_rss, mut idle_cpu, mut busy_rss, mut busy_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..env.runs {
        eprintln!("footprint: run {} of {}", run + 1, env.runs);
        // Start-up and idle: the bundled scenario, prices moving.
        let url = fresh_database(env, "pb_bench_footprint").await?;
        run_bridge(env, &["migrate"], &[("DATABASE_URL".into(), url.clone())]).await?;
        let sim = start_sim(env, default, &[]).await?;
        let dir = tempdir(env, "footprint")?;
        let vars = bridge_env(&sim, &url, &dir, &[]);
        let (started, started_at) = (Instant::now(), jiff::Timestamp::now());
        let bridge = start_bridge(env, &["run"], &vars, "run-idle")?;
        let (secs, wait) = first_row(&url, started, started_at).await?;
        startup.push(secs);
        boundary.push(wait);
        let (rss, cpu) = sample(bridge.pid()).await?;
        idle_rss.push(rss);
        idle_cpu.push(cpu);
        bridge.stop().await?;

        // The same with a 1-second interval: what is left is the bridge's own start-up.
        let url = fresh_database(env, "pb_bench_footprint").await?;
        run_bridge(env, &["migrate"], &[("DATABASE_URL".into(), url.clone())]).await?;
        let vars = bridge_env(&sim, &url, &dir, &[("GREEKS_INTERVAL_SECONDS", "1")]);
        let (started, started_at) = (Instant::now(), jiff::Timestamp::now());
        let bridge = start_bridge(env, &["run"], &vars, "run-1s")?;
        let (secs, wait) = first_row(&url, started, started_at).await?;
        startup_1s.push(secs);
        boundary_1s.push(wait);
        bridge.stop().await?;
        sim.proc.stop().await?;

        // 2,000 positions, each a streaming subscription, prices moving.
        let url = fresh_database(env, "pb_bench_footprint").await?;
        run_bridge(env, &["migrate"], &[("DATABASE_URL".into(), url.clone())]).await?;
        let sim = start_sim(env, &streaming, &[]).await?;
        let vars = bridge_env(&sim, &url, &dir, &[]);
        let bridge = start_bridge(env, &["run"], &vars, "run-streaming")?;
        let (rss, cpu) = sample(bridge.pid()).await?;
        busy_rss.push(rss);
        busy_cpu.push(cpu);
        bridge.stop().await?;
        sim.proc.stop().await?;
    }
    let (s, irss, icpu, brss, bcpu) = (
        median(&startup),
        median(&idle_rss),
        median(&idle_cpu),
        median(&busy_rss),
        median(&busy_cpu),
    );
    let window = format!(
        "{} s after {} s of settling",
        WINDOW.as_secs(),
        SETTLE.as_secs()
    );
    Ok(vec![
        Figure {
            what: "Footprint idle: memory",
            value: irss,
            unit: "MiB RSS",
            reference: None,
            target: "< 50 MB",
            met: Some(irss * 1.048_576 < 50.0),
            runs: idle_rss,
            note: format!(
                "`run` on the bundled scenario (13 positions, prices moving), at the end of {window}."
            ),
        },
        Figure {
            what: "Footprint idle: CPU",
            value: icpu,
            unit: "% of one core",
            reference: None,
            target: "< 1 %",
            met: Some(icpu < 1.0),
            runs: idle_cpu,
            note: format!("user + system time over {window}."),
        },
        Figure {
            what: "Footprint streaming: memory",
            value: brss,
            unit: "MiB RSS",
            reference: None,
            target: "< 50 MB",
            met: Some(brss * 1.048_576 < 50.0),
            runs: busy_rss,
            note: format!(
                "`run` with {STREAMING} positions in distinct CL options over 5 accounts, each a market-data subscription, prices moving; at the end of {window}."
            ),
        },
        Figure {
            what: "Footprint streaming: CPU",
            value: bcpu,
            unit: "% of one core",
            reference: None,
            target: "—",
            met: None,
            runs: busy_cpu,
            note: format!("user + system time over {window}, {STREAMING} positions streaming."),
        },
        Figure {
            what: "Start-up to first greeks row",
            value: s,
            unit: "s",
            reference: None,
            target: "< 3 s",
            met: Some(s < 3.0),
            runs: startup,
            note: format!(
                "Process start to the first `portfolio_greeks` row, migrated database, bundled scenario, \
                 GREEKS_INTERVAL_SECONDS=5. Rows fall on 5-second boundaries, so part of this is the wait \
                 for the first boundary after start (median {:.2} s).",
                median(&boundary)
            ),
        },
        Figure {
            what: "Start-up to first greeks row, 1 s interval",
            value: median(&startup_1s),
            unit: "s",
            reference: None,
            target: "< 3 s",
            met: Some(median(&startup_1s) < 3.0),
            runs: startup_1s,
            note: format!(
                "As above with GREEKS_INTERVAL_SECONDS=1, so the boundary wait is at most 1 s (median \
                 {:.2} s of it): the bridge's own start-up — connect, positions, first greeks.",
                median(&boundary_1s)
            ),
        },
    ])
}
