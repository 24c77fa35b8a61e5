//! The `ibkr-sim` binary: an IBKR gateway simulator (Client Portal REST and the TWS socket API)
//! for the demo and for anyone without an IBKR account. See `crates/ibkr-sim/README.md`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ibkr_sim::cp::{CpOptions, Unauthenticated};
use ibkr_sim::scenario::Scenario;
use ibkr_sim::{SimConfig, Simulator};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "ibkr-sim",
    version,
    about = "An IBKR gateway simulator: Client Portal REST and the TWS socket API from one scenario",
    after_help = "With no --scenario, the bundled one (two accounts, CL calendar spreads held as \
                  native combos, CL legs and options, ES, AAPL). The control API (loopback) \
                  drives faults and scenario changes: see crates/ibkr-sim/README.md."
)]
struct Args {
    /// Scenario file (TOML); the bundled default when absent
    #[arg(long, env = "IBKR_SIM_SCENARIO")]
    scenario: Option<PathBuf>,
    /// Client Portal API address (HTTPS unless --cp-plain-http)
    #[arg(long, default_value = "127.0.0.1:5000")]
    cp_addr: SocketAddr,
    /// TWS API socket address
    #[arg(long, default_value = "127.0.0.1:4001")]
    tws_addr: SocketAddr,
    /// Control API address (loopback only)
    #[arg(long, default_value = "127.0.0.1:5099")]
    control_addr: SocketAddr,
    /// Seed of the price walk (overrides the scenario's)
    #[arg(long)]
    seed: Option<u64>,
    /// The date contract months are computed from, YYYY-MM-DD [default: today in New York]
    #[arg(long)]
    date: Option<jiff::civil::Date>,
    /// Serve the Client Portal API over plain HTTP instead of HTTPS
    #[arg(long)]
    cp_plain_http: bool,
    /// Start without a Client Portal login (log in at the CP address in a browser, or with
    /// the control API)
    #[arg(long)]
    cp_logged_out: bool,
    /// Seconds without a request before the brokerage session drops
    #[arg(long, default_value_t = 360.0)]
    cp_idle_timeout_seconds: f64,
    /// How unauthenticated requests are answered: 401 or redirect (302 to the login page)
    #[arg(long, default_value = "401", value_parser = ["401", "redirect"])]
    cp_unauthenticated: String,
    /// Seconds a pacing violation keeps every request refused (IBKR: 600-900); 0 for none
    #[arg(long, default_value_t = 0.0)]
    cp_penalty_seconds: f64,
    /// Seconds combo positions are served from the cache unless asked with nocache=true
    #[arg(long, default_value_t = 60.0)]
    cp_combo_cache_seconds: f64,
    /// A Client Portal fault from the start, `[PATH=]KIND[*COUNT]` with KIND a 4xx/5xx status
    /// (STATUS:MILLIS answers it after MILLIS; a 503 comes after 10 s unless told, as IBKR's),
    /// delay:MILLIS, malformed, wrong-shape or drop-field:NAME; e.g. /portfolio=503*2
    /// (repeatable)
    #[arg(long = "cp-fault", value_name = "SPEC")]
    cp_faults: Vec<ibkr_sim::cp::Fault>,
    /// Option-computation ticks per second per TWS connection (a firehose for benchmarks)
    #[arg(long, default_value_t = 0)]
    ticks_per_second: u32,
    /// Keep prices still (they move only through the control API)
    #[arg(long)]
    no_walk: bool,
    /// A daily restart at this New York time, HH:MM
    #[arg(long)]
    daily_restart: Option<jiff::civil::Time>,
    /// Seconds the TWS gateway stays down at the daily restart
    #[arg(long, default_value_t = 120.0)]
    restart_window_seconds: f64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn seconds(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("--{name} must be a number of seconds >= 0"))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let date = match args.date {
        Some(d) => d,
        None => jiff::Timestamp::now()
            .to_zoned(ibkr_sim::world::NEW_YORK.clone())
            .date(),
    };
    let mut scenario = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the scenario {}", path.display()))?;
            Scenario::from_toml(&text, date)
                .with_context(|| format!("scenario {}", path.display()))?
        }
        None => Scenario::default_for(date),
    };
    if let Some(seed) = args.seed {
        scenario.market.seed = seed;
    }
    let restart_window = seconds("restart-window-seconds", args.restart_window_seconds)?;
    let config = SimConfig {
        cp_addr: args.cp_addr,
        tws_addr: args.tws_addr,
        control_addr: Some(args.control_addr),
        cp: CpOptions {
            tls: !args.cp_plain_http,
            logged_in: !args.cp_logged_out,
            idle_timeout: seconds("cp-idle-timeout-seconds", args.cp_idle_timeout_seconds)?,
            unauthenticated: if args.cp_unauthenticated == "redirect" {
                Unauthenticated::Redirect
            } else {
                Unauthenticated::Status401
            },
            penalty: seconds("cp-penalty-seconds", args.cp_penalty_seconds)?,
            combo_cache: seconds("cp-combo-cache-seconds", args.cp_combo_cache_seconds)?,
        },
        firehose_tps: args.ticks_per_second,
        walk: !args.no_walk,
        daily_restart: args.daily_restart.map(|t| (t, restart_window)),
        ..SimConfig::new(scenario)
    };
    let sim = Simulator::start(config)
        .await
        .context("cannot start the simulator")?;
    println!("ibkr-sim is running (scenario date {date}):");
    println!("  Client Portal API  {}", sim.cp_url());
    println!("  TWS API socket     {}", sim.tws_addr());
    if let Some(url) = sim.control_url() {
        println!("  control API        {url}/status");
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!("stopping");
    sim.shutdown();
    Ok(())
}
