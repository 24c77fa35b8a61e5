//! The in-process benchmarks' results: `scripts/bench` runs `cargo bench -p portfolio-bridge
//! --bench ticker --bench combo_read` (criterion) first; this reads what criterion wrote under
//! `target/criterion` and makes figures of it, so that the one report holds them too.

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::report::Figure;

/// The criterion benches' functions (crates/bridge/benches/), with what each measures.
const BENCHES: [(&str, &str); 5] = [
    (
        "market-data tick: decode and apply",
        "One model-option-computation tick turned into an update (`TickState::apply`) and \
         applied to the shared portfolio under its write lock: the socket reader's work per tick.",
    ),
    (
        "5-second tick: snapshot of 2,000 legs",
        "The copy of the portfolio the ticker computes from (2,000 option legs over 5 accounts, \
         raw payloads shared, not copied); the portfolio's read lock is held this long.",
    ),
    (
        "5-second tick: net greeks of 2,000 legs",
        "`net_greeks` over that snapshot: staleness checks, multipliers, sums by underlying.",
    ),
    (
        "5-second tick: whole (snapshot, net greeks, rows)",
        "Everything a tick does before handing its rows to the writer: the in-process floor \
         of the tick lateness measured end to end below.",
    ),
    (
        "combo sync: read one account's 2,000 combos",
        "The bridge's own part of a combo sync per account before the database: the gateway's \
         1.8 MB answer read (only the fields used are parsed, payloads kept as sent), checked and \
         hashed. A sync does this for every account at every run, changed or not.",
    ),
];

/// Figures for the criterion benches from `target` (criterion's medians, in ns, µs or ms).
pub fn figures(target: &Path) -> anyhow::Result<Vec<Figure>> {
    let dir = target.join("criterion");
    let mut found: Vec<(String, f64)> = Vec::new();
    for entry in std::fs::read_dir(&dir)
        .with_context(|| format!("{}: run cargo bench first", dir.display()))?
    {
        let run = entry?.path().join("new");
        let read = |file: &str| -> anyhow::Result<Value> {
            Ok(serde_json::from_str(&std::fs::read_to_string(
                run.join(file),
            )?)?)
        };
        let (Ok(bench), Ok(estimates)) = (read("benchmark.json"), read("estimates.json")) else {
            continue;
        };
        let title = bench["title"].as_str().unwrap_or_default().to_owned();
        let median = estimates["median"]["point_estimate"]
            .as_f64()
            .context("criterion's median")?;
        found.push((title, median));
    }
    BENCHES
        .iter()
        .map(|(what, note)| {
            let ns = found
                .iter()
                .find(|(title, _)| title == what)
                .map(|(_, ns)| *ns)
                .with_context(|| format!("no criterion result for {what:?}"))?;
            let (value, unit) = match ns {
                n if n < 1e3 => (n, "ns"),
                n if n < 1e6 => (n / 1e3, "µs"),
                n => (n / 1e6, "ms"),
            };
            Ok(Figure {
                what,
                value,
                unit,
                reference: None,
                target: "—",
                met: None,
                runs: vec![value],
                note: format!("{note} Criterion's median over its samples."),
            })
        })
        .collect()
}
