//! The OpenAPI document and the server agree: schemathesis (installed by
//! `scripts/ensure-schemathesis`) generates requests from `/api/openapi.json` — valid ones and
//! invalid ones — sends them to the app with the token, and checks every answer against the
//! document with all its checks. Any disagreement fails the test with schemathesis' report.

use std::path::PathBuf;
use std::process::Command;

use sqlx::PgPool;

use crate::app::{AppOptions, TOKEN, spawn_app};

/// Test cases per operation and phase: enough to find a disagreement, few enough for CI
/// (about half a minute).
const MAX_EXAMPLES: &str = "100";
/// The same cases every run, so a failure is the code's, not the draw's; a new seed explores
/// further.
const SEED: &str = "20261202";

fn schemathesis() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/schemathesis/bin/schemathesis"
    ))
}

#[sqlx::test]
async fn the_server_keeps_to_its_openapi_document(pool: PgPool) {
    let bin = schemathesis();
    assert!(
        bin.is_file(),
        "schemathesis is missing ({}): run scripts/ensure-schemathesis (scripts/test does)",
        bin.display()
    );
    let app = spawn_app(
        pool,
        AppOptions {
            token: true,
            ..AppOptions::default()
        },
    )
    .await;
    // An hour of greeks, so the series has points to check against the schema.
    sqlx::query(
        r#"INSERT INTO portfolio_greeks ("timestamp", contract, delta, gamma, vega, theta, underlying_price)
           SELECT now() - make_interval(secs => n * 5), c, 100 + n, 0.02, 150, -80, 72
             FROM generate_series(0, 720) AS n, (VALUES ('PORTFOLIO'), ('CL')) AS x(c)"#,
    )
    .execute(&app.pool)
    .await
    .expect("greeks rows");
    let artifacts = crate::helpers::artifacts();

    let mut run = Command::new(bin);
    run.current_dir(&artifacts)
        .arg("run")
        .arg(app.url("/api/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        .args(["--generation-database", "none"])
        .args(["--workers", "1", "--no-color"])
        .env("NO_COLOR", "1");
    let out = tokio::task::spawn_blocking(move || run.output())
        .await
        .expect("join")
        .expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found disagreements:\n{report}"
    );
}
