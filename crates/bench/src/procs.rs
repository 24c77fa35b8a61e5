//! The real processes a benchmark runs — ibkr-sim and portfolio-bridge — their databases, and
//! what `/proc` says about them. Every process is killed when its handle drops.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::Env;

/// `n` distinct free ports: every listener is held until all are picked, so the kernel cannot
/// hand out one port twice.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("bound").port())
}

/// A child process, its log file, killed on drop. Its output lines arrive on `lines` as it
/// writes them (and go to the log file too).
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    lines: mpsc::UnboundedReceiver<String>,
    seen: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.pid().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().await?;
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .context("the process did not stop within 60 s")??;
        Ok(())
    }

    /// Waits for the next output line that `wanted` matches, and returns it; fails if the
    /// output ends first or after `limit`.
    pub async fn next_line(
        &mut self,
        wanted: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> anyhow::Result<String> {
        let found = tokio::time::timeout(limit, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push_str(&line);
                self.seen.push('\n');
                if wanted(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => Ok(line),
            Ok(None) => anyhow::bail!("{} ended first:\n{}", self.log.display(), self.seen),
            Err(_) => anyhow::bail!(
                "nothing within {limit:?} in {}:\n{}",
                self.log.display(),
                self.seen
            ),
        }
    }

    /// Writes `line` to its standard input (a process started to answer questions there).
    pub async fn send(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self
            .child
            .stdin
            .as_mut()
            .context("its stdin is not a pipe")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Waits until the output has a line containing `text`.
    pub async fn wait_for_log(&mut self, text: &str, limit: Duration) -> anyhow::Result<()> {
        self.next_line(|l| l.contains(text), limit).await.map(drop)
    }

    /// Everything it writes until its output ends.
    pub async fn rest(&mut self) -> String {
        while let Some(line) = self.lines.recv().await {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        self.seen.clone()
    }
}

/// Sends each line of `stream` to `tx` and appends it to `log`.
fn forward(
    stream: impl AsyncRead + Unpin + Send + 'static,
    log: PathBuf,
    tx: mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .await
            .ok();
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(f) = file.as_mut() {
                let _ = f.write_all(format!("{line}\n").as_bytes()).await;
            }
            let _ = tx.send(line);
        }
    });
}

/// A process's extra environment: `(name, value)`.
pub type Vars = Vec<(String, String)>;

fn spawn(
    bin: &Path,
    args: &[&str],
    envs: &[(String, String)],
    dir: &Path,
    name: &str,
    stdin: Stdio,
) -> anyhow::Result<Proc> {
    let log = dir.join(format!("{name}.log"));
    std::fs::File::create(&log)?;
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let (tx, lines) = mpsc::unbounded_channel();
    forward(
        child.stdout.take().context("stdout")?,
        log.clone(),
        tx.clone(),
    );
    forward(child.stderr.take().context("stderr")?, log.clone(), tx);
    Ok(Proc {
        child,
        log,
        lines,
        seen: String::new(),
    })
}

/// A running ibkr-sim and where it listens.
pub struct Sim {
    pub proc: Proc,
    pub cp_url: String,
    pub tws_addr: String,
    /// The control API's base, `http://127.0.0.1:PORT`.
    pub control_url: String,
}

/// Starts ibkr-sim on `scenario` (TOML) with `extra` flags (`--no-walk` keeps prices still).
pub async fn start_sim(env: &Env, scenario: &str, extra: &[&str]) -> anyhow::Result<Sim> {
    let dir = tempdir(env, "sim")?;
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario)?;
    let [cp, tws, control] = free_ports();
    let cp_addr = format!("127.0.0.1:{cp}");
    let tws_addr = format!("127.0.0.1:{tws}");
    let control_addr = format!("127.0.0.1:{control}");
    let mut args = vec![
        "--scenario",
        file.to_str().context("utf-8 path")?,
        "--cp-addr",
        &cp_addr,
        "--tws-addr",
        &tws_addr,
        "--control-addr",
        &control_addr,
    ];
    args.extend_from_slice(extra);
    let mut proc = spawn(&env.sim, &args, &[], &dir, "ibkr-sim", Stdio::null())?;
    proc.wait_for_log("ibkr-sim is running", Duration::from_secs(60))
        .await?;
    Ok(Sim {
        proc,
        cp_url: format!("https://{cp_addr}/v1/api"),
        tws_addr,
        control_url: format!("http://{control_addr}"),
    })
}

/// The bridge's environment against `sim` and `database_url`; `extra` adds or overrides.
pub fn bridge_env(sim: &Sim, database_url: &str, dir: &Path, extra: &[(&str, &str)]) -> Vars {
    let mut envs: Vars = [
        ("DATABASE_URL", database_url.to_owned()),
        ("IB_SOCKET_ADDR", sim.tws_addr.clone()),
        // A measurement must not depend on the time of day it runs at.
        ("IB_RESET_WINDOW", "none".into()),
        ("IBKR_CP_BASE_URL", sim.cp_url.clone()),
        ("IBKR_CP_VERIFY_TLS", "false".into()),
        (
            "BRIDGE_BUFFER_PATH",
            dir.join("spool.jsonl").display().to_string(),
        ),
        (
            "BRIDGE_HTTP_ADDR",
            format!("127.0.0.1:{}", free_ports::<1>()[0]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        envs.retain(|(name, _)| name != k);
        envs.push(((*k).to_owned(), (*v).to_owned()));
    }
    envs
}

/// Starts `portfolio-bridge <args>` with `envs` in a directory of its own.
pub fn start_bridge(
    env: &Env,
    args: &[&str],
    envs: &[(String, String)],
    name: &str,
) -> anyhow::Result<Proc> {
    let dir = tempdir(env, name)?;
    let mut all: Vars = vec![("RUST_LOG".into(), "info,sqlx=warn".into())];
    all.extend_from_slice(envs);
    spawn(&env.bridge, args, &all, &dir, name, Stdio::null())
}

/// Starts this binary as the bare-client reference (`pb-bench --tap`) against `sim`; returns
/// once its subscriptions are open, with how many there are.
pub async fn start_tap(env: &Env, sim: &Sim) -> anyhow::Result<(Proc, usize)> {
    let dir = tempdir(env, "tap")?;
    let me = std::env::current_exe()?;
    let mut proc = spawn(
        &me,
        &["--tap", &sim.tws_addr],
        &[],
        &dir,
        "tap",
        Stdio::piped(),
    )?;
    let line = proc
        .next_line(|l| l.starts_with("subscribed "), Duration::from_secs(60))
        .await?;
    let n = line["subscribed ".len()..].trim().parse()?;
    Ok((proc, n))
}

/// Runs `portfolio-bridge <args>` to the end; fails with its output if it fails.
pub async fn run_bridge(
    env: &Env,
    args: &[&str],
    envs: &[(String, String)],
) -> anyhow::Result<String> {
    let mut proc = start_bridge(env, args, envs, &format!("bridge-{}", args.join("-")))?;
    let log = proc.rest().await;
    let status = proc.child.wait().await?;
    anyhow::ensure!(
        status.success(),
        "portfolio-bridge {} failed:\n{log}",
        args.join(" ")
    );
    Ok(log)
}

pub fn tempdir(env: &Env, name: &str) -> anyhow::Result<PathBuf> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = env.work.join(format!("{name}-{n}"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A fresh, empty database `name` on the server; its URL.
pub async fn fresh_database(env: &Env, name: &str) -> anyhow::Result<String> {
    let mut admin = PgConnection::connect(&env.database_url).await?;
    // One statement each: PostgreSQL runs a multi-statement string as one transaction.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await?;
    }
    let mut url = url_of(&env.database_url)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

fn url_of(s: &str) -> anyhow::Result<reqwest::Url> {
    reqwest::Url::parse(s).context("DATABASE_URL is not a URL")
}

/// Resident memory of `pid` in MiB.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb / 1024.0)
}

/// CPU seconds (user + system) `pid` has used.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').context("stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
