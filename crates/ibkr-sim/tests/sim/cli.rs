//! The `ibkr-sim` binary as the demo runs it, and its control API over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::helpers::http;

const BIN: &str = env!("CARGO_BIN_EXE_ibkr-sim");

/// A running `ibkr-sim` on ephemeral ports, and the URLs it printed.
struct Running {
    child: Child,
    cp: String,
    tws: String,
    control: String,
}

impl Running {
    fn start(extra: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .args([
                "--cp-addr",
                "127.0.0.1:0",
                "--tws-addr",
                "127.0.0.1:0",
                "--control-addr",
                "127.0.0.1:0",
            ])
            .args(["--cp-plain-http", "--no-walk"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ibkr-sim starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut url = |label: &str| -> String {
            let line = lines.next().expect("a line").expect("utf-8");
            assert!(line.contains(label), "expected {label}: {line}");
            line.split_whitespace().last().expect("a URL").to_owned()
        };
        assert!(url("ibkr-sim is running").ends_with("):"));
        let cp = url("Client Portal API");
        let tws = url("TWS API socket");
        let control = url("control API").trim_end_matches("/status").to_owned();
        Running {
            child,
            cp,
            tws,
            control,
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = http()
            .request(method, format!("{}{path}", self.control))
            .json(&body)
            .send()
            .await
            .expect("the control API answers");
        resp.json().await.expect("json")
    }

    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        self.child.wait().expect("ibkr-sim exits")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn help_names_every_option() {
    let out = Command::new(BIN).arg("--help").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--scenario",
        "--cp-addr",
        "--tws-addr",
        "--control-addr",
        "--seed",
        "--ticks-per-second",
        "--daily-restart",
        "--cp-plain-http",
        "--cp-logged-out",
        "--no-walk",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn a_bad_scenario_stops_with_its_place() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "instruments = []\n[[underlyings]]\nsymbol = \"CL\"\nprice = -1\nvolatility = 0.3\n[[accounts]]\nid = \"DU1\"\n")
        .expect("write");
    let out = Command::new(BIN)
        .arg("--scenario")
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("underlyings[0] (CL)"),
        "{err}"
    );
}

#[test]
fn the_control_api_binds_loopback_only() {
    let out = Command::new(BIN)
        .args([
            "--cp-addr",
            "127.0.0.1:0",
            "--tws-addr",
            "127.0.0.1:0",
            "--control-addr",
            "0.0.0.0:0",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_drives_faults_and_the_scenario() {
    let sim = Running::start(&["--seed", "11"]);
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let status = sim.control(get.clone(), "/status", json!(null)).await;
    assert_eq!(status["cp"]["authenticated"], true);
    assert_eq!(status["tws"]["addr"].as_str(), Some(sim.tws.as_str()));
    assert_eq!(status["frozen"], true);

    let scenario = sim.control(get.clone(), "/scenario", json!(null)).await;
    assert_eq!(scenario["market"]["seed"], 11);
    assert_eq!(scenario["accounts"].as_array().map(Vec::len), Some(2));

    assert_eq!(
        sim.control(post.clone(), "/cp/logout", json!({})).await["ok"],
        true
    );
    let auth: Value = http()
        .post(format!("{}/iserver/auth/status", sim.cp))
        .header("Content-Length", "0")
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(auth["connected"], false);
    sim.control(post.clone(), "/cp/login", json!({})).await;

    let fault =
        json!({"path": "/portfolio", "kind": "status", "status": 503, "millis": 0, "count": 1});
    sim.control(post.clone(), "/cp/faults", fault).await;
    let resp = http()
        .get(format!("{}/portfolio/accounts", sim.cp))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let log = sim.control(get.clone(), "/cp/requests", json!(null)).await;
    assert!(
        log.as_array()
            .expect("log")
            .iter()
            .any(|r| r["status"] == 503)
    );

    let opened = sim
        .control(
            post.clone(),
            "/positions",
            json!({"account": "DU7654321", "conid": 830000001, "quantity": 2, "avg_price": 6000}),
        )
        .await;
    assert_eq!(opened["ok"], true);
    let refused = sim
        .control(
            post.clone(),
            "/positions",
            json!({"account": "nobody", "conid": 1, "quantity": 1}),
        )
        .await;
    assert!(
        refused["error"]
            .as_str()
            .expect("error")
            .contains("unknown account")
    );

    let combo = json!({"account": "DU7654321", "quantity": 1, "legs": [
        {"conid": 810000001, "ratio": -1, "avg_price": 71.0}, {"conid": 810000002, "ratio": 1, "avg_price": 71.2}]});
    let name = sim.control(post.clone(), "/combos", combo).await["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let closed = sim
        .control(
            reqwest::Method::DELETE,
            &format!("/combos/DU7654321/{name}"),
            json!(null),
        )
        .await;
    assert_eq!(closed["ok"], true);

    sim.control(
        post.clone(),
        "/prices",
        json!({"symbol": "CL", "price": 75.5}),
    )
    .await;
    sim.control(post.clone(), "/market/step", json!({"steps": 3}))
        .await;
    let prices = sim.control(get.clone(), "/status", json!(null)).await["prices"]["CL"]
        .as_f64()
        .expect("CL");
    assert!(
        prices != 75.5 && (prices - 75.5).abs() < 1.0,
        "three small steps from 75.5: {prices}"
    );

    sim.control(post.clone(), "/tws/restart", json!({"seconds": 30}))
        .await;
    let down = sim.control(get, "/status", json!(null)).await;
    assert_eq!(down["tws"]["down"], true);

    let exit = sim.interrupt();
    assert!(exit.success(), "Ctrl-C stops it cleanly: {exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_file_is_served_as_written() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tiny.toml");
    std::fs::write(
        &path,
        r#"
[[underlyings]]
symbol = "CL"
price = 70.0
volatility = 0.3
[[accounts]]
id = "U7777777"
[[instruments]]
conid = 42
symbol = "CL"
sec_type = "FUT"
contract_month = "203012"
exchange = "NYMEX"
multiplier = 1000
[[positions]]
account = "U7777777"
conid = 42
quantity = -4
avg_price = 69.5
"#,
    )
    .expect("write");
    let sim = Running::start(&["--scenario", path.to_str().expect("utf-8")]);
    let client = http();
    client
        .get(format!("{}/portfolio/accounts", sim.cp))
        .send()
        .await
        .expect("accounts");
    let rows: Value = client
        .get(format!("{}/portfolio/U7777777/positions/0", sim.cp))
        .send()
        .await
        .expect("rows")
        .json()
        .await
        .expect("json");
    assert_eq!(rows[0]["conid"], 42);
    assert_eq!(rows[0]["position"], -4.0);
    assert_eq!(rows[0]["contractDesc"], "CL       DEC2030");
}
