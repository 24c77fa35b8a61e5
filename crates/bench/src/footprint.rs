//! `portfolio-bridge run` as a process: start-up to the first greeks row (the bridge's own part
//! and the wait for the interval boundary, apart), its resident memory and CPU idle (the
//! bundled scenario), and its memory over ten minutes with 2,000 streaming positions — with
//! proof that no position or account value was lost meanwhile.

use std::time::{Duration, Instant};

use anyhow::Context;
use jiff::Timestamp;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::Env;
use crate::procs::{
    Vars, bridge_env, cpu_seconds, fresh_database, rss_mib, run_bridge, start_bridge, start_sim,
    tempdir,
};
use crate::report::Figure;
use crate::scenarios;
use crate::stats::median;

const SETTLE: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(10);
const STREAMING: usize = 2000;
/// The streaming run: steady state, not start-up.
const STREAMING_FOR: Duration = Duration::from_secs(600);
const SAMPLE_EVERY: Duration = Duration::from_secs(30);
const INTERVAL: Duration = Duration::from_secs(5);

/// RSS sampled over the streaming run: (minutes since start, MiB).
pub type Series = Vec<(f64, f64)>;

/// When the first `portfolio_greeks` row was stamped (its tick's boundary).
async fn first_row(url: &str, started: Instant) -> anyhow::Result<Timestamp> {
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
            return Ok(Timestamp::from_millisecond(at_ms)?);
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

/// The bridge's `/api/v1/status`.
async fn status(vars: &Vars) -> anyhow::Result<Value> {
    let addr = vars
        .iter()
        .find(|(k, _)| k == "BRIDGE_HTTP_ADDR")
        .map(|(_, v)| v.clone())
        .context("BRIDGE_HTTP_ADDR")?;
    let body = reqwest::get(format!("http://{addr}/api/v1/status"))
        .await?
        .error_for_status()?
        .json::<Value>()
        .await?;
    Ok(body)
}

/// The first boundary strictly after `t`.
fn next_boundary(t: Timestamp) -> anyhow::Result<Timestamp> {
    let step = INTERVAL.as_millis() as i64;
    Ok(Timestamp::from_millisecond(
        (t.as_millisecond().div_euclid(step) + 1) * step,
    )?)
}

/// One start: (the bridge's part: process start to connected with every position, the wait
/// from then to the first row's boundary, whether that was the first boundary after it).
async fn startup(env: &Env, url: &str, vars: &Vars) -> anyhow::Result<(f64, f64, bool)> {
    let (started, started_at) = (Instant::now(), Timestamp::now());
    let bridge = start_bridge(env, &["run"], vars, "run-startup")?;
    let row = first_row(url, started).await?;
    let ready: Timestamp = status(vars).await?["transport"]["positions_complete"]
        .as_str()
        .context("status without transport.positions_complete after a greeks row")?
        .parse()?;
    bridge.stop().await?;
    let own = ready.duration_since(started_at).as_secs_f64();
    let wait = row.duration_since(ready).as_secs_f64();
    Ok((own, wait, row == next_boundary(ready)?))
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

/// What the streaming run saw.
struct Streaming {
    series: Series,
    /// CPU % of one core after the first sample.
    cpu: f64,
    /// The fewest positions the bridge held at a sample after it first held them all.
    fewest: usize,
    reconnects: u64,
    /// Warnings that a positions or account stream lost messages.
    fell_behind: usize,
    /// `positions` rows, and those with account values (market value), at the end.
    stored: (i64, i64),
}

/// 2,000 positions streaming for `STREAMING_FOR`, sampled every `SAMPLE_EVERY`.
async fn streaming(env: &Env) -> anyhow::Result<Streaming> {
    let url = fresh_database(env, "pb_bench_footprint").await?;
    run_bridge(env, &["migrate"], &[("DATABASE_URL".into(), url.clone())]).await?;
    let sim = start_sim(env, &scenarios::streaming(5, STREAMING), &[]).await?;
    let dir = tempdir(env, "streaming")?;
    let vars = bridge_env(&sim, &url, &dir, &[]);
    let bridge = start_bridge(env, &["run"], &vars, "run-streaming")?;
    let (pid, log) = (bridge.pid(), bridge.log.clone());
    let started = Instant::now();
    let (mut series, mut cpu0) = (Series::new(), None);
    let (mut fewest, mut whole, mut reconnects) = (usize::MAX, false, 0);
    loop {
        let at = started.elapsed();
        series.push((at.as_secs_f64() / 60.0, rss_mib(pid)?));
        if let Ok(s) = status(&vars).await {
            let held = s["greeks"]["positions_counted"].as_u64().unwrap_or(0) as usize
                + s["greeks"]["left_out"].as_array().map_or(0, Vec::len);
            whole |= held == STREAMING;
            if whole {
                fewest = fewest.min(held);
            }
            reconnects = s["transport"]["reconnects"].as_u64().unwrap_or(0);
        }
        if cpu0.is_none() && at >= SAMPLE_EVERY {
            cpu0 = Some((cpu_seconds(pid)?, Instant::now()));
        }
        if at >= STREAMING_FOR {
            break;
        }
        // The samples are the measurement: every SAMPLE_EVERY from the start.
        tokio::time::sleep((SAMPLE_EVERY * (series.len() as u32)).saturating_sub(at)).await;
    }
    let (c0, t0) = cpu0.context("no CPU sample")?;
    let cpu = (cpu_seconds(pid)? - c0) / t0.elapsed().as_secs_f64() * 100.0;
    let mut conn = PgConnection::connect(&url).await?;
    let stored: (i64, i64) = sqlx::query_as("SELECT count(*), count(market_value) FROM positions")
        .fetch_one(&mut conn)
        .await?;
    bridge.stop().await?;
    let log = std::fs::read_to_string(log)?;
    sim.proc.stop().await?;
    Ok(Streaming {
        series,
        cpu,
        fewest: if whole { fewest } else { 0 },
        reconnects,
        fell_behind: log.matches("fell behind and lost messages").count(),
        stored,
    })
}

pub async fn run(env: &Env) -> anyhow::Result<(Vec<Figure>, Series)> {
    let default = ibkr_sim::scenario::DEFAULT_SCENARIO;
    let (mut own, mut wait, mut first_boundary) = (Vec::new(), Vec::new(), 0);
    let (mut idle_rss, mut idle_cpu) = (Vec::new(), Vec::new());
    for run in 0..env.runs {
        eprintln!("footprint: run {} of {}", run + 1, env.runs);
        let sim = start_sim(env, default, &[]).await?;
        let dir = tempdir(env, "footprint")?;

        // Start-up: the bundled scenario, prices moving, 5-second interval.
        let url = fresh_database(env, "pb_bench_footprint").await?;
        run_bridge(env, &["migrate"], &[("DATABASE_URL".into(), url.clone())]).await?;
        let vars = bridge_env(&sim, &url, &dir, &[]);
        let (o, w, first) = startup(env, &url, &vars).await?;
        own.push(o);
        wait.push(w);
        first_boundary += usize::from(first);

        // Idle.
        let bridge = start_bridge(env, &["run"], &vars, "run-idle")?;
        let (rss, cpu) = sample(bridge.pid()).await?;
        idle_rss.push(rss);
        idle_cpu.push(cpu);
        bridge.stop().await?;
        sim.proc.stop().await?;
    }
    eprintln!(
        "footprint: streaming {STREAMING} positions for {} s",
        STREAMING_FOR.as_secs()
    );
    let s = streaming(env).await?;
    let last = s.series.last().map_or(0.0, |p| p.1);
    let lost = STREAMING - s.fewest.min(STREAMING);
    let whole = lost == 0 && s.reconnects == 0 && s.fell_behind == 0;
    let stored_whole = s.stored == (STREAMING as i64, STREAMING as i64);
    let (irss, icpu) = (median(&idle_rss), median(&idle_cpu));
    let window = format!(
        "{} s after {} s of settling",
        WINDOW.as_secs(),
        SETTLE.as_secs()
    );
    let minutes = STREAMING_FOR.as_secs() / 60;
    Ok((
        vec![
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
                what: "Footprint streaming: memory after 10 minutes",
                value: last,
                unit: "MiB RSS",
                reference: None,
                target: "< 64 MiB, 0 positions or account values lost",
                met: Some(last < 64.0 && whole && stored_whole),
                runs: vec![last],
                note: format!(
                    "One run: `run` with {STREAMING} positions in distinct CL options over 5 \
                     accounts, each a market-data subscription, prices moving, for {minutes} \
                     minutes; RSS sampled every {} s (the runs are in the chart below the \
                     table). Loss: the fewest positions held at a sample after all were first \
                     held: {} of {STREAMING}; reconnects: {}; streams that fell behind: {}; at \
                     the end `positions` held {} rows, {} with account values (market value).",
                    SAMPLE_EVERY.as_secs(),
                    s.fewest,
                    s.reconnects,
                    s.fell_behind,
                    s.stored.0,
                    s.stored.1,
                ),
            },
            Figure {
                what: "Footprint streaming: CPU",
                value: s.cpu,
                unit: "% of one core",
                reference: None,
                target: "—",
                met: None,
                runs: vec![s.cpu],
                note: format!(
                    "user + system time from the first sample on, {STREAMING} positions streaming."
                ),
            },
            Figure {
                what: "First greeks row: the bridge's part",
                value: median(&own),
                unit: "s",
                reference: None,
                target: "< 1 s",
                met: Some(median(&own) < 1.0),
                runs: own,
                note: "Process start to connected with every position delivered (the status's \
                       `transport.positions_complete`), migrated database, bundled scenario."
                    .into(),
            },
            Figure {
                what: "First greeks row: wait for the boundary",
                value: median(&wait),
                unit: "s",
                reference: None,
                target: "the first 5-second boundary",
                met: Some(first_boundary == env.runs),
                runs: wait,
                note: format!(
                    "From positions complete to the first `portfolio_greeks` row's timestamp, \
                     GREEKS_INTERVAL_SECONDS=5: rows fall on whole multiples of the interval, \
                     so this is at most 5 s and depends only on when the start happened. The \
                     first row was at the first boundary after positions complete in {} of {} \
                     runs.",
                    first_boundary, env.runs
                ),
            },
        ],
        s.series,
    ))
}
