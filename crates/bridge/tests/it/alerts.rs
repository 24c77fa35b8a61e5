//! Alerts end to end: the real bridge binary against ibkr-sim, delivering to a webhook
//! receiver in the test, and `portfolio-bridge alerts test` against every target shape.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use ibkr_sim::tws::Restore;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::helpers::*;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    path: String,
    body: Bytes,
    /// What the receiver answered.
    status: u16,
}

impl Delivery {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone, Default)]
struct Recorded {
    all: Arc<Mutex<Vec<Delivery>>>,
    /// Answers for the first requests, then 200 (but `/down`: always 503).
    script: Arc<Mutex<Vec<u16>>>,
}

/// A webhook receiver on loopback that records every request; await them through `count`.
struct Receiver {
    url: String,
    recorded: Recorded,
    count: watch::Receiver<usize>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let recorded = Recorded {
            script: Arc::new(Mutex::new(script.to_vec())),
            ..Recorded::default()
        };
        let (tx, count) = watch::channel(0usize);
        // ntfy's JSON form posts to the server's root, the others to their own path.
        let app = Router::new()
            .route("/", post(record))
            .route("/{*path}", post(record))
            .with_state((recorded.clone(), Arc::new(tx)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            recorded,
            count,
            _server: server,
        }
    }

    fn all(&self) -> Vec<Delivery> {
        self.recorded.all.lock().unwrap().clone()
    }

    /// The accepted generic notices, as (kind, status).
    fn notices(&self) -> Vec<(String, String)> {
        self.all()
            .iter()
            .filter(|d| d.status == 200 && d.path == "/hook")
            .map(|d| {
                let n = d.json();
                (
                    n["kind"].as_str().unwrap().to_owned(),
                    n["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Asserts that the accepted notices were one `kind` alert and then its resolved notice.
    fn told_once_then_resolved(&self, kind: &str) {
        assert_eq!(
            self.notices(),
            [
                (kind.to_owned(), "firing".to_owned()),
                (kind.to_owned(), "resolved".to_owned())
            ],
            "one {kind} alert and its resolved notice, nothing else"
        );
    }

    /// A bridge that alerts this receiver (`ALERT_WEBHOOK_URL`), on the database at `url`.
    fn bridge(&self, url: &str) -> Bridge {
        Bridge::new()
            .env("DATABASE_URL", url)
            .env("ALERT_WEBHOOK_URL", &format!("{}/hook", self.url))
    }

    /// As [`Receiver::bridge`], in SOCKET mode on `sim`'s gateway as API client `client_id`.
    fn socket_bridge(&self, url: &str, sim: &ibkr_sim::Simulator, client_id: &str) -> Bridge {
        self.bridge(url)
            .env("IB_SOCKET_ADDR", &sim.tws_addr().to_string())
            .env("IB_CLIENT_ID", client_id)
    }

    /// Waits until an accepted notice of `kind` in `status` has arrived; returns it.
    async fn wait_for(&self, kind: &str, status: &str) -> Value {
        let mut count = self.count.clone();
        within(&format!("a {kind} {status} alert"), async {
            loop {
                let found = self.all().into_iter().find(|d| {
                    d.status == 200 && {
                        let n = d.json();
                        n["kind"] == kind && n["status"] == status
                    }
                });
                if let Some(d) = found {
                    return d.json();
                }
                count.changed().await.expect("the receiver runs");
            }
        })
        .await
    }
}

/// The receiver's one handler: records the request, answers what the script says.
async fn record(
    State((r, tx)): State<(Recorded, Arc<watch::Sender<usize>>)>,
    uri: axum::http::Uri,
    body: Bytes,
) -> StatusCode {
    // `/down` is a target that always fails.
    let status = match uri.path() {
        "/down" => 503,
        _ => {
            let mut script = r.script.lock().unwrap();
            if script.is_empty() {
                200
            } else {
                script.remove(0)
            }
        }
    };
    r.all.lock().unwrap().push(Delivery {
        path: uri.path().to_owned(),
        body,
        status,
    });
    tx.send_modify(|n| *n += 1);
    StatusCode::from_u16(status).unwrap()
}

/// The body of `path` on the bridge at `addr`.
async fn fetch(addr: &str, path: &str) -> String {
    // The bridge's own client: reqwest is built without a default crypto provider.
    let client = portfolio_bridge::alerts::deliver::http_client().expect("a client");
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("the bridge answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.text().await.expect("a body")
}

#[sqlx::test(migrations = false)]
async fn a_client_portal_logout_is_one_reauth_alert_delivered_after_a_retry_then_resolved(
    pool: PgPool,
) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    // The receiver fails the first delivery: it must come again, once.
    let receiver = Receiver::start(&[500]).await;
    let bridge = receiver
        .bridge(&url)
        .env("IB_API_MODE", "PORTAL")
        .env("IBKR_CP_BASE_URL", &sim.cp_url())
        .env("IBKR_CP_TICKLE_INTERVAL_SECONDS", "0.5")
        .env("GREEKS_INTERVAL_SECONDS", "0.5")
        .spawn(&["run"]);
    bridge
        .wait_for_stderr("Client Portal session authenticated")
        .await;

    sim.control().cp().logout();
    let fired = receiver.wait_for("reauth_required", "firing").await;
    assert_eq!(fired["severity"], "critical");
    assert!(
        fired["title"]
            .as_str()
            .unwrap()
            .starts_with("Re-auth required"),
        "{fired}"
    );
    let gateway = sim.cp_url();
    let origin = gateway.split("/v1/api").next().unwrap();
    assert!(
        fired["action"].as_str().unwrap().contains(origin),
        "the action names the URL to open: {fired}"
    );
    let tries: Vec<u16> = receiver.all().iter().map(|d| d.status).collect();
    assert_eq!(tries, [500, 200], "one failed attempt, then delivered once");
    // The page and /metrics say so too, the webhook's address redacted.
    let addr = bridge.served_at().await;
    let page = fetch(&addr, "/status").await;
    assert!(page.contains(r#"data-kind="reauth_required""#), "{page}");
    assert!(
        !page.contains("/hook"),
        "the webhook's path is not shown: {page}"
    );
    let metrics = fetch(&addr, "/metrics").await;
    assert!(
        metrics.contains("portfolio_bridge_alerts_active 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portfolio_bridge_alert_delivery_failures_total 1"),
        "{metrics}"
    );

    sim.control().cp().login();
    let resolved = receiver.wait_for("reauth_required", "resolved").await;
    assert!(resolved["lasted_seconds"].as_u64().is_some(), "{resolved}");
    receiver.told_once_then_resolved("reauth_required");
    let (status, stderr) = stop(bridge, "TERM").await;
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("alert reauth_required firing"), "{stderr}");
}

#[sqlx::test(migrations = false)]
async fn lost_ibkr_connectivity_beyond_the_threshold_is_feed_down_until_restored(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let receiver = Receiver::start(&[]).await;
    let bridge = receiver
        .socket_bridge(&url, &sim, "81")
        .env("ALERT_FEED_DOWN_AFTER_SECONDS", "1")
        .spawn(&["run"]);
    bridge.wait_for_stderr("connected to TWS API at").await;

    // The gateway loses IBKR's servers (1100) and gets them back (1102) 4 s later.
    sim.control()
        .connectivity_blip(std::time::Duration::from_secs(4), Restore::DataMaintained);
    let fired = receiver.wait_for("feed_down", "firing").await;
    assert_eq!(fired["severity"], "critical");
    assert!(fired["text"].as_str().unwrap().contains("1100"), "{fired}");
    receiver.wait_for("feed_down", "resolved").await;
    receiver.told_once_then_resolved("feed_down");
    let (status, stderr) = stop(bridge, "TERM").await;
    assert!(status.success(), "{status:?}: {stderr}");
}

#[sqlx::test(migrations = false)]
async fn a_gateway_refusing_a_whole_reconnect_round_outside_the_window_needs_a_login(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let receiver = Receiver::start(&[]).await;
    let bridge = receiver
        .socket_bridge(&url, &sim, "84")
        .env("WATCHDOG_INTERVAL_SECONDS", "1")
        .spawn(&["run"]);
    bridge.wait_for_stderr("connected to TWS API at").await;

    // Refuses connections for longer than a round of attempts takes (1 + 2 s of backoff).
    sim.control()
        .tws()
        .restart(std::time::Duration::from_secs(6));
    let fired = receiver.wait_for("reauth_required", "firing").await;
    assert!(
        fired["title"]
            .as_str()
            .unwrap()
            .contains("refuses the API connection"),
        "{fired}"
    );
    assert!(
        fired["action"]
            .as_str()
            .unwrap()
            .contains("Log in to IB Gateway"),
        "{fired}"
    );
    receiver.wait_for("reauth_required", "resolved").await;
    receiver.told_once_then_resolved("reauth_required");
    let (status, stderr) = stop(bridge, "TERM").await;
    assert!(status.success(), "{status:?}: {stderr}");
}

#[sqlx::test(migrations = false)]
async fn a_gateway_restart_inside_the_reset_window_alerts_nobody(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let receiver = Receiver::start(&[]).await;
    let bridge = receiver
        .socket_bridge(&url, &sim, "82")
        .env("IB_RESET_WINDOW", &window_around_now())
        .env("IB_RESET_TIMEZONE", "UTC")
        .env("ALERT_FEED_DOWN_AFTER_SECONDS", "1")
        .spawn(&["run"]);
    let addr = bridge.served_at().await;
    bridge.wait_for_stderr("connected to TWS API at").await;

    sim.control()
        .daily_restart(std::time::Duration::from_secs(2));
    bridge
        .wait_for_stderr("disconnected during IBKR's daily reset")
        .await;
    // The rules have looked well past the threshold since the drop: nothing was due.
    let since = jiff::Timestamp::now();
    let status = Bridge::new().env("BRIDGE_HTTP_ADDR", &addr);
    eventually("the alert rules look 3 s after the restart", || async {
        let out = status.run_off_runtime(&["status", "--json"]).await;
        let view: Value = serde_json::from_str(&out.stdout()).expect("status JSON");
        let checked: jiff::Timestamp = view["alerts"]["checked_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        assert!(
            view["alerts"]["active"].as_array().unwrap().is_empty(),
            "{view}"
        );
        checked.duration_since(since).as_secs() >= 3
    })
    .await;
    assert!(receiver.all().is_empty(), "{:?}", receiver.notices());
    let (status, stderr) = stop(bridge, "TERM").await;
    assert!(status.success(), "{status:?}: {stderr}");
}

#[tokio::test]
async fn a_database_outage_is_alerted_while_postgresql_is_down() {
    let cluster = OwnCluster::new("alerts-db", 31446);
    let url = cluster.start().await;
    let sim = start_sim(sim_config()).await;
    let receiver = Receiver::start(&[]).await;
    let bridge = receiver
        .socket_bridge(&url, &sim, "83")
        .env("GREEKS_INTERVAL_SECONDS", "0.5")
        // The breaker tries PostgreSQL again this often: it clears once a write succeeds.
        .env("BUFFER_FLUSH_INTERVAL_SECONDS", "0.5")
        .env("ALERT_DATABASE_DOWN_AFTER_SECONDS", "1")
        .spawn(&["run"]);
    bridge.wait_for_stderr("schema ready").await;

    cluster.stop().await;
    let fired = receiver.wait_for("database_unreachable", "firing").await;
    assert_eq!(fired["severity"], "critical");
    assert!(fired["text"].as_str().unwrap().contains("spool"), "{fired}");
    // Delivered while it is still down: the cluster comes back only now.
    cluster.start().await;
    receiver.wait_for("database_unreachable", "resolved").await;
    let (status, stderr) = stop(bridge, "TERM").await;
    assert!(status.success(), "{status:?}: {stderr}");
}

#[tokio::test]
async fn alerts_test_sends_every_shape_and_says_what_each_answered() {
    let receiver = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alert.json");
    let urls = [
        format!("{}/hook", receiver.url),
        format!("slack+{}/services/T000/B000/SECRET1", receiver.url),
        format!("discord+{}/api/webhooks/1/SECRET2", receiver.url),
        format!("ntfy+{}/SECRET3topic", receiver.url),
        format!("{}/down", receiver.url),
    ]
    .join(",");
    let bridge = Bridge::new()
        .env("ALERT_WEBHOOK_URL", &urls)
        .env("ALERT_COMMAND", &format!("cat > {}", file.display()));
    let out = bridge.run_off_runtime(&["alerts", "test"]).await;
    assert_eq!(out.code(), Some(1), "one target failed: {}", out.stdout());
    let stdout = out.stdout();
    let ok = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(ok, 5, "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("503"), "{stdout}");
    for secret in ["SECRET1", "SECRET2", "SECRET3", "alert.json"] {
        assert!(!stdout.contains(secret), "{secret} shown: {stdout}");
        assert!(
            !out.stderr().contains(secret),
            "{secret} logged: {}",
            out.stderr()
        );
    }

    let all = receiver.all();
    let by_path = |p: &str| {
        all.iter()
            .find(|d| d.path == p || (p != "/" && d.path.starts_with(p)))
            .expect(p)
            .clone()
    };
    let generic = by_path("/hook").json();
    assert_eq!(
        (generic["kind"].as_str(), generic["status"].as_str()),
        (Some("test"), Some("test"))
    );
    assert!(by_path("/services/").json()["text"].is_string());
    let discord = by_path("/api/webhooks/").json();
    assert!(discord["content"].is_string());
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    let ntfy = by_path("/").json();
    assert_eq!(ntfy["topic"], "SECRET3topic", "{ntfy}");
    assert!(ntfy["message"].is_string(), "{ntfy}");
    let command: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("the command ran")).unwrap();
    assert_eq!(command["kind"], "test");
}

#[test]
fn webhook_urls_are_redacted_in_config_and_plain_http_off_loopback_is_refused() {
    let shown = Bridge::new()
        .env(
            "ALERT_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/XYZSECRET",
        )
        .env("ALERT_COMMAND", "mail -s alert trader@example.com")
        .run(&["config"]);
    assert_eq!(shown.code(), Some(0), "{}", shown.stderr());
    let out = shown.stdout();
    assert!(
        out.contains("ALERT_WEBHOOK_URL=slack https://hooks.slack.com/"),
        "{out}"
    );
    assert!(
        !out.contains("XYZSECRET") && !out.contains("trader@example.com"),
        "{out}"
    );

    let refused = Bridge::new()
        .env(
            "ALERT_WEBHOOK_URL",
            "http://alerts.example.com/hook?token=XYZSECRET",
        )
        .run(&["config"]);
    assert_eq!(refused.code(), Some(2));
    let err = refused.stderr();
    assert!(err.contains("ALERT_WEBHOOK_URL"), "{err}");
    assert!(!err.contains("XYZSECRET"), "{err}");
}
