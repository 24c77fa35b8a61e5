//! What ships beside the binary: the systemd unit is one `systemd-analyze verify` accepts
//! without a warning (where systemd-analyze is installed).

use std::process::Command;

const UNIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../packaging/systemd/portfolio-bridge.service"
);

#[test]
fn the_systemd_unit_verifies_cleanly_and_runs_the_bridge() {
    let unit = std::fs::read_to_string(UNIT).expect("the unit");
    assert!(
        unit.contains("\nExecStart=/usr/local/bin/portfolio-bridge run\n"),
        "ExecStart runs `portfolio-bridge run`"
    );
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: the unit's syntax was not verified");
        return;
    }
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("portfolio-bridge.service");
    let built = unit.replace(
        "/usr/local/bin/portfolio-bridge",
        env!("CARGO_BIN_EXE_portfolio-bridge"),
    );
    std::fs::write(&path, built).expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");
}
