//! Spool drain: `portfolio-bridge spool drain` of N greeks rows (1,000,000 unless
//! `PB_BENCH_DRAIN_ROWS` says otherwise), against `psql \copy` of the same rows into a table of
//! the same shape (`LIKE portfolio_greeks INCLUDING ALL`: the same unique key).

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use portfolio_bridge::domain::ids::BridgeName;
use portfolio_bridge::greeks::record::{GreeksRecord, RISK_COLUMNS, Record};
use sqlx::{Connection, PgConnection};

use crate::Env;
use crate::procs::{self, fresh_database, run_bridge};
use crate::report::Figure;
use crate::stats::median;

const START_MS: i64 = 1_790_000_000_000;

fn rows() -> usize {
    std::env::var("PB_BENCH_DRAIN_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The name the rows carry, as a bridge's do.
const BRIDGE: &str = "bench";

/// Row `i`: a tick every 5 s, alternating PORTFOLIO and CL, every account together, with the
/// dollar and by-expiry figures the bridge writes.
fn record(i: usize) -> Record {
    let at_ms = START_MS + (i / 2) as i64 * 5000;
    let contract = if i.is_multiple_of(2) {
        "PORTFOLIO"
    } else {
        "CL"
    };
    let x = i as f64;
    Record::Greeks(GreeksRecord {
        key: format!("{at_ms}@{BRIDGE}:{contract}"),
        at_ms,
        contract: contract.into(),
        delta: x * 0.5,
        gamma: 0.001 * x,
        vega: 150.0 + x,
        theta: -80.0 - x,
        underlying_price: Some(71.4),
        account: None,
        delta_dollars: Some(x * 0.5 * 71.4),
        gamma_dollars: Some(0.001 * x * 71.4 * 71.4 * 0.01),
        vega_lt30: Some(50.0 + x),
        vega_30_90: Some(100.0),
        vega_gt90: Some(0.0),
        theta_lt30: Some(-60.0 - x),
        theta_30_90: Some(-20.0),
        theta_gt90: Some(0.0),
        bridge: BridgeName::parse(BRIDGE),
    })
}

/// A CSV field of a nullable number: empty is NULL.
fn nullable(x: Option<f64>) -> String {
    x.map(|x| x.to_string()).unwrap_or_default()
}

/// Writes the spool file and the same rows as CSV.
fn write_inputs(spool: &std::path::Path, csv: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let mut s = std::io::BufWriter::new(std::fs::File::create(spool)?);
    let mut c = std::io::BufWriter::new(std::fs::File::create(csv)?);
    for i in 0..n {
        let r = record(i);
        serde_json::to_writer(&mut s, &r)?;
        s.write_all(b"\n")?;
        if let Record::Greeks(g) = r {
            let at = jiff::Timestamp::from_millisecond(g.at_ms)?;
            let figures = std::iter::once(g.underlying_price)
                .chain(g.risk_figures())
                .map(nullable)
                .collect::<Vec<_>>()
                .join(",");
            // The account stays empty (NULL): every row is an all-accounts one.
            writeln!(
                c,
                "{at},{},{},{},{},{},{},,{figures},{BRIDGE}",
                g.contract, g.delta, g.gamma, g.vega, g.theta, g.key
            )?;
        }
    }
    s.flush()?;
    c.flush()?;
    Ok(())
}

async fn count(url: &str, table: &str) -> anyhow::Result<i64> {
    let mut conn = PgConnection::connect(url).await?;
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut conn)
            .await?,
    )
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Figure>> {
    let n = rows();
    let (mut bridge_rates, mut copy_rates) = (Vec::new(), Vec::new());
    for run in 0..env.runs {
        eprintln!("drain: run {} of {} ({n} rows)", run + 1, env.runs);
        let url = fresh_database(env, "pb_bench_drain").await?;
        let vars = vec![("DATABASE_URL".to_owned(), url.clone())];
        run_bridge(env, &["migrate"], &vars).await?;
        let mut conn = PgConnection::connect(&url).await?;
        sqlx::raw_sql("CREATE TABLE copy_ref (LIKE portfolio_greeks INCLUDING ALL)")
            .execute(&mut conn)
            .await?;
        conn.close().await?;

        let dir = procs::tempdir(env, "drain")?;
        let (spool, csv) = (dir.join("spool.jsonl"), dir.join("rows.csv"));
        write_inputs(&spool, &csv, n)?;

        let mut vars = vars.clone();
        vars.push(("BRIDGE_BUFFER_PATH".into(), spool.display().to_string()));
        let started = Instant::now();
        run_bridge(env, &["spool", "drain"], &vars).await?;
        let bridge_secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            count(&url, "portfolio_greeks").await? == n as i64,
            "the drain stored every row"
        );

        let copy = format!(
            "\\copy copy_ref(\"timestamp\", contract, delta, gamma, vega, theta, row_key, account, \
             underlying_price, {}, bridge) FROM '{}' WITH (FORMAT csv)",
            RISK_COLUMNS.join(", "),
            csv.display()
        );
        let started = Instant::now();
        let out = tokio::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", &copy])
            .output()
            .await
            .context("psql runs")?;
        let copy_secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            out.status.success(),
            "psql \\copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        anyhow::ensure!(
            count(&url, "copy_ref").await? == n as i64,
            "\\copy stored every row"
        );

        bridge_rates.push(n as f64 / bridge_secs);
        copy_rates.push(n as f64 / copy_secs);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (bridge, copy) = (median(&bridge_rates), median(&copy_rates));
    Ok(vec![Figure {
        what: "Spool drain",
        value: bridge,
        unit: "rows/s",
        reference: Some(("psql \\copy", copy)),
        target: "≥ 100,000 rows/s and ≥ 0.9 × \\copy",
        met: Some(bridge >= 100_000.0 && bridge >= 0.9 * copy),
        runs: bridge_rates,
        note: format!(
            "`portfolio-bridge spool drain` of {n} greeks rows (process start to exit, including \
             connecting and the schema check) into an empty `portfolio_greeks`; reference `psql \\copy` \
             of the same rows as CSV into `LIKE portfolio_greeks INCLUDING ALL` (same unique row_key). \
             \\copy runs: {}.",
            copy_rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }])
}
