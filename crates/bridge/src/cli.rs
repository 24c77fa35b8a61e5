//! The command line: `portfolio-bridge [CONFIGURATION] <COMMAND>`.
//!
//! Loads `.env`, parses the flags and environment, and validates the whole configuration
//! before any command starts, so that a bad value halts the process before anything connects.
//! It owns the process's exit codes and its logging set-up, and holds no logic of its own
//! beyond choosing what to call.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

use crate::alerts::deliver;
use crate::alerts::notice::{AlertKind, Notice, Phase, Severity};
use crate::alerts::target::Target;
use crate::config::{Config, DatabaseNeed, DatabaseUrl, RawConfig};
use crate::domain::ids::BridgeName;
use crate::store::jobs::{Dedup, Enqueued, JobRow, NewJob};
use crate::{Shutdown, greeks, jobs, runtime, status_check, store};

/// How long a command waits for PostgreSQL to accept a connection.
const DB_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Exit code for a configuration or usage error (clap uses 2 for usage errors too).
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(
    name = "portfolio-bridge",
    version,
    about = "Interactive Brokers to PostgreSQL: net greeks, positions and CL spreads",
    after_help = "Every setting can come from a flag, the environment or a .env file in the \
                  current directory (in that order of precedence). Exit codes: 0 success, \
                  1 failure, 2 invalid configuration or usage. See docs/configuration.md."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: RawConfig,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the bridge: migrations, then the IBKR sources and background tasks, until Ctrl-C
    /// or SIGTERM
    Run,
    /// Apply the schema migrations to DATABASE_URL and check every table the bridge uses
    Migrate,
    /// Print the effective configuration (secrets redacted) and where each value came from
    Config,
    /// The greeks spool (BRIDGE_BUFFER_PATH): what waits in it, or drain it now
    Spool {
        #[command(subcommand)]
        command: SpoolCommand,
    },
    /// Run queued jobs without the live feed, until Ctrl-C or SIGTERM
    ///
    /// Runs combo_positions.sync (needs the Client Portal: IBKR_CP_ENABLED=true or
    /// IB_API_MODE=PORTAL) and, in PORTAL mode, positions.sync. In SOCKET mode positions.sync
    /// runs inside `portfolio-bridge run`, which holds the live feed. Start as many workers as
    /// you like, on any machine that reaches the database: each job runs once.
    Worker,
    /// Ask the running bridge (at BRIDGE_HTTP_ADDR) how it is; exits 1 when something needs
    /// attention
    ///
    /// Prints what `GET /api/v1/status` and the Status page show: what needs a human first
    /// (each with what to do), then the transport, the Client Portal session, the greeks, the
    /// spool and the last result of each job. Exit codes: 0 all well; 1 something needs
    /// attention, or the bridge cannot be reached or refused the token (BRIDGE_API_TOKEN);
    /// 2 invalid configuration. Meant for cron, systemd timers and monitoring.
    Status {
        /// Print the status as the API's JSON instead
        #[arg(long)]
        json: bool,
    },
    /// The job queue in the database: enqueue a sync now, or list recent jobs
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// The greeks history (portfolio_greeks): partition an existing table by day
    Greeks {
        #[command(subcommand)]
        command: GreeksCommand,
    },
    /// Alerts (ALERT_WEBHOOK_URL, ALERT_COMMAND): send a test alert
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
}

#[derive(Subcommand)]
pub enum GreeksCommand {
    /// Partition an existing portfolio_greeks by day, moving its rows without losing any
    ///
    /// A database the bridge created is partitioned already; one whose portfolio_greeks had
    /// rows before this version (the existing application's, an earlier bridge's) is converted
    /// by this command. The table is swapped for a partitioned one in a transaction that waits
    /// at most 5 s for its lock (the bridge's writer pauses for at most that long, and keeps
    /// writing into the new table), then the old rows move over in batches of 20,000, each one
    /// transaction: interrupted, nothing is lost, and running it again resumes. Until it ends,
    /// charts and the API show the old rows as they arrive. Safe to run while bridges run.
    Partition,
}

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// Send a test alert to every configured target and print what each answered; exits 1
    /// if any target did not accept it
    Test,
}

impl Command {
    /// Whether the command cannot work without `DATABASE_URL`.
    fn database(&self) -> DatabaseNeed {
        match self {
            Command::Run
            | Command::Migrate
            | Command::Worker
            | Command::Jobs { .. }
            | Command::Greeks { .. }
            | Command::Spool {
                command: SpoolCommand::Drain,
            } => DatabaseNeed::Required,
            Command::Config
            | Command::Status { .. }
            | Command::Alerts { .. }
            | Command::Spool {
                command: SpoolCommand::Status,
            } => DatabaseNeed::NotNeeded,
        }
    }
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Enqueue a job for a worker (inside `run`, or `portfolio-bridge worker`) to run
    Enqueue {
        /// What to run
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(jobs::JOB_TYPES))]
        job_type: String,
        /// Enqueue even if a job of this type is already queued or running
        #[arg(long)]
        allow_duplicate: bool,
        /// Attempts before the job fails for good
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=100))]
        max_attempts: i32,
    },
    /// The newest jobs: status, attempts, when, and the result or the last error
    List {
        /// Only jobs of this type
        #[arg(long = "type")]
        job_type: Option<String>,
        /// Only jobs in this status
        #[arg(long, value_parser = ["queued", "running", "completed", "failed"])]
        status: Option<String>,
        /// How many jobs to show
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=10000))]
        limit: i64,
    },
}

#[derive(Subcommand)]
pub enum SpoolCommand {
    /// Records waiting, the oldest and newest, the file size, unreadable and rejected lines
    Status,
    /// Store everything waiting in PostgreSQL now (the bridge must not be running)
    Drain,
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    // `.env` first, so that it can also set RUST_LOG; its problems are reported once logging
    // is up. Variables already in the environment win over `.env`.
    let dotenv = dotenvy::dotenv();
    init_logging();
    if let Err(e) = dotenv
        && !e.not_found()
    {
        error!("cannot read .env in the current directory: {e}. Fix or remove the file");
        return ExitCode::from(EXIT_CONFIG);
    }

    let cli = Cli::parse();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let host = crate::host_name();
    let config = match Config::from_raw(&cli.config, home.as_deref(), &host, cli.command.database())
    {
        Ok(config) => config,
        Err(errors) => {
            for e in &errors.0 {
                error!("invalid configuration: {e}");
            }
            error!(
                "portfolio-bridge stopped before connecting to anything; see docs/configuration.md"
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    match cli.command {
        Command::Config => {
            print!("{}", config.render(&cli.config));
            ExitCode::SUCCESS
        }
        Command::Run => with_database(&config, |_| {
            // Before anything starts: a place that cannot hold the spool is a configuration
            // problem, not something to run without.
            match greeks::spool::Spool::prepare(&config.buffer_path) {
                Ok(spool) => run_async(run(config.clone(), spool)),
                // Another process holds it (a `spool drain`, another bridge): not a setting to
                // fix, and a service manager may try again once it is done.
                Err(e @ greeks::spool::SpoolError::Busy { .. }) => {
                    error!("{e}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    error!(
                        "invalid configuration: BRIDGE_BUFFER_PATH={} cannot hold the spool: {e}. \
                         Point it at a file in a directory this user can write (a missing \
                         directory is created)",
                        config.buffer_path.display()
                    );
                    ExitCode::from(EXIT_CONFIG)
                }
            }
        }),
        Command::Spool {
            command: SpoolCommand::Status,
        } => spool_status(&config),
        Command::Spool {
            command: SpoolCommand::Drain,
        } => with_database(&config, |url| {
            run_async(spool_drain(
                url,
                config.buffer_path.clone(),
                config.bridge_name.clone(),
            ))
        }),
        Command::Migrate => with_database(&config, |url| run_async(migrate(url))),
        Command::Worker => with_database(&config, |_| {
            let config = config.clone();
            run_async(async move { runtime::worker(config, on_signal()).await })
        }),
        Command::Jobs { command } => with_database(&config, |url| {
            run_async(jobs_command(url, config.bridge_name.clone(), command))
        }),
        Command::Greeks {
            command: GreeksCommand::Partition,
        } => with_database(&config, |url| run_async(greeks_partition(url))),
        Command::Alerts {
            command: AlertsCommand::Test,
        } => run_async(alerts_test(config.alerts.targets.clone())),
        Command::Status { json } => {
            let mut needs_attention = false;
            let code = run_async(async {
                let (view, body) = status_check::fetch(&config.http).await?;
                needs_attention = !view.attention.is_empty();
                match json {
                    true => println!("{body}"),
                    false => print!("{}", status_check::report(&view)),
                }
                Ok(())
            });
            match needs_attention {
                true => ExitCode::FAILURE,
                false => code,
            }
        }
    }
}

/// `alerts test`: one test notice to every target, and what each answered.
async fn alerts_test(targets: Vec<Target>) -> anyhow::Result<()> {
    if targets.is_empty() {
        anyhow::bail!(
            "no alert target is configured: set ALERT_WEBHOOK_URL (comma-separated URLs) or \
             ALERT_COMMAND; see docs/configuration.md"
        );
    }
    let now = jiff::Timestamp::now();
    let notice = Notice {
        kind: AlertKind::Test,
        key: String::new(),
        severity: Severity::Info,
        status: Phase::Test,
        title: "Test alert from portfolio-bridge".into(),
        text: "`portfolio-bridge alerts test` sent this to check that alerts reach you.".into(),
        action: "Nothing to do: alerts reach this target.".into(),
        started_at: now,
        resolved_at: None,
        lasted_seconds: None,
        host: crate::host_name(),
    };
    let client = deliver::http_client()?;
    let answers = deliver::test_all(&client, &targets, &notice).await;
    let mut failed = 0;
    for (target, answer) in &answers {
        match answer {
            Ok(a) => println!("ok      {target}: {a}"),
            Err(e) => {
                failed += 1;
                println!("FAILED  {target}: {e}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => anyhow::bail!(
            "{n} of {} alert targets did not accept the test alert",
            answers.len()
        ),
    }
}

/// Runs `command` with the configured database URL, or stops with the configuration error.
fn with_database(config: &Config, command: impl FnOnce(DatabaseUrl) -> ExitCode) -> ExitCode {
    match config.database_url() {
        Ok(url) => command(url.clone()),
        Err(e) => {
            error!("invalid configuration: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// `jobs`: jobs enqueued here are for this bridge (`BRIDGE_NAME`).
async fn jobs_command(
    url: DatabaseUrl,
    bridge: BridgeName,
    command: JobsCommand,
) -> anyhow::Result<()> {
    let pool = store::connect(&url, DB_CONNECT_TIMEOUT).await?;
    store::migrate(&pool).await?;
    match command {
        JobsCommand::Enqueue {
            job_type,
            allow_duplicate,
            max_attempts,
        } => {
            let job = NewJob {
                dedup: if allow_duplicate {
                    Dedup::Allow
                } else {
                    Dedup::PerType
                },
                max_attempts,
                ..jobs::job_for(&job_type, "cli", &bridge)
            };
            match store::jobs::enqueue(&pool, &job).await? {
                Enqueued::Created(id) => println!(
                    "enqueued job {id} ({job_type}); `portfolio-bridge jobs list` shows how it went"
                ),
                Enqueued::AlreadyActive(id) => println!(
                    "job {id} ({job_type}) is already queued or running: nothing added \
                     (--allow-duplicate adds another)"
                ),
            }
        }
        JobsCommand::List {
            job_type,
            status,
            limit,
        } => {
            let rows =
                store::jobs::list(&pool, job_type.as_deref(), status.as_deref(), limit).await?;
            print!("{}", render_jobs(&rows));
        }
    }
    Ok(())
}

/// A time as `2026-11-21 14:05:09Z`.
fn utc(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `jobs list`'s table: one line per job, the result or the last error at the end.
pub fn render_jobs(rows: &[JobRow]) -> String {
    if rows.is_empty() {
        return "no jobs\n".into();
    }
    let mut out = format!(
        "{:>6}  {:<22} {:<16} {:<10} {:>8}  {:<20} {:<20} RESULT / LAST ERROR\n",
        "ID", "TYPE", "BRIDGE", "STATUS", "ATTEMPTS", "CREATED", "FINISHED"
    );
    for r in rows {
        let detail = match (&r.last_error, &r.result) {
            (Some(e), _) => e.clone(),
            (None, Some(v)) => v.to_string(),
            (None, None) => match &r.locked_by {
                Some(w) => format!("held by {w}"),
                None => String::new(),
            },
        };
        out.push_str(&format!(
            "{:>6}  {:<22} {:<16} {:<10} {:>8}  {:<20} {:<20} {}\n",
            r.id,
            r.job_type,
            r.bridge.as_deref().unwrap_or("any"),
            r.status,
            format!("{}/{}", r.attempts, r.max_attempts),
            utc(r.created_at),
            r.completed_at.map(utc).unwrap_or_default(),
            detail
        ));
    }
    out
}

fn init_logging() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Runs `task` on a fresh runtime; an error is logged once, with its whole cause chain.
fn run_async(task: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn spool_status(config: &Config) -> ExitCode {
    let path = &config.buffer_path;
    match greeks::spool::status(path) {
        Ok(None) => {
            println!(
                "no spool at {}: nothing waits for PostgreSQL",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Ok(Some(s)) => {
            println!("spool {}", path.display());
            println!("  records waiting: {}", s.rows);
            if let (Some(oldest), Some(newest)) = (s.oldest, s.newest) {
                println!("  oldest: {oldest}  newest: {newest}");
            }
            println!("  size: {} bytes", s.bytes);
            println!(
                "  unreadable lines waiting: {} (the next drain moves them to {}.rejects)",
                s.unreadable,
                path.display()
            );
            println!(
                "  torn last line: {}",
                if s.torn_tail {
                    "yes (cut off when the bridge next opens the spool)"
                } else {
                    "no"
                }
            );
            println!("  lines rejected so far: {}", s.rejected);
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Drains the spool into PostgreSQL, with a progress bar on a terminal.
/// Records per transaction of `spool drain`.
const DRAIN_BATCH: usize = 20_000;

async fn spool_drain(url: DatabaseUrl, path: PathBuf, bridge: BridgeName) -> anyhow::Result<()> {
    let tty = std::io::stderr().is_terminal();
    // Counted for the progress bar alone: it reads and parses the whole spool once more.
    let total = if tty {
        greeks::spool::status(&path)?.map_or(0, |s| s.rows)
    } else {
        0
    };
    let pool = store::connect(&url, DB_CONNECT_TIMEOUT).await?;
    store::migrate(&pool).await?;
    let sink = std::sync::Arc::new(greeks::sink::PgSink {
        pool,
        timeout: Duration::from_secs(30),
        schema: None,
    });
    let spool = greeks::spool::Spool::open(&path)?;
    let (mut writer, _) = greeks::writer::Writer::new(
        sink,
        spool,
        greeks::writer::WriterSettings {
            // Nothing else waits on this process's transactions: bigger ones, fewer commits.
            batch: DRAIN_BATCH,
            bridge,
            ..greeks::writer::WriterSettings::default()
        },
    )?;
    let drained = writer
        .drain_now(|done| {
            if tty {
                let pct = (done * 100).checked_div(total).map_or(100, |p| p.min(100));
                let bar = "#".repeat(pct / 5) + &"-".repeat(20 - pct / 5);
                eprint!("\rdrained {done} of {total} records [{bar}] {pct}%");
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    if tty {
        eprintln!();
    }
    println!(
        "drained {drained} records from {} into PostgreSQL; the spool is empty",
        path.display()
    );
    Ok(())
}

/// Runs the bridge until Ctrl-C or SIGTERM.
async fn run(
    config: Config,
    spool: (greeks::spool::Spool, greeks::spool::Opened),
) -> anyhow::Result<()> {
    runtime::run(config, spool, on_signal()).await
}

/// A shutdown signal fired by Ctrl-C or SIGTERM.
fn on_signal() -> Shutdown {
    use tokio::signal::unix::{SignalKind, signal};
    let (stop, shutdown) = Shutdown::new();
    // Installed here, before anything starts, not in the task below: a signal that arrives
    // before that task first runs would otherwise take the default action and kill the
    // process without its closing account.
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    tokio::spawn(async move {
        tokio::select! {
            _ = received(int.as_mut()) => info!("Ctrl-C received"),
            _ = received(term.as_mut()) => info!("SIGTERM received"),
        }
        let _ = stop.send(true);
    });
    shutdown
}

/// Resolves when `signal` arrives; never, if it could not be installed.
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

async fn greeks_partition(url: DatabaseUrl) -> anyhow::Result<()> {
    let pool = store::connect(&url, DB_CONNECT_TIMEOUT).await?;
    store::migrate(&pool).await?;
    let moved = store::partitions::partition_existing(&pool, jiff::Timestamp::now(), |m| {
        info!("{} rows moved", m.rows + m.already_there)
    })
    .await?;
    println!(
        "portfolio_greeks is partitioned by day: {} rows moved now, {} already there (the same \
         row_key), none lost",
        moved.rows, moved.already_there
    );
    Ok(())
}

async fn migrate(url: DatabaseUrl) -> anyhow::Result<()> {
    let pool = store::connect(&url, DB_CONNECT_TIMEOUT).await?;
    let report = store::migrate(&pool).await?;
    for (version, description) in &report.applied {
        info!("applied migration {version}: {description}");
    }
    println!(
        "schema at version {} on {url}: {} migration(s) applied now, every table ready",
        report.current,
        report.applied.len()
    );
    if report.partitioned {
        println!("portfolio_greeks was empty and is now partitioned by day");
    }
    if let Some(advice) = report.greeks_advice() {
        println!("{advice}");
    }
    Ok(())
}
