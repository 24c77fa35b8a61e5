//! IBKR clients nobody here wrote, against the simulator: ib_async 2.1 (the text protocol at
//! v178, with its standard start-up synchronisation), IBKR's official Python client 10.51 at
//! several highest versions — text, mixed text and protobuf, protobuf — and IBind 0.2 on the
//! Client Portal side, each running a script of `tests/clients/` against a simulator started
//! here. The clients come from PyPI into
//! `target/ibkr-clients` (`scripts/ensure-ibkr-clients`, which `scripts/test` runs).
//!
//! A script prints `ok <check>` per step and exits non-zero at the first that fails, so a
//! failure here names the step a client could not take.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ibkr_sim::Simulator;
use tokio::process::Command;

use crate::helpers::{config, start_with};

/// AAPL stock: the instrument these tests make delayed-only.
const DELAYED_CONID: i32 = 265598;
/// A whole script; each of its steps has 15 s.
const SCRIPT_PATIENCE: Duration = Duration::from_secs(180);

fn python() -> PathBuf {
    let bin = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/ibkr-clients/bin/python"
    ));
    assert!(
        bin.is_file(),
        "the Python IBKR clients are missing ({}): run scripts/ensure-ibkr-clients \
         (scripts/test does)",
        bin.display()
    );
    bin
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients")).join(name)
}

/// A simulator with its control API on an ephemeral port and AAPL delayed-only.
async fn simulator() -> (Simulator, String) {
    let mut cfg = config();
    cfg.control_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    cfg.scenario
        .instruments
        .get_mut(&DELAYED_CONID)
        .expect("AAPL")
        .delayed_only = true;
    let sim = start_with(cfg).await;
    let control = sim
        .control_url()
        .expect("a control API")
        .trim_start_matches("http://")
        .to_owned();
    (sim, control)
}

/// Runs `name` with `args`; panics with everything it printed unless every check passed and
/// each of `steps` was reported.
async fn run(name: &str, args: &[String], steps: &[&str]) {
    let mut cmd = Command::new(python());
    cmd.arg(script(name))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        // The script is killed with the test if the test fails or times out first.
        .kill_on_drop(true);
    let out = tokio::time::timeout(SCRIPT_PATIENCE, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{name} {args:?} did not finish"))
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !stdout.contains("FAIL"),
        "{name} {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for step in steps {
        assert!(
            stdout.contains(&format!("ok {step}\n")),
            "{step} missing from:\n{stdout}"
        );
    }
}

/// A TWS client script's arguments: the simulator's TWS port, its control API, the
/// delayed-only conid.
fn tws_args(sim: &Simulator, control: String) -> Vec<String> {
    vec![
        "--port".into(),
        sim.tws_addr().port().to_string(),
        "--control".into(),
        control,
        "--delayed-conid".into(),
        DELAYED_CONID.to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ib_async_connects_syncs_and_sees_faults_as_from_ibkr() {
    let (sim, control) = simulator().await;
    let steps = [
        "connect with start-up synchronisation",
        "text protocol version",
        "model greeks",
        "a firehose of computations",
        "delayed data is marked so",
        "option chains",
        "PnL of one position",
        "values by segment add up",
        "the cash ledger in BASE and USD",
        "account summary's ledger",
        "orders refused read-only",
        "connectivity notices",
        "connectivity restored with data lost",
        "market data after 1101 once asked again",
        "connections refused during the restart",
        "reconnect after the restart",
        "reconnect after a drop",
        "a stalled gateway answers nothing",
        "answers again after the stall",
        "a gateway not logged in closes new connections",
        "every message readable",
    ];
    run("ib_async_check.py", &tws_args(&sim, control), &steps).await;
}

/// The official client at `max_version`: what it reads must be what a gateway sends there.
async fn official_client_at(max_version: i32) {
    let (sim, control) = simulator().await;
    let mut args = tws_args(&sim, control);
    args.extend(["--max-version".into(), max_version.to_string()]);
    let mut steps = vec![
        "delayed data is marked so",
        "account summary's ledger",
        "exercise refused read-only",
        "a request not served is refused",
        "connectivity notices",
        "data lost",
        "restart closes the connection",
        "reconnect after the restart",
        "reconnect after a drop",
        "a stalled gateway answers nothing",
        "answers again after the stall",
        "a gateway not logged in closes new connections",
        "every check",
    ];
    if max_version >= 127 {
        steps.extend(["PnL", "PnL of one position"]);
    }
    run("ibapi_check.py", &args, &steps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_at_v100_speaks_the_oldest_text_protocol() {
    official_client_at(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_at_v176_speaks_text() {
    official_client_at(176).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_at_v200_speaks_text_with_error_times() {
    official_client_at(200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_at_v206_mixes_text_and_protobuf() {
    official_client_at(206).await;
}

/// Every version at which a group of messages goes protobuf, the last one wholly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_at_each_protobuf_boundary() {
    use ibkr_sim::tws::text::version;
    for max_version in [
        version::PROTOBUF,
        version::PROTOBUF_COMPLETED_ORDER,
        version::PROTOBUF_CONTRACT_DATA,
        version::PROTOBUF_ACCOUNTS_POSITIONS,
        version::PROTOBUF_SCAN_DATA,
        version::PROTOBUF_REST_2,
        version::PROTOBUF_REST_3,
    ] {
        official_client_at(max_version).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_at_v226_speaks_protobuf() {
    official_client_at(226).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ibind_reads_the_client_portal_as_from_ibkr() {
    let (sim, control) = simulator().await;
    let args = [
        "--url".into(),
        format!("{}/", sim.cp_url()),
        "--control".into(),
        control,
        "--delayed-conid".into(),
        DELAYED_CONID.to_string(),
    ];
    let steps = [
        "pnl subscribed: the first answer is empty",
        "uncached positions, sorted",
        "symbol search",
        "summary with segments",
        "futures root search",
        "greeks by the sixth poll",
        "delayed data is marked so",
        "503 reaches IBind as an error",
        "429 reaches IBind as an error",
        "a malformed body reaches IBind as an error",
        "a slow answer arrives",
        "a wrong shape reaches IBind as sent",
        "a dropped field reaches IBind as sent",
        "a late 503 reaches a client as its own timeout",
        "pnl per account",
        "a lapsed brokerage session answers no bridge",
        "ssodh/init opens it again",
        "a competing login is reported",
        "ssodh/init with compete takes it back",
        "after logout every call needs a login",
        "an expired session answers 401",
        "every check",
    ];
    run("ibind_check.py", &args, &steps).await;
}
