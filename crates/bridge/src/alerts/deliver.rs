//! Sending alerts: one attempt at one target ([`send`]), every target at once for
//! `portfolio-bridge alerts test` ([`test_all`]), and the delivery loop ([`channel`]) that
//! keeps a queue per target and retries each notice with backoff until the target answers.
//!
//! The alert loop hands notices to an [`Outbox`], which never blocks and never fails: a full
//! queue drops its oldest notice and counts it. Each target is served by its own task, so a
//! dead target never holds back another, and notices reach each target in order. Counters are
//! published as a [`DeliveryStatus`] for `/metrics` and the status page.
//!
//! It never shows a webhook URL's secret parts: targets appear in their redacted form, and
//! errors and answers are worded without the URL.

use std::collections::VecDeque;
use std::fmt;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::notice::Notice;
use super::target::{CommandTarget, Target, Webhook};
use crate::Shutdown;

/// How long a webhook may take to answer, body included.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping bridge still tries to deliver what is pending, over all targets.
const LAST_ATTEMPT: Duration = Duration::from_secs(5);
/// Characters of a target's answer kept in an [`Answer`].
const ANSWER_CHARS: usize = 200;
/// Bytes of a webhook's answer read at most: the excerpt needs a fraction of it.
const ANSWER_READ_MAX: usize = 4096;
/// Variables a command does not inherit: it gets the notice on stdin and has no use for the
/// bridge's own credentials.
const SECRET_VARS: [&str; 3] = ["DATABASE_URL", "BRIDGE_API_TOKEN", "ALERT_WEBHOOK_URL"];

/// What a target answered to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A webhook's HTTP status and the start of its body.
    Http { status: u16, body: String },
    /// A command's exit code (`None` when a signal ended it) and the start of its output.
    Exit { code: Option<i32>, output: String },
}

impl Answer {
    fn is_success(&self) -> bool {
        match self {
            Answer::Http { status, .. } => (200..300).contains(status),
            Answer::Exit { code, .. } => *code == Some(0),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Answer::Http { status, body } => {
                write!(f, "HTTP {status}")?;
                body
            }
            Answer::Exit { code, output } => {
                match code {
                    Some(code) => write!(f, "exit code {code}")?,
                    None => f.write_str("killed by a signal")?,
                }
                output
            }
        };
        if !text.is_empty() {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

/// Why one attempt failed. The text never holds a webhook URL's path, query or password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    #[error("no answer within {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error("cannot reach it: {0}")]
    Unreachable(String),
    #[error("cannot run it: {0}")]
    NotRun(String),
    /// It answered, but not with success (a non-2xx status, a non-zero exit).
    #[error("it answered {0}")]
    Refused(Answer),
}

impl DeliveryError {
    /// Whether trying the same notice again cannot help: the target refused this notice
    /// itself (a 4xx other than 408 Request Timeout and 429 Too Many Requests). Retrying it
    /// would hold every later alert to that target behind it.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            DeliveryError::Refused(Answer::Http { status, .. })
                if (400..500).contains(status) && !matches!(status, 408 | 429)
        )
    }
}

/// The client webhooks are sent with: TLS through rustls with the ring provider, certificates
/// verified against the system's roots, no redirect followed (a webhook that redirects is
/// misconfigured, and following one would resend the alert somewhere unvetted).
///
/// reqwest 0.13's `rustls-no-provider` verifies with `rustls-platform-verifier`, which on Linux
/// loads the system's CA store (`rustls-native-certs`) and refuses to build without one: a
/// machine without `ca-certificates` gets [`DeliveryError::Setup`] here, not a silent failure
/// at the first alert.
pub fn http_client() -> Result<reqwest::Client, DeliveryError> {
    // reqwest is built without a default crypto provider; ring is the bridge's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No client-wide timeouts: each request gets [`WEBHOOK_TIMEOUT`] for all of it, so a
    // timeout always means that one.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portfolio-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DeliveryError::Setup(innermost(&e)))
}

/// One attempt to deliver `notice` to `target`; success is a 2xx answer or exit code 0.
pub async fn send(
    client: &reqwest::Client,
    target: &Target,
    notice: &Notice,
) -> Result<Answer, DeliveryError> {
    let answer = match target {
        Target::Webhook(webhook) => post(client, webhook, notice).await?,
        Target::Command(command) => run_command(command, notice).await?,
    };
    if answer.is_success() {
        Ok(answer)
    } else {
        Err(DeliveryError::Refused(answer))
    }
}

/// One attempt at every target at once, in the order given, each named in its redacted form.
pub async fn test_all(
    client: &reqwest::Client,
    targets: &[Target],
    notice: &Notice,
) -> Vec<(String, Result<Answer, DeliveryError>)> {
    let mut tasks = JoinSet::new();
    for (i, target) in targets.iter().cloned().enumerate() {
        let (client, notice) = (client.clone(), notice.clone());
        tasks.spawn(async move { (i, send(&client, &target, &notice).await) });
    }
    let mut results = tasks.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    targets
        .iter()
        .zip(results)
        .map(|(target, (_, result))| (target.to_string(), result))
        .collect()
}

/// The innermost cause of an error: it says it best ("Connection refused"), and unlike
/// reqwest's own message it does not name the URL.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `text` on one line, cut to [`ANSWER_CHARS`].
fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(ANSWER_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

async fn post(
    client: &reqwest::Client,
    webhook: &Webhook,
    notice: &Notice,
) -> Result<Answer, DeliveryError> {
    let (url, body) = webhook.request(notice);
    let mut response = client
        .post(url)
        .timeout(WEBHOOK_TIMEOUT)
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                DeliveryError::TimedOut(WEBHOOK_TIMEOUT)
            } else {
                DeliveryError::Unreachable(webhook.redact(&innermost(&e.without_url())))
            }
        })?;
    let status = response.status().as_u16();
    // The status decides; a body cut short (the timeout, a reset) only shortens the excerpt.
    let mut read = Vec::new();
    while read.len() < ANSWER_READ_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => read.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(Answer::Http {
        status,
        body: excerpt(&webhook.redact(&String::from_utf8_lossy(&read))),
    })
}

async fn run_command(command: &CommandTarget, notice: &Notice) -> Result<Answer, DeliveryError> {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command.line())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A command still running at the timeout is killed when its future is dropped.
        .kill_on_drop(true);
    for var in SECRET_VARS {
        cmd.env_remove(var);
    }
    let json = serde_json::to_vec(notice).map_err(|e| DeliveryError::NotRun(e.to_string()))?;
    let mut child = cmd
        .spawn()
        .map_err(|e| DeliveryError::NotRun(e.to_string()))?;
    let stdin = child.stdin.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A command that does not read its input (`logger "alert"`) closes the pipe
            // early; that is its choice, not a failure. Dropping `stdin` sends end-of-file.
            let _ = stdin.write_all(&json).await;
        }
    };
    let run = async move { tokio::join!(feed, child.wait_with_output()).1 };
    let output = tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .map_err(|_| DeliveryError::TimedOut(COMMAND_TIMEOUT))?
        .map_err(|e| DeliveryError::NotRun(e.to_string()))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push(' ');
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(Answer::Exit {
        code: output.status.code(),
        output: excerpt(&text),
    })
}

/// How the delivery loop retries and how much it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Wait after a first failed attempt; it doubles after each further one.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
    /// Notices waiting per target (at least 1); a full queue drops its oldest.
    pub capacity: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(5 * 60),
            capacity: 500,
        }
    }
}

/// The delivery counters, over all targets; a notice sent to two targets counts twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryStatus {
    /// Every target, redacted (`slack https://hooks.slack.com/…`).
    pub targets: Vec<String>,
    /// Notices a target accepted.
    pub delivered: u64,
    /// Attempts that failed (a notice retried five times counts five).
    pub failed_attempts: u64,
    /// Notices not yet accepted: waiting, or being retried (after a stop: never delivered).
    pub pending: usize,
    /// Notices dropped from a full queue, never sent.
    pub dropped: u64,
    /// The last failure, `target: why`.
    pub last_error: Option<String>,
}

/// A queue per target, with one notice taken out while it is being delivered.
#[derive(Default)]
struct Lane {
    waiting: VecDeque<Notice>,
    in_flight: Option<Notice>,
}

struct State {
    lanes: Vec<Lane>,
    status: DeliveryStatus,
}

/// What the [`Outbox`] and the [`Delivery`] share.
struct Shared {
    state: Mutex<State>,
    /// One per lane: a notice is waiting.
    wake: Vec<Notify>,
    status: watch::Sender<DeliveryStatus>,
    /// The targets, redacted, by lane.
    names: Vec<String>,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state and publishes the counters it leaves.
    fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.lock();
        let out = change(&mut state);
        state.status.pending = state
            .lanes
            .iter()
            .map(|l| l.waiting.len() + usize::from(l.in_flight.is_some()))
            .sum();
        self.status.send_replace(state.status.clone());
        out
    }
}

/// Where the alert loop puts notices; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

impl Outbox {
    /// Queues `notice` for every target. Never blocks and never fails: a full queue drops its
    /// oldest notice, which is logged and counted.
    pub fn push(&self, notice: Notice) {
        let dropped = self.shared.update(|state| {
            let mut dropped = Vec::new();
            for (i, lane) in state.lanes.iter_mut().enumerate() {
                if lane.waiting.len() >= self.shared.capacity
                    && let Some(old) = lane.waiting.pop_front()
                {
                    dropped.push((i, old));
                }
                lane.waiting.push_back(notice.clone());
            }
            state.status.dropped += dropped.len() as u64;
            dropped
        });
        for (i, old) in dropped {
            warn!(
                target = %self.shared.names[i],
                "alert queue full ({} waiting): dropped the oldest, \"{}\"",
                self.shared.capacity, old.title
            );
        }
        for wake in &self.shared.wake {
            wake.notify_one();
        }
    }

    /// The delivery counters, updated on every change.
    pub fn status(&self) -> watch::Receiver<DeliveryStatus> {
        self.shared.status.subscribe()
    }
}

/// The delivery loop; [`Delivery::run`] it once.
pub struct Delivery {
    shared: Arc<Shared>,
    client: reqwest::Client,
    targets: Vec<Target>,
    settings: DeliverySettings,
}

/// An outbox for `targets` and the loop that delivers what it receives.
pub fn channel(
    client: reqwest::Client,
    targets: Vec<Target>,
    settings: DeliverySettings,
) -> (Outbox, Delivery) {
    let outbox = outbox(&targets, settings);
    let delivery = Delivery {
        shared: Arc::clone(&outbox.shared),
        client,
        targets,
        settings,
    };
    (outbox, delivery)
}

/// An outbox with nowhere to send: for a bridge without targets, whose alerts show on the
/// status page and in the log only (no HTTP client, so no CA store, is needed).
pub fn nowhere() -> Outbox {
    outbox(&[], DeliverySettings::default())
}

fn outbox(targets: &[Target], settings: DeliverySettings) -> Outbox {
    let names: Vec<String> = targets.iter().map(Target::to_string).collect();
    let status = DeliveryStatus {
        targets: names.clone(),
        ..DeliveryStatus::default()
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            lanes: targets.iter().map(|_| Lane::default()).collect(),
            status: status.clone(),
        }),
        wake: targets.iter().map(|_| Notify::new()).collect(),
        status: watch::channel(status).0,
        names,
        capacity: settings.capacity.max(1),
    });
    Outbox { shared }
}

impl Delivery {
    /// Delivers until `shutdown`, then gives what is pending one last attempt (at most
    /// [`LAST_ATTEMPT`] in all) and logs what was never delivered.
    pub async fn run(self, shutdown: Shutdown) {
        let mut lanes = JoinSet::new();
        for (index, target) in self.targets.iter().cloned().enumerate() {
            let lane = LaneWorker {
                shared: Arc::clone(&self.shared),
                index,
                target,
                client: self.client.clone(),
                settings: self.settings,
            };
            lanes.spawn(lane.run_until_stopped(shutdown.clone()));
        }
        lanes.join_all().await;
        let state = self.shared.lock();
        for (target, lane) in self.targets.iter().zip(&state.lanes) {
            let lost: Vec<&str> = lane
                .in_flight
                .iter()
                .chain(&lane.waiting)
                .map(|n| n.title.as_str())
                .collect();
            if !lost.is_empty() {
                warn!(
                    target = %target,
                    "stopping with {} alert(s) never delivered: {}",
                    lost.len(),
                    lost.join("; ")
                );
            }
        }
    }
}

/// One target's delivery task.
struct LaneWorker {
    shared: Arc<Shared>,
    index: usize,
    target: Target,
    client: reqwest::Client,
    settings: DeliverySettings,
}

impl LaneWorker {
    async fn run_until_stopped(self, shutdown: Shutdown) {
        let mut stop = shutdown.clone();
        let work = self.run(shutdown);
        tokio::pin!(work);
        tokio::select! {
            () = &mut work => return,
            () = stop.wait() => {}
        }
        // Stopping: the attempt under way and a last one at each pending notice get what is
        // left of the grace; whatever is cut short is logged by `Delivery::run`.
        let _ = tokio::time::timeout(LAST_ATTEMPT, work).await;
    }

    /// Takes the notices in order; once shutdown is requested, drains the queue with one
    /// attempt each and returns at the first failure or when it is empty.
    async fn run(&self, mut shutdown: Shutdown) {
        loop {
            let next = self.shared.update(|state| {
                let lane = &mut state.lanes[self.index];
                lane.in_flight = lane.waiting.pop_front();
                lane.in_flight.clone()
            });
            match next {
                Some(notice) => {
                    if !self.deliver(&notice, &mut shutdown).await {
                        return;
                    }
                }
                None if shutdown.requested() => return,
                None => tokio::select! {
                    () = self.shared.wake[self.index].notified() => {}
                    () = shutdown.wait() => {}
                },
            }
        }
    }

    /// Tries `notice` until the target accepts it; `false` when shutdown stopped the tries.
    async fn deliver(&self, notice: &Notice, shutdown: &mut Shutdown) -> bool {
        let mut delay = self.settings.first_retry;
        let mut failures: u32 = 0;
        loop {
            match send(&self.client, &self.target, notice).await {
                Ok(answer) => {
                    self.shared.update(|state| {
                        state.lanes[self.index].in_flight = None;
                        state.status.delivered += 1;
                    });
                    if failures > 0 {
                        info!(
                            target = %self.target, kind = %notice.kind,
                            "alert delivered after {failures} failed attempt(s): {answer}"
                        );
                    } else {
                        debug!(target = %self.target, kind = %notice.kind, "alert delivered: {answer}");
                    }
                    return true;
                }
                Err(e) if e.is_permanent() => {
                    let line = format!("{}: {e}", self.target);
                    self.shared.update(|state| {
                        state.lanes[self.index].in_flight = None;
                        state.status.failed_attempts += 1;
                        state.status.dropped += 1;
                        state.status.last_error = Some(line);
                    });
                    warn!(
                        target = %self.target, kind = %notice.kind,
                        "alert \"{}\" dropped: the target refused it ({e}); check the target's \
                         settings with `portfolio-bridge alerts test`",
                        notice.title
                    );
                    return true;
                }
                Err(e) => {
                    let line = format!("{}: {e}", self.target);
                    self.shared.update(|state| {
                        state.status.failed_attempts += 1;
                        state.status.last_error = Some(line);
                    });
                    if failures == 0 {
                        warn!(
                            target = %self.target, kind = %notice.kind,
                            "alert \"{}\" not delivered: {e}; retrying every {:?}, doubling up \
                             to every {:?}, until it answers",
                            notice.title, self.settings.first_retry, self.settings.max_retry
                        );
                    }
                    failures += 1;
                    if shutdown.requested() {
                        return false;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.wait() => {}
                    }
                    delay = delay.saturating_mul(2).min(self.settings.max_retry);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
