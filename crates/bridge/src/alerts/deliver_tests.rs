use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use super::*;
use crate::alerts::notice::{AlertKind, Phase, Severity};

fn notice(title: &str) -> Notice {
    Notice {
        kind: AlertKind::FeedDown,
        key: String::new(),
        severity: Severity::Critical,
        status: Phase::Firing,
        title: title.to_owned(),
        text: "No ticks since 14:02.".to_owned(),
        action: "Check IB Gateway.".to_owned(),
        started_at: "2026-11-21T14:02:00Z".parse().expect("timestamp"),
        resolved_at: None,
        lasted_seconds: None,
        host: "trader-box".to_owned(),
    }
}

/// Small waits, so a failing test shows a retry loop in milliseconds.
fn fast() -> DeliverySettings {
    DeliverySettings {
        first_retry: Duration::from_millis(10),
        max_retry: Duration::from_millis(40),
        capacity: 500,
    }
}

fn client() -> reqwest::Client {
    http_client().expect("an HTTP client")
}

fn target(url: &str) -> Target {
    Target::parse_webhook(url).expect(url)
}

/// Fails the test instead of hanging it when an awaited event never comes.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// One request a [`Receiver`] saw.
#[derive(Debug)]
struct Seen {
    path: String,
    body: serde_json::Value,
}

#[derive(Clone)]
struct ReceiverState {
    seen: mpsc::UnboundedSender<Seen>,
    /// Statuses to answer, in order; 200 once they are used up.
    script: Arc<Mutex<VecDeque<u16>>>,
    /// A request is answered only once it gets a permit (it is recorded before).
    gate: Arc<Semaphore>,
}

/// A local webhook receiver that records each request and answers a scripted status.
struct Receiver {
    base: String,
    seen: mpsc::UnboundedReceiver<Seen>,
    gate: Arc<Semaphore>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        Receiver::start_gated(script, Semaphore::MAX_PERMITS).await
    }

    async fn start_gated(script: &[u16], permits: usize) -> Receiver {
        let (tx, seen) = mpsc::unbounded_channel();
        let gate = Arc::new(Semaphore::new(permits));
        let state = ReceiverState {
            seen: tx,
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            gate: Arc::clone(&gate),
        };
        let app = Router::new().fallback(answer).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, seen, gate }
    }

    async fn next(&mut self) -> Seen {
        within("a request", self.seen.recv())
            .await
            .expect("the receiver runs")
    }

    fn nothing_more(&mut self) {
        if let Ok(extra) = self.seen.try_recv() {
            panic!("an unexpected request: {extra:?}");
        }
    }
}

async fn answer(State(state): State<ReceiverState>, uri: Uri, body: Bytes) -> impl IntoResponse {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let path = uri
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let _ = state.seen.send(Seen { path, body });
    state.gate.acquire().await.expect("open gate").forget();
    let status = state
        .script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(200);
    let status = StatusCode::from_u16(status).expect("a status");
    (status, [(header::LOCATION, "/elsewhere")], "ok")
}

/// A port nothing listens on: connections are refused at once.
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// A server that accepts connections and never answers; each accept is reported.
async fn silent_server() -> (String, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, accepted) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            let _ = tx.send(());
        }
    });
    (base, accepted)
}

struct Running {
    outbox: Outbox,
    status: watch::Receiver<DeliveryStatus>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start(targets: Vec<Target>, settings: DeliverySettings) -> Running {
    let (outbox, delivery) = channel(client(), targets, settings);
    let (stop, shutdown) = Shutdown::new();
    let status = outbox.status();
    let task = tokio::spawn(delivery.run(shutdown));
    Running {
        outbox,
        status,
        stop,
        task,
    }
}

impl Running {
    async fn until(&mut self, what: &str, done: impl FnMut(&DeliveryStatus) -> bool) {
        within(what, self.status.wait_for(done))
            .await
            .expect("the delivery loop runs");
    }

    async fn stop(self) -> DeliveryStatus {
        self.stop.send_replace(true);
        within("the delivery loop to stop", self.task)
            .await
            .expect("no panic");
        self.status.borrow().clone()
    }
}

#[tokio::test]
async fn a_refused_notice_is_delivered_once_after_one_retry() {
    let mut receiver = Receiver::start(&[500, 200]).await;
    let mut run = start(vec![target(&format!("{}/hook", receiver.base))], fast());
    run.outbox.push(notice("feed down"));

    run.until("the delivery", |s| s.delivered == 1).await;
    for _ in 0..2 {
        assert_eq!(receiver.next().await.body["title"], "feed down");
    }
    receiver.nothing_more();
    let status = run.stop().await;
    assert_eq!(status.delivered, 1);
    assert_eq!(status.failed_attempts, 1);
    assert_eq!(status.pending, 0);
    let last_error = status.last_error.expect("the failure");
    assert!(last_error.contains("HTTP 500"), "{last_error}");
}

#[tokio::test]
async fn a_notice_the_target_rejects_is_dropped_not_retried_and_the_next_goes_through() {
    // 422: this notice itself is refused; retrying it would block every later alert.
    let mut receiver = Receiver::start(&[422, 200]).await;
    let mut run = start(vec![target(&format!("{}/hook", receiver.base))], fast());
    run.outbox.push(notice("refused"));
    run.outbox.push(notice("next"));

    run.until("the second delivery", |s| s.delivered == 1).await;
    assert_eq!(receiver.next().await.body["title"], "refused");
    assert_eq!(receiver.next().await.body["title"], "next");
    receiver.nothing_more();
    let status = run.stop().await;
    assert_eq!((status.dropped, status.failed_attempts), (1, 1));
    assert!(status.last_error.unwrap().contains("HTTP 422"));
}

#[test]
fn only_a_client_error_for_the_notice_itself_is_permanent() {
    let http = |status| {
        DeliveryError::Refused(Answer::Http {
            status,
            body: String::new(),
        })
    };
    assert!(http(400).is_permanent() && http(404).is_permanent() && http(422).is_permanent());
    assert!(!http(408).is_permanent() && !http(429).is_permanent() && !http(500).is_permanent());
    assert!(!DeliveryError::TimedOut(Duration::from_secs(1)).is_permanent());
}

#[tokio::test]
async fn a_dead_target_does_not_hold_back_a_live_one() {
    let (silent, mut accepted) = silent_server().await;
    let mut receiver = Receiver::start(&[]).await;
    let targets = vec![
        target(&silent),
        target(&closed_port().await),
        target(&receiver.base),
    ];
    let mut run = start(targets, fast());
    run.outbox.push(notice("first"));
    run.outbox.push(notice("second"));

    run.until("the live target's deliveries", |s| s.delivered == 2)
        .await;
    assert_eq!(receiver.next().await.body["title"], "first");
    assert_eq!(receiver.next().await.body["title"], "second");
    within("the silent server's connection", accepted.recv()).await;
    let status = run.status.borrow().clone();
    assert_eq!(status.pending, 4, "{status:?}");
    run.task.abort();
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_and_counts_it() {
    let mut receiver = Receiver::start_gated(&[], 0).await;
    let settings = DeliverySettings {
        capacity: 2,
        ..fast()
    };
    let mut run = start(vec![target(&receiver.base)], settings);
    run.outbox.push(notice("n1"));
    assert_eq!(receiver.next().await.body["title"], "n1");

    // n1 is in flight, held by the receiver; the queue holds two more.
    for title in ["n2", "n3", "n4"] {
        run.outbox.push(notice(title));
    }
    let status = run.status.borrow().clone();
    assert_eq!((status.dropped, status.pending), (1, 3), "{status:?}");

    receiver.gate.add_permits(3);
    run.until("the deliveries", |s| s.delivered == 3).await;
    for title in ["n3", "n4"] {
        assert_eq!(receiver.next().await.body["title"], title);
    }
    receiver.nothing_more();
    let status = run.stop().await;
    assert_eq!((status.dropped, status.pending), (1, 0));
}

#[tokio::test]
async fn shutdown_gives_a_pending_notice_a_last_attempt() {
    let mut receiver = Receiver::start(&[503]).await;
    let settings = DeliverySettings {
        first_retry: Duration::from_secs(3600),
        ..fast()
    };
    let mut run = start(vec![target(&receiver.base)], settings);
    run.outbox.push(notice("reauth"));
    run.until("the first failure", |s| s.failed_attempts == 1)
        .await;

    // Its next retry is an hour away: only the last attempt can deliver it.
    let status = run.stop().await;
    assert_eq!((status.delivered, status.pending), (1, 0), "{status:?}");
    receiver.next().await;
    receiver.next().await;
    receiver.nothing_more();
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_up_after_the_grace_and_keeps_the_count() {
    let (silent, mut accepted) = silent_server().await;
    let settings = DeliverySettings {
        first_retry: Duration::from_secs(3600),
        ..fast()
    };
    let run = start(vec![target(&silent)], settings);
    run.outbox.push(notice("one"));
    run.outbox.push(notice("two"));
    within("the connection", accepted.recv()).await;

    let stopping = tokio::time::Instant::now();
    let status = run.stop().await;
    assert!(stopping.elapsed() <= LAST_ATTEMPT + Duration::from_millis(100));
    assert_eq!((status.delivered, status.pending), (0, 2), "{status:?}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let mut receiver = Receiver::start(&[302]).await;
    let result = send(&client(), &target(&receiver.base), &notice("x")).await;
    match result {
        Err(DeliveryError::Refused(Answer::Http { status: 302, .. })) => {}
        other => panic!("{other:?}"),
    }
    receiver.next().await;
    receiver.nothing_more();
}

#[tokio::test]
async fn an_unreachable_webhook_error_hides_the_url() {
    let url = format!("{}/hookSECRET?token=SECRET", closed_port().await);
    let error = send(&client(), &target(&url), &notice("x"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, DeliveryError::Unreachable(_)), "{error:?}");
    assert!(!error.to_string().contains("SECRET"), "{error}");
}

#[tokio::test]
async fn native_shapes_are_posted_where_they_belong() {
    let mut receiver = Receiver::start(&[]).await;
    let port = receiver.base.trim_start_matches("http://").to_owned();
    let discord = target(&format!("discord+http://{port}/api/webhooks/1/tok"));
    let ntfy = target(&format!("ntfy+http://{port}/bridge_alerts"));
    let (client, n) = (client(), notice("x"));

    send(&client, &discord, &n).await.expect("delivered");
    let seen = receiver.next().await;
    assert_eq!(seen.path, "/api/webhooks/1/tok?wait=true");
    assert_eq!(
        seen.body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );

    send(&client, &ntfy, &n).await.expect("delivered");
    let seen = receiver.next().await;
    assert_eq!(seen.path, "/");
    assert_eq!(seen.body["topic"], "bridge_alerts");
}

#[tokio::test]
async fn a_command_gets_the_notice_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("notice.json");
    let command = Target::command(&format!("cat > '{}'", file.display())).expect("command");
    let n = notice("feed down");

    let answer = send(&client(), &command, &n).await.expect("delivered");
    assert_eq!(
        answer,
        Answer::Exit {
            code: Some(0),
            output: String::new()
        }
    );
    let written: Notice =
        serde_json::from_slice(&std::fs::read(&file).expect("written")).expect("a notice");
    assert_eq!(written, n);
}

#[tokio::test]
async fn a_failing_command_is_an_error_with_its_output() {
    let command = Target::command("echo partial; echo oops >&2; exit 3").expect("command");
    let error = send(&client(), &command, &notice("x"))
        .await
        .expect_err("exit 3");
    assert_eq!(
        error,
        DeliveryError::Refused(Answer::Exit {
            code: Some(3),
            output: "partial oops".to_owned()
        })
    );
    assert_eq!(error.to_string(), "it answered exit code 3: partial oops");
}

#[tokio::test]
async fn a_command_that_ignores_its_input_still_succeeds() {
    let command = Target::command("true").expect("command");
    send(&client(), &command, &notice("x"))
        .await
        .expect("exit 0");
}

#[tokio::test(start_paused = true)]
async fn a_command_past_its_timeout_is_an_error() {
    let command = Target::command("sleep 600").expect("command");
    let error = send(&client(), &command, &notice("x"))
        .await
        .expect_err("killed");
    assert_eq!(error, DeliveryError::TimedOut(COMMAND_TIMEOUT));
}

#[tokio::test]
async fn test_all_reports_each_targets_answer_in_order() {
    let receiver = Receiver::start(&[]).await;
    let targets = vec![
        target(&format!("{}/hookSECRET", receiver.base)),
        Target::command("exit 2").expect("command"),
        target(&closed_port().await),
    ];
    let results = test_all(&client(), &targets, &notice("test")).await;

    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<String> = targets.iter().map(ToString::to_string).collect();
    assert_eq!(names, expected);
    assert!(!names[0].contains("SECRET"));
    assert_eq!(
        results[0].1,
        Ok(Answer::Http {
            status: 200,
            body: "ok".to_owned()
        })
    );
    assert!(
        matches!(
            &results[1].1,
            Err(DeliveryError::Refused(Answer::Exit { code: Some(2), .. }))
        ),
        "{:?}",
        results[1].1
    );
    assert!(
        matches!(&results[2].1, Err(DeliveryError::Unreachable(_))),
        "{:?}",
        results[2].1
    );
}
