//! `scripts/demo`, the README's main command, run as a user runs it: it comes up with the
//! simulator and the bridge, serves native combos, and Ctrl-C (SIGINT to its process group,
//! as a terminal sends it) stops every process it started, the simulator in its own session too.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::PgPool;

use crate::helpers::{PATIENCE, database_url_of, within};

/// How long the demo may take to build and come up.
const BUILD_PATIENCE: Duration = Duration::from_secs(600);

/// Four distinct free ports: each listener is held until all are picked, so the kernel cannot
/// hand out one port twice.
fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("bound").port())
}

/// Whether any process of the group `pgid` is alive.
fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[sqlx::test(migrations = false)]
async fn the_demo_serves_combos_and_ctrl_c_leaves_no_process_behind(pool: PgPool) {
    // reqwest is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let dir = tempfile::tempdir().expect("dir");
    let ports = free_ports();
    let [http_port, cp_port, tws_port, control_port] = ports;
    let mut child = Command::new("bash")
        .arg("scripts/demo")
        .current_dir(root)
        .env("PB_DEMO_DATABASE_URL", database_url_of(&pool).await)
        .env("PB_DEMO_PROFILE", "dev")
        .env("PB_DEMO_DIR", dir.path())
        .env("PB_DEMO_HTTP_PORT", http_port.to_string())
        .env("PB_DEMO_CP_PORT", cp_port.to_string())
        .env("PB_DEMO_TWS_PORT", tws_port.to_string())
        .env("PB_DEMO_CONTROL_PORT", control_port.to_string())
        // Pinned: nothing here may depend on the time of day the test runs at.
        .env("IB_RESET_WINDOW", "none")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let pgid = child.id();
    let _guard = DemoGuard {
        pgid,
        sim_pid: dir.path().join("ibkr-sim.pid"),
    };
    let mut output = Output::of(&mut child);
    // The demo builds the binaries first: on a cold cache that takes minutes, not seconds.
    let open = format!("Open http://127.0.0.1:{http_port}/");
    output
        .until("banner", |l| l.contains(&open), BUILD_PATIENCE)
        .await;
    output
        .until(
            "combo sync in the bridge's log",
            |l| l.contains("job completed") && l.contains("combo_positions.sync"),
            PATIENCE,
        )
        .await;

    let url = format!("http://127.0.0.1:{http_port}/api/v1/spreads");
    let spreads: Vec<serde_json::Value> = reqwest::get(&url)
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("JSON");
    assert!(
        spreads
            .first()
            .and_then(|s| s["legs_text"].as_str())
            .is_some_and(|l| l.starts_with("-1 CL")),
        "{spreads:?}"
    );

    Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .expect("kill runs");
    // The pipes close once the demo and every child writing to them have exited.
    output.read_to_end(PATIENCE).await;
    let status = within(
        "the demo's exit",
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("join")
    .expect("status");
    let log = output.log;
    assert!(status.success(), "{status:?}:\n{log}");
    assert!(log.contains("0 lost"), "{log}");
    assert!(
        !group_alive(pgid),
        "a process of the demo outlived it:\n{log}"
    );
    // The simulator runs in a session of its own: nothing may listen on its ports any more.
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on {port}:\n{log}"
        );
    }
}

/// Whatever the demo started, stopped when the test ends — above all when it fails half-way:
/// SIGINT to its process group as Ctrl-C sends it (its trap stops the bridge and the
/// simulator), then SIGKILL for anything left, the simulator in its own session included.
struct DemoGuard {
    pgid: u32,
    sim_pid: std::path::PathBuf,
}

impl Drop for DemoGuard {
    fn drop(&mut self) {
        let group = format!("-{}", self.pgid);
        if group_alive(self.pgid) {
            let _ = Command::new("kill").args(["-INT", "--", &group]).status();
            // A grace period for its trap to stop what it started: nothing announces the
            // end of processes this test did not start itself, so it looks every 50 ms.
            let deadline = std::time::Instant::now() + PATIENCE;
            while group_alive(self.pgid) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
        if let Ok(pid) = std::fs::read_to_string(&self.sim_pid) {
            let _ = Command::new("kill")
                .args(["-KILL", pid.trim()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Every line a process prints, from both its streams, as it prints it.
struct Output {
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    log: String,
}

impl Output {
    fn of(child: &mut std::process::Child) -> Output {
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for stream in streams {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Output {
            lines,
            log: String::new(),
        }
    }

    /// The next line, or `None` once both streams are closed.
    async fn next(&mut self) -> Option<String> {
        let line = self.lines.recv().await?;
        self.log.push_str(&line);
        self.log.push('\n');
        Some(line)
    }

    /// Reads until a line `wanted` matches; fails after `patience` or at the end of output.
    async fn until(&mut self, what: &str, wanted: impl Fn(&str) -> bool, patience: Duration) {
        let found = tokio::time::timeout(patience, async {
            while let Some(line) = self.next().await {
                if wanted(&line) {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(matches!(found, Ok(true)), "no {what}:\n{}", self.log);
    }

    /// Reads to the end of output; fails if it does not end within `patience`.
    async fn read_to_end(&mut self, patience: Duration) {
        let ended =
            tokio::time::timeout(patience, async { while self.next().await.is_some() {} }).await;
        assert!(ended.is_ok(), "the output did not end:\n{}", self.log);
    }
}
