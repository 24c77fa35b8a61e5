//! Tick ingestion over the TWS socket: ibkr-sim's firehose of model option computations over
//! 2,000 market-data subscriptions, its rate raised step by step until the reader falls
//! behind — for `portfolio-bridge run` and for the bare `ibapi` client of [`crate::tap`] — and
//! the lateness of the bridge's 5-second greeks ticks while 5,000 ticks/s arrive.

use std::time::{Duration, Instant};

use anyhow::Context;

use crate::Env;
use crate::procs::{Proc, Sim, bridge_env, fresh_database, run_bridge, start_bridge, start_sim};
use crate::procs::{start_tap, tempdir};
use crate::report::Figure;
use crate::scenarios;
use crate::stats::{median, percentile};

const SUBSCRIPTIONS: usize = 2000;
/// Offered rates, ticks per second; the ramp stops at the first the reader cannot keep up with.
const RATES: [u32; 8] = [
    5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000,
];
/// A reader keeps up while it counts at least this share of the offered rate.
const KEEPS_UP: f64 = 0.9;
/// Each step's window: a rate is a count over a time, so this wait is the measurement.
const STEP_WINDOW: Duration = Duration::from_secs(2);
/// The jitter phase's rate and how many 5-second ticks it watches.
const JITTER_RATE: u32 = 5_000;
const JITTER_TICKS: usize = 6;

/// Where a reader's count of ticks comes from.
enum Reader {
    /// `portfolio_bridge_market_data_updates_total` from the bridge's `/metrics`.
    Bridge { metrics: String, proc: Proc },
    /// The tap's `ticks N` lines.
    Tap(Proc),
}

impl Reader {
    /// The reader's count now, and when it was taken.
    async fn count(&mut self, http: &reqwest::Client) -> anyhow::Result<(u64, Instant)> {
        match self {
            Reader::Bridge { metrics, .. } => {
                let body = http.get(metrics.as_str()).send().await?.text().await?;
                let at = Instant::now();
                let n = body
                    .lines()
                    .find_map(|l| l.strip_prefix("portfolio_bridge_market_data_updates_total "))
                    .context("no market-data counter in /metrics")?
                    .trim()
                    .parse::<f64>()?;
                Ok((n as u64, at))
            }
            Reader::Tap(proc) => {
                // The tap answers each question with its count at that moment.
                proc.send("count").await?;
                let line = proc
                    .next_line(|l| l.starts_with("ticks "), Duration::from_secs(10))
                    .await?;
                Ok((line["ticks ".len()..].trim().parse()?, Instant::now()))
            }
        }
    }
}

async fn set_rate(http: &reqwest::Client, sim: &Sim, rate: u32) -> anyhow::Result<()> {
    http.post(format!("{}/tws/firehose", sim.control_url))
        .json(&serde_json::json!({ "ticks_per_second": rate }))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Raises the firehose step by step; the highest rate the reader counted, and the first
/// offered rate it fell behind at (None if it never did).
async fn ramp(
    http: &reqwest::Client,
    sim: &Sim,
    reader: &mut Reader,
) -> anyhow::Result<(f64, Option<u32>)> {
    let mut best: f64 = 0.0;
    for rate in RATES {
        // The sim has the new rate once it answers; its next 10 ms batch sends at it.
        set_rate(http, sim, rate).await?;
        let (n0, t0) = reader.count(http).await?;
        tokio::time::sleep(STEP_WINDOW).await;
        let (n1, t1) = reader.count(http).await?;
        let counted = n1.saturating_sub(n0) as f64 / (t1 - t0).as_secs_f64();
        best = best.max(counted);
        if counted < KEEPS_UP * f64::from(rate) {
            set_rate(http, sim, 0).await?;
            return Ok((best, Some(rate)));
        }
    }
    set_rate(http, sim, 0).await?;
    Ok((best, None))
}

/// Lateness (ms) of the bridge's next `JITTER_TICKS` greeks ticks that wrote rows.
async fn jitter(proc: &mut Proc) -> anyhow::Result<Vec<f64>> {
    let mut late = Vec::new();
    while late.len() < JITTER_TICKS {
        let line = proc
            .next_line(|l| l.contains("greeks tick"), Duration::from_secs(15))
            .await?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse::<f64>().ok())
        };
        if field("rows=").is_some_and(|rows| rows > 0.0) {
            late.push(field("late_ms=").context("a greeks tick without late_ms")?);
        }
    }
    Ok(late)
}

fn fell(at: Option<u32>) -> String {
    at.map_or_else(
        || format!("kept up to {}", RATES[RATES.len() - 1]),
        |r| format!("fell behind at {r}"),
    )
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Figure>> {
    let http = reqwest::Client::new();
    // Prices still, so that the firehose is all that flows.
    let scenario = scenarios::streaming(5, SUBSCRIPTIONS);
    let (mut bridge_rates, mut tap_rates, mut late) = (Vec::new(), Vec::new(), Vec::new());
    let (mut bridge_fell, mut tap_fell) = (Vec::new(), Vec::new());
    for run in 0..env.runs {
        eprintln!("ticks: run {} of {}", run + 1, env.runs);
        let sim = start_sim(env, &scenario, &["--no-walk"]).await?;

        let (tap, subscribed) = start_tap(env, &sim).await?;
        anyhow::ensure!(
            subscribed == SUBSCRIPTIONS,
            "the tap subscribed to {subscribed} options, not {SUBSCRIPTIONS}"
        );
        let mut reader = Reader::Tap(tap);
        let (rate, at) = ramp(&http, &sim, &mut reader).await?;
        tap_rates.push(rate);
        tap_fell.push(fell(at));
        if let Reader::Tap(proc) = reader {
            drop(proc);
        }

        let url = fresh_database(env, "pb_bench_ticks").await?;
        run_bridge(env, &["migrate"], &[("DATABASE_URL".into(), url.clone())]).await?;
        let dir = tempdir(env, "ticks")?;
        let mut vars = bridge_env(&sim, &url, &dir, &[]);
        let http_addr = vars
            .iter()
            .find(|(k, _)| k == "BRIDGE_HTTP_ADDR")
            .map(|(_, v)| v.clone())
            .context("BRIDGE_HTTP_ADDR")?;
        vars.push((
            "RUST_LOG".into(),
            "info,sqlx=warn,ibapi=error,portfolio_bridge::greeks::ticker=debug".into(),
        ));
        let mut proc = start_bridge(env, &["run"], &vars, "run-ticks")?;
        proc.wait_for_log("TWS positions loaded", Duration::from_secs(60))
            .await?;
        set_rate(&http, &sim, JITTER_RATE).await?;
        late.extend(jitter(&mut proc).await?);
        let mut reader = Reader::Bridge {
            metrics: format!("http://{http_addr}/metrics"),
            proc,
        };
        let (rate, at) = ramp(&http, &sim, &mut reader).await?;
        bridge_rates.push(rate);
        bridge_fell.push(fell(at));
        if let Reader::Bridge { proc, .. } = reader {
            proc.stop().await?;
        }
        sim.proc.stop().await?;
    }
    let (bridge, tap) = (median(&bridge_rates), median(&tap_rates));
    let ratio = bridge / tap;
    let samples = late.len();
    let p99 = percentile(&mut late.clone(), 99.0);
    Ok(vec![
        Figure {
            what: "Tick ingestion (SOCKET)",
            value: bridge,
            unit: "ticks/s",
            reference: Some(("bare ibapi client", tap)),
            target: "≥ 0.8 × the bare client",
            met: Some(ratio >= 0.8),
            runs: bridge_rates,
            note: format!(
                "ibkr-sim's firehose of model option computations round-robin over {SUBSCRIPTIONS} \
                 option subscriptions (prices otherwise still), offered at {} ticks/s in turn \
                 (each counted over {} s from the moment ibkr-sim takes it) until a reader counts less than {:.0} % \
                 of the offered rate. The figure is the highest rate counted: for the bridge, \
                 market-data updates applied to its portfolio (`/metrics`); for the reference \
                 (`pb-bench --tap`), items read from the same subscriptions and only counted. \
                 Bridge: {}; reference: {} (runs {}).",
                RATES.map(|r| r.to_string()).join(", "),
                STEP_WINDOW.as_secs(),
                KEEPS_UP * 100.0,
                bridge_fell.join(", "),
                tap_fell.join(", "),
                tap_rates
                    .iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        },
        Figure {
            what: "5-second tick jitter p99 at 5,000 ticks/s",
            value: p99,
            unit: "ms",
            reference: None,
            target: "< 100 ms",
            met: Some(p99 < 100.0),
            runs: late,
            note: format!(
                "How long after its 5-second boundary each greeks tick handed its rows to the \
                 writer (snapshot of {SUBSCRIPTIONS} positions, net greeks, hand-over), while the \
                 firehose sent {JITTER_RATE} ticks/s; {JITTER_TICKS} ticks per run, {samples} in \
                 all, pooled (so p99 is close to the largest)."
            ),
        },
    ])
}
