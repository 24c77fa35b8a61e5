//! The session keeper: tickles the Client Portal Gateway every
//! `IBKR_CP_TICKLE_INTERVAL_SECONDS`, checks the auth status when the tickle says the session
//! is not authenticated, opens a brokerage session once when the gateway is connected but not
//! authenticated, and otherwise concludes **re-auth required**.
//!
//! The resulting [`PortalSession`] is shared (a `watch` channel) with the status API, the
//! page, the jobs and the PORTAL source. Every change of state — not every tickle — goes to
//! `api_logs`. The keeper never takes a brokerage session over from a competing login: that
//! would disconnect the trader's own TWS or phone.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

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
        status,
        message,
    }
}

/// Asks the gateway where the session stands, mending what needs no human: tickle; if not
/// authenticated, the auth status; if connected but not authenticated, one `ssodh/init`.
pub async fn probe(client: &PortalClient) -> Verdict {
    let status = match client.tickle().await {
        Err(e) => return verdict_of_error(&e),
        Ok(status) if status.authenticated => return verdict_of_status(status, client.login_url()),
        Ok(_) => match client.auth_status().await {
            Ok(s) => s,
            Err(e) => return verdict_of_error(&e),
        },
    };
    if status.authenticated || !status.connected || status.competing {
        return verdict_of_status(status, client.login_url());
    }
    match client.init_brokerage_session().await {
        Ok(after) => verdict_of_status(after, client.login_url()),
        Err(e) => verdict_of_error(&e),
    }
}

/// Keeps the session alive and its state current.
pub struct SessionKeeper {
    client: PortalClient,
    state: watch::Sender<PortalSession>,
    log: ApiLog,
    interval: std::time::Duration,
}

impl SessionKeeper {
    pub fn new(
        client: PortalClient,
        interval: std::time::Duration,
        log: ApiLog,
    ) -> (SessionKeeper, watch::Receiver<PortalSession>) {
        let (state, rx) = watch::channel(PortalSession::starting(Timestamp::now()));
        (
            SessionKeeper {
                client,
                state,
                log,
                interval,
            },
            rx,
        )
    }

    /// Checks now and then every interval, until `shutdown`.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut timer = tokio::time::interval(self.interval);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = timer.tick() => {}
                _ = shutdown.wait() => return,
            }
            tokio::select! {
                _ = self.check() => {}
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
        self.state.send_modify(|s| {
            if changed {
                s.since = now;
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
