//! The session keeper: tickles the Client Portal Gateway every
//! `IBKR_CP_TICKLE_INTERVAL_SECONDS`, checks the auth status when the tickle says the session
//! is not authenticated, opens a brokerage session once when the gateway is connected but not
//! authenticated, and otherwise concludes **re-auth required**. While it waits for a human's
//! login (or for the gateway to answer) it checks more often, so a login is seen at once.
//!
//! The resulting [`PortalSession`] is shared (a `watch` channel) with the status API, the
//! page, the jobs and the PORTAL source; its `generation` tells the source when the gateway's
//! session may be a new one, whose first calls are due again. Every change of state or
//! session — not every tickle — goes to `api_logs`. The keeper never takes a brokerage session
//! over from a competing login: that would disconnect the trader's own TWS or phone.

use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::client::PortalClient;
use super::error::PortalError;
use super::wire::AuthStatus;
use crate::Shutdown;
use crate::api_log::ApiLog;
use crate::domain::api_log::{ApiLogEntry, ApiMode, LogStatus};

/// What the bridge knows about its Client Portal session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Not checked yet.
    Starting,
    /// Logged in with a brokerage session: everything works.
    Authenticated,
    /// A human must log in again in a browser on the gateway's machine.
    ReauthRequired,
    /// Another login holds the brokerage session; `/portfolio/*` still works.
    Competing,
    /// The gateway does not answer.
    Unreachable,
    /// The gateway answers, but not as expected (rate limited, errors).
    Degraded,
}

/// The session as the rest of the bridge sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortalSession {
    pub state: SessionState,
    pub authenticated: bool,
    pub connected: bool,
    pub competing: bool,
    pub last_tickle: Option<Timestamp>,
    /// For the operator: what is wrong and what to do, or what is fine.
    pub message: String,
    pub since: Timestamp,
    /// Grows each time the gateway's session may be a new one: a change of state (a login
    /// after re-auth), a brokerage session the keeper opened, a new session id on the tickle.
    /// A session's first calls (`/portfolio/accounts`, `/iserver/accounts`) are due again in
    /// each generation.
    pub generation: u64,
}

impl PortalSession {
    pub fn starting(now: Timestamp) -> PortalSession {
        PortalSession {
            state: SessionState::Starting,
            authenticated: false,
            connected: false,
            competing: false,
            last_tickle: None,
            message: "not checked yet".into(),
            since: now,
            generation: 0,
        }
    }

    /// Whether the read-only (`/portfolio/*`) endpoints can be used.
    pub fn can_read_portfolio(&self) -> bool {
        matches!(
            self.state,
            SessionState::Authenticated | SessionState::Competing
        )
    }
}

/// The verdict on one check, from what the gateway said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: SessionState,
    pub status: AuthStatus,
    pub message: String,
    /// The check opened a brokerage session (`ssodh/init`): a new one, whatever the state.
    pub opened_brokerage: bool,
    /// The fingerprint of the session id the tickle reported, if it did.
    pub session: Option<u64>,
}

/// What a failed call means for the session.
pub fn verdict_of_error(e: &PortalError) -> Verdict {
    let state = match e {
        PortalError::NotAuthenticated { .. } => SessionState::ReauthRequired,
        PortalError::Competing => SessionState::Competing,
        PortalError::Unreachable { .. } | PortalError::TimedOut { .. } => SessionState::Unreachable,
        _ => SessionState::Degraded,
    };
    Verdict {
        state,
        status: AuthStatus::default(),
        message: e.to_string(),
        opened_brokerage: false,
        session: None,
    }
}

/// What an auth status means, once a brokerage session has been asked for if one was due.
pub fn verdict_of_status(status: AuthStatus, login_url: &str) -> Verdict {
    let (state, message) = if status.authenticated {
        (SessionState::Authenticated, "authenticated".to_owned())
    } else if status.competing {
        (SessionState::Competing, PortalError::Competing.to_string())
    } else {
        let e = PortalError::NotAuthenticated {
            login_url: login_url.to_owned(),
        };
        (SessionState::ReauthRequired, e.to_string())
    };
    Verdict {
        state,
        session: status.session,
        status,
        message,
        opened_brokerage: false,
    }
}

/// Asks the gateway where the session stands, mending what needs no human: tickle; if not
/// authenticated, the auth status; if connected but not authenticated, one `ssodh/init`.
pub async fn probe(client: &PortalClient) -> Verdict {
    let tickled = match client.tickle().await {
        Err(e) => return verdict_of_error(&e),
        Ok(status) if status.authenticated => return verdict_of_status(status, client.login_url()),
        Ok(status) => status,
    };
    let status = match client.auth_status().await {
        Ok(s) => s,
        Err(e) => return verdict_of_error(&e),
    };
    let verdict = if status.authenticated || !status.connected || status.competing {
        verdict_of_status(status, client.login_url())
    } else {
        match client.init_brokerage_session().await {
            Ok(after) => Verdict {
                opened_brokerage: after.authenticated,
                ..verdict_of_status(after, client.login_url())
            },
            Err(e) => verdict_of_error(&e),
        }
    };
    Verdict {
        session: tickled.session,
        ..verdict
    }
}

/// How long the keeper waits before its next check, in `state`. While a human must log in or
/// the gateway does not answer, it looks every `recheck` (the PORTAL poll interval): so a
/// login is seen, and data flows, within one poll of it rather than one tickle interval
/// later. A check then costs a tickle and an auth status, well within the gateway's limits
/// (the pacer keeps `/tickle` to one a second whatever `recheck` is). Otherwise every `tickle`.
pub fn next_check(state: SessionState, tickle: Duration, recheck: Duration) -> Duration {
    match state {
        SessionState::ReauthRequired | SessionState::Unreachable | SessionState::Starting => {
            recheck.min(tickle)
        }
        SessionState::Authenticated | SessionState::Competing | SessionState::Degraded => tickle,
    }
}

/// Keeps the session alive and its state current.
pub struct SessionKeeper {
    client: PortalClient,
    state: watch::Sender<PortalSession>,
    log: ApiLog,
    interval: Duration,
    recheck: Duration,
    /// The fingerprint of the session id last reported by the tickle.
    last_session: Mutex<Option<u64>>,
}

impl SessionKeeper {
    /// A keeper that tickles every `interval`, and checks every `recheck` while it waits for a
    /// login or for the gateway (see [`next_check`]).
    pub fn new(
        client: PortalClient,
        interval: Duration,
        recheck: Duration,
        log: ApiLog,
    ) -> (SessionKeeper, watch::Receiver<PortalSession>) {
        let (state, rx) = watch::channel(PortalSession::starting(Timestamp::now()));
        (
            SessionKeeper {
                client,
                state,
                log,
                interval,
                recheck,
                last_session: Mutex::new(None),
            },
            rx,
        )
    }

    /// Checks now and then as [`next_check`] says, until `shutdown`.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            tokio::select! {
                _ = self.check() => {}
                _ = shutdown.wait() => return,
            }
            let wait = next_check(self.state.borrow().state, self.interval, self.recheck);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// One keep-alive round (see [`probe`]), its verdict published.
    pub async fn check(&self) {
        let now = Timestamp::now();
        let verdict = probe(&self.client).await;
        let tickled = verdict.state != SessionState::Unreachable;
        self.publish(verdict, tickled.then_some(now), now);
    }

    fn publish(&self, verdict: Verdict, tickled: Option<Timestamp>, now: Timestamp) {
        let previous = self.state.borrow().state;
        let changed = previous != verdict.state;
        let new_session = verdict.session.is_some_and(|id| {
            let mut last = self.last_session.lock().unwrap_or_else(|e| e.into_inner());
            last.replace(id).is_some_and(|before| before != id)
        });
        let renewed = !changed && (verdict.opened_brokerage || new_session);
        self.state.send_modify(|s| {
            if changed {
                s.since = now;
            }
            if changed || renewed {
                s.generation += 1;
            }
            s.state = verdict.state;
            s.authenticated = verdict.status.authenticated;
            s.connected = verdict.status.connected;
            s.competing = verdict.status.competing;
            s.last_tickle = tickled.or(s.last_tickle);
            s.message = verdict.message.clone();
        });
        if changed {
            let status = match verdict.state {
                SessionState::Authenticated => LogStatus::Ok,
                SessionState::Competing | SessionState::Degraded => LogStatus::Warning,
                _ => LogStatus::Error,
            };
            let message = format!(
                "Client Portal session {}: {}",
                state_name(verdict.state),
                verdict.message
            );
            self.log
                .record(ApiLogEntry::new(now, ApiMode::Portal, status, message));
        } else if renewed {
            let how = match verdict.opened_brokerage {
                true => {
                    "the brokerage session had lapsed; the bridge opened a new one (ssodh/init)"
                }
                false => "the gateway reports a new session (a login since the last check)",
            };
            let message = format!("Client Portal session renewed: {how}");
            self.log.record(ApiLogEntry::new(
                now,
                ApiMode::Portal,
                LogStatus::Ok,
                message,
            ));
        }
    }
}

fn state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::Starting => "starting",
        SessionState::Authenticated => "authenticated",
        SessionState::ReauthRequired => "needs a login",
        SessionState::Competing => "competing",
        SessionState::Unreachable => "unreachable",
        SessionState::Degraded => "degraded",
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
