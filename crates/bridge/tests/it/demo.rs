//! `scripts/demo`, the README's main command, run as a user runs it: it comes up with the
//! simulator and the bridge, serves native combos, and Ctrl-C (SIGINT to its process group,
//! as a terminal sends it) stops every process it started, the simulator in its own session too.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;

use crate::helpers::{database_url_of, within};

/// How long the demo may take to build and come up.
const BUILD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

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
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let pgid = child.id();
    let output = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let output = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut out = output.lock().expect("lock");
                out.push_str(&line);
                out.push('\n');
            }
        });
    }
    let text = || output.lock().expect("lock").clone();
    // The demo builds the binaries first: on a cold cache that takes minutes, not seconds.
    let banner = tokio::time::timeout(BUILD_PATIENCE, async {
        while !text().contains("Ctrl-C stops everything") {
            assert!(
                child.try_wait().expect("status").is_none(),
                "the demo ended:\n{}",
                text()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        banner.is_ok(),
        "no banner within {BUILD_PATIENCE:?}:\n{}",
        text()
    );
    let banner = text();
    assert!(
        banner.contains(&format!("Open http://127.0.0.1:{http_port}/")),
        "{banner}"
    );

    let url = format!("http://127.0.0.1:{http_port}/api/v1/spreads");
    let spreads = within("native combos on the API", async {
        loop {
            if let Ok(r) = reqwest::get(&url).await
                && let Ok(body) = r.json::<Vec<serde_json::Value>>().await
                && !body.is_empty()
            {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        spreads[0]["legs_text"]
            .as_str()
            .is_some_and(|l| l.starts_with("-1 CL")),
        "{spreads:?}"
    );

    Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .expect("kill runs");
    let status = within("the demo to stop", async {
        loop {
            if let Some(status) = child.try_wait().expect("status") {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    let log = text();
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
