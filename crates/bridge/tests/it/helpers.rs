//! What several test modules need: the bridge binary in a clean environment, and the URL of a
//! `#[sqlx::test]` database.

use std::process::{Command, Output};

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
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().expect("the bridge binary runs"))
    }

    /// Starts `args` in the background; stderr is captured for the test to read.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let child = self
            .command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the bridge binary starts");
        Spawned(Some(child))
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

/// Long enough for anything that should happen; reaching it fails the test.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// `fut`, or a panic naming `what` if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
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

/// A bridge process that is killed if the test ends (or fails) without stopping it, so no
/// process outlives its test and its database.
pub struct Spawned(Option<std::process::Child>);

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` (`INT`, `TERM`) to the process and waits for it off the runtime, which may
/// be running the simulator it talks to; its exit status and standard error.
pub async fn stop(mut spawned: Spawned, signal: &str) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let mut child = spawned.0.take().expect("a running process");
    let pid = child.id().to_string();
    Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status()
        .expect("kill runs");
    tokio::task::spawn_blocking(move || {
        let status = child.wait().expect("the bridge exits");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read");
        (status, stderr)
    })
    .await
    .expect("join")
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
