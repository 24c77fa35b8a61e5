//! The results: a table for the terminal and `docs/benchmarks.md`.

/// Everything after this line in `docs/benchmarks.md` is written by hand and kept by reruns.
pub const KEEP_MARKER: &str = "<!-- Written by hand below: scripts/bench keeps it. -->";

/// One measured figure and what it is held against.
pub struct Figure {
    pub what: &'static str,
    /// The median, in `unit`.
    pub value: f64,
    pub unit: &'static str,
    /// The reference measured in the same run, in the same unit, if the benchmark has one.
    pub reference: Option<(&'static str, f64)>,
    pub target: &'static str,
    /// Whether the target is met; `None` when it cannot be judged from this figure alone.
    pub met: Option<bool>,
    /// Every run's value, for the record.
    pub runs: Vec<f64>,
    pub note: String,
}

fn number(x: f64) -> String {
    match x.abs() {
        a if a >= 1000.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.3}"),
    }
}

fn row(f: &Figure) -> [String; 5] {
    let reference = f.reference.map_or_else(
        || "—".to_owned(),
        |(name, v)| {
            let ratio = if v != 0.0 {
                format!(" (ratio {:.2})", f.value / v)
            } else {
                String::new()
            };
            format!("{name}: {} {}{ratio}", number(v), f.unit)
        },
    );
    let met = match f.met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "see note",
    };
    [
        f.what.to_owned(),
        format!("{} {}", number(f.value), f.unit),
        reference,
        f.target.to_owned(),
        met.to_owned(),
    ]
}

/// The figures as a Markdown table.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| what | median | reference (same run) | target | |\n|---|---|---|---|---|\n",
    );
    for f in figures {
        out.push_str(&format!("| {} |\n", row(f).join(" | ")));
    }
    out
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu}), {mem_gib:.1} GiB memory")
}

/// `docs/benchmarks.md`: the command, the machine, the table and each figure's runs and notes.
/// `chart` names the memory-over-time SVG beside it, if there is one.
pub fn document(figures: &[Figure], command: &str, runs: usize, chart: Option<&str>) -> String {
    let mut out = format!(
        "# Benchmarks\n\nWritten by `{command}` on {} (UTC). Machine: {}.\n\n\
         Each figure is the median of {runs} runs (the streaming footprint: one ten-minute run); each reference is measured in the same run, \
         so ratios hold on a noisy machine. Real processes throughout: `ibkr-sim`, PostgreSQL \
         (the private cluster of `scripts/ensure-postgres`: fsync off, which favours the \
         reference and the bridge alike) and release builds of `portfolio-bridge`. Nothing \
         here is a test assertion.\n\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M"),
        machine()
    );
    out.push_str(&table(figures));
    if let Some(chart) = chart {
        out.push_str(&format!(
            "\nMemory over time, the streaming run (RSS every 30 s):\n\n![resident memory over \
             ten minutes with 2,000 streaming positions]({chart})\n"
        ));
    }
    out.push_str("\n## Notes\n\n");
    for f in figures {
        let runs: Vec<String> = f.runs.iter().map(|v| number(*v)).collect();
        out.push_str(&format!(
            "- **{}** — runs: {} {}. {}\n",
            f.what,
            runs.join(", "),
            f.unit,
            f.note
        ));
    }
    out
}
