//! `pb-bench`: portfolio-bridge's end-to-end benchmarks, each against a reference point
//! measured in the same run, with real processes — `ibkr-sim`, PostgreSQL and
//! `portfolio-bridge` — never mocks. `scripts/bench` builds everything in release and runs it;
//! it prints a table and rewrites `docs/benchmarks.md`.
//!
//! - [`drain`]: spool drain against `psql \copy`.
//! - [`combos`]: combo sync (first and unchanged) and the spreads API under load against
//!   `/healthz`.
//! - [`footprint`]: resident memory and CPU of `run`, idle and streaming for ten minutes (the
//!   memory-over-time chart, drawn by [`svg`]); start-up to the first greeks row.
//! - [`criterion`]: the in-process benches (`cargo bench`: ticker, combo read), read from
//!   `target/criterion`.
//! - [`history`]: greeks reads over 100 M generated rows, partitioned and rolled up against one
//!   unpartitioned table; insert rates of both.
//! - [`ticks`]: tick ingestion over the TWS socket against a bare `ibapi` client ([`tap`]),
//!   and the greeks ticks' lateness under a firehose.
//!
//! Figures are medians of several runs; none is a test assertion: the report says which
//! targets are met.

mod combos;
mod criterion;
mod drain;
mod footprint;
mod history;
mod procs;
mod report;
mod scenarios;
mod stats;
mod svg;
mod tap;
mod ticks;

use std::path::PathBuf;

use anyhow::Context;

use crate::report::Figure;

/// What every benchmark needs: the binaries, a PostgreSQL server and how many runs.
pub struct Env {
    pub bridge: PathBuf,
    pub sim: PathBuf,
    /// A server URL whose role may create databases.
    pub database_url: String,
    pub runs: usize,
    pub work: PathBuf,
}

/// The memory-over-time chart's file, beside `docs/benchmarks.md`.
const CHART: &str = "benchmarks-memory.svg";

const USAGE: &str = "usage: pb-bench [--runs N] [--only drain|combos|footprint|ticks|history|criterion] [--out FILE]
       pb-bench --scenario combos|streaming   print a generated ibkr-sim scenario (to profile by hand)
       pb-bench --tap ADDR                    the bare ibapi client of the tick benchmark

Needs DATABASE_URL (a server whose role may CREATE DATABASE) and the release binaries of
portfolio-bridge and ibkr-sim beside this one. scripts/bench provides all of it.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // reqwest is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut runs = 3;
    let mut only: Option<String> = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context(USAGE)?.parse().context(USAGE)?,
            "--only" => only = Some(args.next().context(USAGE)?),
            "--out" => out = Some(args.next().context(USAGE)?.into()),
            "--scenario" => {
                match args.next().as_deref() {
                    Some("combos") => print!("{}", scenarios::combos(5, 10_000)),
                    Some("streaming") => print!("{}", scenarios::streaming(5, 2000)),
                    _ => anyhow::bail!("{USAGE}"),
                }
                return Ok(());
            }
            "--tap" => return tap::run(&args.next().context(USAGE)?).await,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let here = std::env::current_exe()?;
    let dir = here.parent().context("the binary's directory")?;
    let work = std::env::temp_dir().join(format!("pb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let env = Env {
        bridge: dir.join("portfolio-bridge"),
        sim: dir.join("ibkr-sim"),
        database_url: std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?,
        runs,
        work,
    };
    for bin in [&env.bridge, &env.sim] {
        anyhow::ensure!(
            bin.exists(),
            "{} is missing: build it first (scripts/bench does)",
            bin.display()
        );
    }

    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let mut figures: Vec<Figure> = Vec::new();
    if wanted("drain") {
        figures.extend(drain::run(&env).await?);
    }
    if wanted("combos") {
        figures.extend(combos::run(&env).await?);
    }
    let mut series = None;
    if wanted("footprint") {
        let (found, samples) = footprint::run(&env).await?;
        figures.extend(found);
        series = Some(samples);
    }
    if wanted("ticks") {
        figures.extend(ticks::run(&env).await?);
    }
    if wanted("history") {
        figures.extend(history::run(&env).await?);
    }
    if wanted("criterion") {
        // The binaries sit in target/release.
        figures.extend(criterion::figures(dir.parent().context("target")?)?);
    }
    let _ = std::fs::remove_dir_all(&env.work);

    print!("{}", report::table(&figures));
    if let Some(out) = out {
        let command = std::env::var("PB_BENCH_COMMAND").unwrap_or_else(|_| "scripts/bench".into());
        // The hand-written analysis below the marker survives a rerun.
        let kept = std::fs::read_to_string(&out)
            .ok()
            .and_then(|old| old.find(report::KEEP_MARKER).map(|i| old[i..].to_owned()))
            .unwrap_or_else(|| format!("{}\n", report::KEEP_MARKER));
        // The chart sits beside the document; a run without the footprint keeps the old one.
        let chart = out.with_file_name(CHART);
        if let Some(series) = &series {
            let title = "portfolio-bridge run, 2,000 streaming positions: resident memory";
            std::fs::write(&chart, svg::memory_chart(title, series, 64.0))?;
        }
        let document = report::document(&figures, &command, runs, chart.exists().then_some(CHART));
        std::fs::write(&out, format!("{document}\n{kept}"))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
