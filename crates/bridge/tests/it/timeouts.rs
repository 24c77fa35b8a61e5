//! The read API never hangs on PostgreSQL: with a table locked, or with a server that does not
//! answer at all, every request is answered within the bound — data with `503
//! database_unavailable`, the status from memory with the database marked unreachable.

use std::time::Duration;

use portfolio_bridge::Shutdown;
use portfolio_bridge::config::ApiMode;
use portfolio_bridge::domain::portfolio::SharedPortfolio;
use portfolio_bridge::http::edge::AllowedHosts;
use portfolio_bridge::http::{self, AppState, Settings};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::watch;

use crate::app::{AppOptions, spawn_app};

/// Well above the bridge's 2 s bound: a request that takes this long hung.
const HUNG: Duration = Duration::from_secs(5);

/// GETs `url`: status and body, or a panic if it hung.
async fn answer(http: &reqwest::Client, url: &str) -> (u16, String) {
    let resp = tokio::time::timeout(HUNG, http.get(url).send())
        .await
        .unwrap_or_else(|_| panic!("{url} hung"))
        .expect("the app answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).expect("json")["error"]["code"]
        .as_str()
        .expect("a code")
        .to_owned()
}

/// Data, the status (API and page) and the metrics, as the bridge answers them while
/// PostgreSQL does not.
async fn assert_answers_without_the_database(http: &reqwest::Client, base: &str) {
    for path in [
        "/api/v1/positions",
        "/api/v1/spreads",
        "/api/v1/spreads/unmatched-legs",
        "/api/v1/greeks",
        "/api/v1/accounts",
        "/api/v1/jobs",
    ] {
        let (status, body) = answer(http, &format!("{base}{path}")).await;
        assert_eq!(
            (status, code(&body)),
            (503, "database_unavailable".to_owned()),
            "{path}"
        );
    }
    let (status, body) = answer(http, &format!("{base}/api/v1/status")).await;
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(view["database_reachable"], false, "{view}");
    assert!(
        view["attention"]
            .as_array()
            .expect("attention")
            .iter()
            .any(|a| a["kind"] == "database"),
        "{view}"
    );
    let (status, html) = answer(http, &format!("{base}/status")).await;
    assert_eq!(status, 200, "the status page answers from memory");
    assert!(html.contains("PostgreSQL"), "{html}");
    let (status, html) = answer(http, &format!("{base}/")).await;
    assert_eq!(status, 503, "{html}");
    assert_eq!(answer(http, &format!("{base}/metrics")).await.0, 200);
}

#[sqlx::test]
async fn a_locked_table_holds_no_request_beyond_the_bound(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    let mut locker = pool.begin().await.expect("a transaction");
    sqlx::query(
        "LOCK TABLE accounts, positions, combo_positions, combo_position_legs, jobs, \
         portfolio_greeks IN ACCESS EXCLUSIVE MODE",
    )
    .execute(&mut *locker)
    .await
    .expect("lock");
    assert_answers_without_the_database(&app.http, &app.url("")).await;

    // Nothing stays stuck once the lock is gone.
    locker.rollback().await.expect("unlock");
    for path in ["/api/v1/positions", "/api/v1/greeks", "/api/v1/jobs"] {
        assert_eq!(answer(&app.http, &app.url(path)).await.0, 200, "{path}");
    }
    let (_, body) = answer(&app.http, &app.url("/api/v1/status")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["database_reachable"],
        true
    );
}

#[tokio::test]
async fn a_database_that_never_answers_holds_no_request_beyond_the_bound() {
    // A port that takes connections and never says a word: a hung or unreachable server.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(silent.local_addr().expect("addr").port())
        .username("nobody")
        .database("nothing");
    let pool = PgPoolOptions::new().connect_lazy_with(options);

    let live = crate::app::live_at_rest(SharedPortfolio::new(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("addr");
    let settings = Settings {
        api_mode: ApiMode::Socket,
        positions_sync_interval: Duration::from_secs(60),
        greeks_interval: Duration::from_secs(5),
        hosts: AllowedHosts::new(addr.ip(), Vec::new()),
    };
    let (stop, shutdown) = Shutdown::new();
    let _stop_on_drop = StopOnDrop(stop);
    tokio::spawn(http::run(
        listener,
        AppState::new(pool, live, settings, None),
        shutdown,
    ));
    // reqwest needs a TLS provider even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    assert_answers_without_the_database(&http, &format!("http://{addr}")).await;
    assert_eq!(
        answer(&http, &format!("http://{addr}/healthz")).await.0,
        200
    );
}

/// Stops the server when the test ends, whichever way it ends.
struct StopOnDrop(watch::Sender<bool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}
