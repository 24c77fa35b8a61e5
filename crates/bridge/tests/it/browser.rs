//! The web page in real headless Chromium, and the OpenAPI document checked by a real
//! validator: the app (simulator, database, syncs, HTTP) runs here, and `node --test` drives
//! Debian's Chromium through playwright-core against it (`tests/browser/*.test.mjs`).
//! Screenshots land in `target/test-artifacts/`.

use std::path::PathBuf;
use std::process::Command;

use sqlx::PgPool;

use portfolio_bridge::ibkr::portal::SessionState;

use crate::app::{AppOptions, TestApp, spawn_app};

fn browser_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"))
}

#[sqlx::test]
async fn the_spreads_page_and_the_openapi_document_in_a_real_browser(pool: PgPool) {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests' npm packages are missing: run scripts/test, or \
         `npm ci --prefix crates/bridge/tests/browser` (and `apt-get install chromium`)"
    );
    // The front leg 3 business days from its last trade date: the page warns.
    let (today, _) = crate::helpers::three_business_days_before_a_front_month();
    let options = AppOptions {
        date: Some(today),
        ..AppOptions::default()
    };
    let app = spawn_app(pool, options).await;
    // Half an hour of greeks for the charts, ending now, with the feed down for five minutes
    // from 15 minutes ago (the charts break their line there).
    // Each tick: the all-accounts rows and one account's, with dollar and by-expiry figures.
    sqlx::query(
        r#"INSERT INTO portfolio_greeks ("timestamp", contract, account, delta, gamma, vega, theta,
                                         underlying_price, delta_dollars, gamma_dollars,
                                         vega_lt30, vega_30_90, vega_gt90,
                                         theta_lt30, theta_30_90, theta_gt90)
           SELECT now() - make_interval(secs => n * 5), c, a, 1000 * sin(n / 40.0) + k, 0.02 * n,
                  150 + n, -80 - n / 10.0, 72 + n / 100.0,
                  (1000 * sin(n / 40.0) + k) * 72, 0.02 * n * 72 * 72 * 0.01,
                  100 + n, 50, 0, -60 - n / 10.0, -20, 0
             FROM generate_series(0, 360) AS n,
                  (VALUES ('PORTFOLIO', 0), ('CL', 500)) AS x(c, k),
                  (VALUES (NULL), ('DU1234567')) AS y(a)
            WHERE n NOT BETWEEN 121 AND 179"#,
    )
    .execute(&app.pool)
    .await
    .expect("greeks rows");
    let artifacts = crate::helpers::artifacts();
    let report = node(
        &app,
        &artifacts,
        &[
            "spreads.test.mjs",
            "pages.test.mjs",
            "risk.test.mjs",
            "openapi.test.mjs",
        ],
    )
    .await;
    assert!(artifacts.join("spreads.png").is_file(), "{report}");

    // The banner: log the simulator's session out, wait for the session keeper to report it,
    // then let the browser look.
    app.sim.control().cp().logout();
    let mut session = app.session.clone();
    crate::helpers::within(
        "the session keeper reporting Re-auth required",
        session.wait_for(|s| s.state == SessionState::ReauthRequired),
    )
    .await
    .expect("the keeper runs");
    node(&app, &artifacts, &["reauth.test.mjs"]).await;
    assert!(artifacts.join("spreads-reauth.png").is_file());
}

/// Runs `node --test` on `files` against the app; its report, or a failure with it.
async fn node(app: &TestApp, artifacts: &std::path::Path, files: &[&str]) -> String {
    let mut node = Command::new("node");
    node.current_dir(browser_dir())
        .args(["--test", "--test-reporter=spec"])
        .args(files)
        .env("APP_URL", app.url(""))
        .env("ARTIFACTS", artifacts);
    let out = tokio::task::spawn_blocking(move || node.output())
        .await
        .expect("join")
        .expect("node runs (is Node.js installed?)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser tests failed:\n{report}");
    report
}
