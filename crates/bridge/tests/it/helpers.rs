//! What several test modules need: the bridge binary in a clean environment, and the URL of a
//! `#[sqlx::test]` database.

use std::process::{Command, Output};

use portfolio_bridge::domain::ids::{AccountCode, BridgeName};
use portfolio_bridge::greeks::record::GreeksRecord;
use sqlx::PgPool;
use tempfile::TempDir;

/// The `portfolio-bridge` binary with an empty environment (only `HOME`), run in an empty
/// directory so that no `.env` is picked up unless a test writes one.
pub struct Bridge {
    pub dir: TempDir,
    envs: Vec<(String, String)>,
}

impl Bridge {
    pub fn new() -> Self {
        Bridge {
            dir: tempfile::tempdir().expect("temp dir"),
            envs: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portfolio-bridge"));
        command
            .args(args)
            .env_clear()
            .env("HOME", self.dir.path())
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path());
        // No test may depend on the time of day it runs at: without a window of its own, a
        // test's bridge has no reset window (the default's 23:40-00:05 New York would make a
        // dropped connection wait for 00:05 when the suite runs late in the evening).
        if !self.envs.iter().any(|(k, _)| k == "IB_RESET_WINDOW") {
            command.env("IB_RESET_WINDOW", "none");
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().expect("the bridge binary runs"))
    }

    /// As [`Bridge::run`], without blocking the runtime (which may be serving the simulator
    /// the command talks to through a bridge).
    pub async fn run_off_runtime(&self, args: &[&str]) -> Run {
        let mut command = self.command(args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join");
        Run(output.expect("the bridge binary runs"))
    }

    /// Starts `args` in the background; its standard error is collected for the test to read.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.spawn_with(args, &[])
    }

    /// As [`Bridge::spawn`], with extra environment variables for this process only.
    pub fn spawn_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Spawned {
        use std::io::BufRead;
        let mut command = self.command(args);
        // Tests run bridges side by side: each serves its page on a port of its own.
        if !self.envs.iter().any(|(k, _)| k == "BRIDGE_HTTP_ADDR") {
            command.env("BRIDGE_HTTP_ADDR", "127.0.0.1:0");
        }
        let mut child = command
            .envs(extra.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the bridge binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = text.clone();
        // Counts the lines read, so a test can await the next one; closed when the pipe is.
        let (lines, lines_rx) = tokio::sync::watch::channel(0usize);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut t = sink.lock().expect("lock");
                t.push_str(&line);
                t.push('\n');
                drop(t);
                lines.send_modify(|n| *n += 1);
            }
        });
        Spawned {
            child: Some(child),
            stderr: text,
            lines: lines_rx,
        }
    }
}

/// A finished run of the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

/// The URL of the database `pool` is connected to: `DATABASE_URL` with its database swapped.
pub async fn database_url_of(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await
        .expect("current_database()");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for the tests");
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// `target/test-artifacts/`, made if need be: where tests leave screenshots and reports.
pub fn artifacts() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/test-artifacts"
    ));
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// A reset window from 30 minutes ago to 30 minutes ahead, in UTC: whatever the time of day
/// the test runs at, the bridge starts inside it.
pub fn window_around_now() -> String {
    use jiff::ToSpan;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let at = |z: jiff::Zoned| z.strftime("%H:%M").to_string();
    let start = now.checked_sub(30.minutes()).expect("in range");
    let end = now.checked_add(30.minutes()).expect("in range");
    format!("{}-{}", at(start), at(end))
}

/// A day 3 business days before the last trade date of the simulator's front CL month, and
/// that date.
pub fn three_business_days_before_a_front_month() -> (jiff::civil::Date, jiff::civil::Date) {
    use ibkr_sim::calendar::Root;
    use jiff::civil::date;
    let front = Root::Cl.listed_months(date(2027, 3, 1), 1)[0];
    let last = Root::Cl.last_trade_date(front);
    let mut day = last;
    let mut left = 0;
    while left < 3 {
        day = day.yesterday().expect("a date");
        if !matches!(
            day.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            left += 1;
        }
    }
    (day, last)
}

/// Long enough for anything that should happen; reaching it fails the test.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// `fut`, or a panic naming `what` if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Asks `check` every 20 ms until it holds, failing the test after [`PATIENCE`]: for state
/// that announces no change of its own (PostgreSQL's catalog, say).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    within(what, async {
        while !check().await {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// The advisory locks in the database, granted or waited for.
pub async fn advisory_locks(pool: &PgPool, granted: bool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = $1")
        .bind(granted)
        .fetch_one(pool)
        .await
        .expect("pg_locks")
}

pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(ibkr_sim::world::NEW_YORK.clone())
        .date()
}

/// The bundled scenario on ephemeral ports, the Client Portal over HTTPS as the real gateway.
pub fn sim_config() -> ibkr_sim::SimConfig {
    let mut cfg =
        ibkr_sim::SimConfig::for_tests(ibkr_sim::scenario::Scenario::default_for(today()));
    cfg.cp.tls = true;
    cfg
}

pub async fn start_sim(config: ibkr_sim::SimConfig) -> ibkr_sim::Simulator {
    ibkr_sim::Simulator::start(config)
        .await
        .expect("the simulator starts")
}

/// The bridge's Client Portal settings for `sim`: its self-signed certificate accepted, as
/// for any loopback gateway.
pub fn portal_config(sim: &ibkr_sim::Simulator) -> portfolio_bridge::config::PortalConfig {
    portfolio_bridge::config::PortalConfig {
        base_url: url::Url::parse(&sim.cp_url()).expect("the simulator's URL"),
        timeout: std::time::Duration::from_secs(5),
        tickle_interval: std::time::Duration::from_millis(200),
        verify_tls: false,
        enabled: true,
    }
}

pub async fn client(sim: &ibkr_sim::Simulator) -> portfolio_bridge::ibkr::portal::PortalClient {
    portfolio_bridge::ibkr::portal::PortalClient::new(&portal_config(sim)).expect("client")
}

/// A keeper checked once, with its session channel.
pub async fn checked_session(
    sim: &ibkr_sim::Simulator,
) -> (
    portfolio_bridge::ibkr::portal::SessionKeeper,
    tokio::sync::watch::Receiver<portfolio_bridge::ibkr::portal::PortalSession>,
) {
    let (log, _rx) = portfolio_bridge::api_log::ApiLog::channel();
    let (keeper, session) = portfolio_bridge::ibkr::portal::SessionKeeper::new(
        client(sim).await,
        std::time::Duration::from_millis(100),
        std::time::Duration::from_millis(100),
        log,
    );
    keeper.check().await;
    (keeper, session)
}

/// A bridge process that is killed if the test ends (or fails) without stopping it, so no
/// process outlives its test and its database.
pub struct Spawned {
    child: Option<std::process::Child>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    lines: tokio::sync::watch::Receiver<usize>,
}

impl Spawned {
    /// What it has written to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits until its standard error contains `text`, woken by each line it writes.
    pub async fn wait_for_stderr(&self, text: &str) {
        self.wait_for_stderr_since(0, text).await;
    }

    /// Where its standard error stands now: for [`Spawned::wait_for_stderr_since`].
    pub fn stderr_mark(&self) -> usize {
        self.stderr().len()
    }

    /// Waits until what it wrote after `mark` contains `text`: a line that is news, not an
    /// earlier one with the same words.
    pub async fn wait_for_stderr_since(&self, mark: usize, text: &str) {
        let mut lines = self.lines.clone();
        let found = || self.stderr().get(mark..).is_some_and(|s| s.contains(text));
        within(&format!("{text:?} on the bridge's stderr"), async {
            while !found() {
                if lines.changed().await.is_err() && !found() {
                    panic!(
                        "the bridge closed its stderr without {text:?}:\n{}",
                        self.stderr()
                    );
                }
            }
        })
        .await;
    }

    /// The address it serves the read API and page on (`BRIDGE_HTTP_ADDR`, port 0 resolved),
    /// once it says so.
    pub async fn served_at(&self) -> String {
        const SERVING: &str = "read API and web page at http://";
        self.wait_for_stderr(SERVING).await;
        self.stderr()
            .split_once(SERVING)
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(addr, _)| addr.to_owned())
            .expect("the address served")
    }

    /// Kills it outright (SIGKILL), as a crash would.
    pub async fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            tokio::task::spawn_blocking(move || {
                let _ = child.kill();
                let _ = child.wait();
            })
            .await
            .expect("join");
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` (`INT`, `TERM`) to the process and waits for it without blocking the
/// runtime, which may be running the simulator it talks to; its exit status and standard
/// error. A process that does not stop within [`PATIENCE`] is killed and fails the test.
pub async fn stop(spawned: Spawned, signal: &str) -> (std::process::ExitStatus, String) {
    let pid = spawned
        .child
        .as_ref()
        .expect("a running process")
        .id()
        .to_string();
    Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status()
        .expect("kill runs");
    exited(spawned, &format!("SIG{signal}")).await
}

/// Waits for the process to end by itself (after `what`); as [`stop`], it is killed and the
/// test fails if that takes longer than [`PATIENCE`].
pub async fn exited(mut spawned: Spawned, what: &str) -> (std::process::ExitStatus, String) {
    let mut child = spawned.child.take().expect("a running process");
    let deadline = std::time::Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the bridge's status") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the bridge did not stop within {PATIENCE:?} of {what}:\n{}",
                spawned.stderr()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // Everything it wrote: the reader closes its channel at the end of the pipe.
    let mut lines = spawned.lines.clone();
    within("the end of its standard error", async {
        while lines.changed().await.is_ok() {}
    })
    .await;
    (status, spawned.stderr())
}

/// The message of the first `api_logs` row with this mode and status, once there is one.
pub async fn first_api_log(pool: &PgPool, api_mode: &str, status: &str) -> String {
    within("an api_logs row", async {
        loop {
            let found: Option<String> = sqlx::query_scalar(
                "SELECT message FROM api_logs WHERE api_mode = $1 AND status = $2 ORDER BY id LIMIT 1",
            )
            .bind(api_mode)
            .bind(status)
            .fetch_optional(pool)
            .await
            // Before the bridge has migrated there is no table yet.
            .unwrap_or(None);
            if let Some(message) = found {
                return message;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
}

/// The `api_logs` records received so far, as `"<status> <message>"`.
pub fn log_lines(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<portfolio_bridge::greeks::record::Record>>,
) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(records) = rx.try_recv() {
        out.extend(log_lines_of(records));
    }
    out
}

/// The `api_logs` entries among `records`, as `"<status> <message>"`.
pub fn log_lines_of(records: Vec<portfolio_bridge::greeks::record::Record>) -> Vec<String> {
    records
        .into_iter()
        .filter_map(|r| match r {
            portfolio_bridge::greeks::record::Record::ApiLog {
                status, message, ..
            } => Some(format!("{status} {message}")),
            _ => None,
        })
        .collect()
}

/// An `api_logs` handle whose entries are stored in `pool` by a writer of their own (spooling
/// into `dir`), as in the bridge.
pub fn db_log(pool: &PgPool, dir: &std::path::Path) -> portfolio_bridge::api_log::ApiLog {
    use portfolio_bridge::greeks::{sink::PgSink, writer};
    let (tx, rx) = writer::channel();
    let sink = std::sync::Arc::new(PgSink {
        pool: pool.clone(),
        timeout: std::time::Duration::from_secs(5),
        schema: None,
    });
    let spool = portfolio_bridge::greeks::spool::Spool::open(&dir.join("spool.jsonl"))
        .expect("the test's spool");
    let (w, _status) = writer::Writer::new(sink, spool, writer::WriterSettings::default())
        .expect("the test's writer");
    tokio::spawn(w.run(rx));
    portfolio_bridge::api_log::ApiLog::new(tx, writer::WriterSettings::default().bridge)
}

/// A PostgreSQL cluster of a test's own (scripts/ensure-postgres on its own port and
/// directory), so the test can stop and start it without touching the shared one. Its port
/// must lie below Linux's ephemeral range (32768–60999): the many connections tests open take
/// local ports from that range, and one of them holding the cluster's port stops its restart.
/// Dropped — the test ended or failed — it is stopped, so no cluster outlives its test.
pub struct OwnCluster {
    dir: String,
    port: u16,
    db: String,
    /// Where the script runs from: private (0700), as a checkout under `mktemp -d` is.
    cwd: TempDir,
}

impl OwnCluster {
    pub fn new(name: &str, port: u16) -> OwnCluster {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let base = if root {
            "/var/lib/portfolio-bridge".to_owned()
        } else {
            format!(
                "{}/.local/share/portfolio-bridge",
                std::env::var("HOME").expect("HOME")
            )
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_nanos();
        OwnCluster {
            dir: format!("{base}/pg-test-{name}"),
            port,
            db: format!("t_{name}_{nanos}"),
            cwd: tempfile::tempdir().expect("a private directory"),
        }
    }

    /// `ensure-postgres arg` for this cluster.
    fn command(&self, arg: &str) -> Command {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ensure-postgres");
        let mut command = Command::new(script);
        command
            .arg(arg)
            .current_dir(self.cwd.path())
            .env("PB_PG_DIR", &self.dir)
            .env("PB_PG_PORT", self.port.to_string())
            .env("PB_PG_DB", &self.db);
        command
    }

    /// Runs `ensure-postgres arg` for this cluster and gives what it printed.
    async fn script(&self, arg: &'static str) -> String {
        let mut command = self.command(arg);
        let out =
            tokio::task::spawn_blocking(move || command.output().expect("ensure-postgres runs"))
                .await
                .expect("join");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // The cluster's owner cannot enter a private directory: the script must not try.
        assert!(!stderr.contains("could not change directory"), "{stderr}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// Starts it (creating it the first time) and gives the URL of this test's database.
    pub async fn start(&self) -> String {
        self.script("--private").await
    }

    pub async fn stop(&self) {
        self.script("--stop").await;
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        // Stopping a stopped cluster is a no-op; a failure here must not hide the test's own.
        let _ = self
            .command("--stop")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A tmpfs of a few KiB mounted on a fresh directory, for tests of a full disk; unmounted when
/// dropped, whether the test passed or failed.
pub struct TinyFs {
    dir: TempDir,
}

impl TinyFs {
    /// Mounts one of `kib` KiB, or says on stderr why the calling test is skipped and gives
    /// `None` where this process may not mount (mounting needs root, as CI runs).
    pub fn mount(kib: u32) -> Option<TinyFs> {
        let dir = tempfile::tempdir().expect("a mount point");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(TinyFs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: this test needs a small filesystem of its own, and mounting a tmpfs \
                     failed here: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: this test needs mount(8) to make a small filesystem: {e}");
                None
            }
        }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Takes all its free space, as a disk fills up under a running program.
    pub fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.dir.path().join("filler")).expect("filler");
        let block = [0u8; 4096];
        while filler.write_all(&block).is_ok() {}
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        // Lazily: a process the failed test left behind may still hold a file in it.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The stored `portfolio_greeks` rows that `tail` (`WHERE … ORDER BY …`) selects, read back
/// as the records the bridge wrote: every column, exactly.
pub async fn stored_greeks(pool: &PgPool, tail: &str) -> Result<Vec<GreeksRecord>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        at_ms: i64,
        contract: String,
        delta: f64,
        gamma: f64,
        vega: f64,
        theta: f64,
        underlying_price: Option<f64>,
        row_key: String,
        account: Option<String>,
        delta_dollars: Option<f64>,
        gamma_dollars: Option<f64>,
        vega_lt30: Option<f64>,
        vega_30_90: Option<f64>,
        vega_gt90: Option<f64>,
        theta_lt30: Option<f64>,
        theta_30_90: Option<f64>,
        theta_gt90: Option<f64>,
        bridge: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"SELECT (extract(epoch FROM "timestamp") * 1000)::bigint AS at_ms, contract, delta,
                  gamma, vega, theta, underlying_price, row_key, account, delta_dollars,
                  gamma_dollars, vega_lt30, vega_30_90, vega_gt90, theta_lt30, theta_30_90,
                  theta_gt90, bridge
             FROM portfolio_greeks {tail}"#
    )))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| GreeksRecord {
            key: r.row_key,
            at_ms: r.at_ms,
            contract: r.contract,
            delta: r.delta,
            gamma: r.gamma,
            vega: r.vega,
            theta: r.theta,
            underlying_price: r.underlying_price,
            account: r
                .account
                .map(|a| AccountCode::parse(&a).expect("an account code")),
            delta_dollars: r.delta_dollars,
            gamma_dollars: r.gamma_dollars,
            vega_lt30: r.vega_lt30,
            vega_30_90: r.vega_30_90,
            vega_gt90: r.vega_gt90,
            theta_lt30: r.theta_lt30,
            theta_30_90: r.theta_30_90,
            theta_gt90: r.theta_gt90,
            bridge: r
                .bridge
                .map(|b| BridgeName::parse(&b).expect("a bridge name")),
        })
        .collect())
}

/// Complete records waiting in the spool file (by key).
pub fn spooled_keys(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "greeks")
        .filter_map(|v| v["key"].as_str().map(str::to_owned))
        .collect()
}

/// Until the bridge process has drained `path` (another process's file: no event to await
/// but its length, checked through the suite's one poll, [`eventually`]).
pub async fn until_spool_empty(path: &std::path::Path) {
    eventually("an empty spool", || async {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0
    })
    .await;
}

/// Every key of `keys` is stored exactly once, and no key of `portfolio_greeks` twice.
pub async fn stored_once(pool: &PgPool, keys: &[String]) {
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT row_key, count(*) FROM portfolio_greeks WHERE row_key = ANY($1) GROUP BY row_key",
    )
    .bind(keys)
    .fetch_all(pool)
    .await
    .expect("counts");
    assert_eq!(counts.len(), keys.len(), "every kept row is stored");
    assert!(
        counts.iter().all(|(_, n)| *n == 1),
        "none twice: {counts:?}"
    );
    let dupes: i64 =
        sqlx::query_scalar("SELECT count(*) - count(DISTINCT row_key) FROM portfolio_greeks")
            .fetch_one(pool)
            .await
            .expect("dupes");
    assert_eq!(dupes, 0);
}

/// The number in the bridge's closing account: "stopped: N greeks rows made since start".
pub fn rows_made(stderr: &str) -> usize {
    let (_, after) = stderr
        .split_once("stopped: ")
        .unwrap_or_else(|| panic!("no closing account in:\n{stderr}"));
    after
        .split_once(' ')
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no row count in:\n{stderr}"))
}

/// A `PORTFOLIO` all-accounts greeks row of `bridge` at `at_ms` with `delta`, keyed as the
/// bridge keys it.
pub fn portfolio_row(bridge: &str, at_ms: i64, delta: f64) -> GreeksRecord {
    GreeksRecord {
        key: format!("{at_ms}@{bridge}:PORTFOLIO"),
        at_ms,
        contract: "PORTFOLIO".into(),
        delta,
        gamma: 0.5,
        vega: 10.0,
        theta: -3.0,
        underlying_price: None,
        account: None,
        delta_dollars: Some(delta * 100.0),
        gamma_dollars: None,
        vega_lt30: None,
        vega_30_90: None,
        vega_gt90: None,
        theta_lt30: None,
        theta_30_90: None,
        theta_gt90: None,
        bridge: BridgeName::parse(bridge),
    }
}
