//! The Client Portal boundary's errors, each worded as what the operator reads and does.
//!
//! Their text reaches the status API, the page and `portfolio-bridge status`: it never names an
//! account by its code. Paths are the client's shown form (`/portfolio/DU…567/positions/0`),
//! and a gateway's message about one account has that account's code masked.

use std::time::Duration;

/// Everything a Client Portal call can end in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalError {
    /// No login (401, or a redirect to the login page).
    #[error(
        "Re-auth required: log in to the Client Portal Gateway at {login_url} in a browser on \
         the gateway's machine and approve the 2FA; nothing else is needed"
    )]
    NotAuthenticated { login_url: String },
    /// Another login (TWS, mobile, web) holds the brokerage session.
    #[error(
        "competing session: another login of this user (TWS, mobile or web) holds the brokerage \
         session. The bridge does not take it over; log in with a dedicated API user, or close \
         the other session"
    )]
    Competing,
    /// Logged in, but without the brokerage session `/iserver/*` needs.
    #[error(
        "no brokerage session: the gateway answered \"{message}\" (the bridge opens one with /iserver/auth/ssodh/init)"
    )]
    NoBrokerageSession { message: String },
    /// The gateway wants a session's first call (`/portfolio/accounts`, `/iserver/accounts`)
    /// made again before this one: a new session, after a login or a gateway restart.
    #[error(
        "the Client Portal Gateway refused {path} until {first} is called in its new session: \
         \"{message}\""
    )]
    FirstCallNeeded {
        path: String,
        first: String,
        message: String,
    },
    /// Paced by the gateway (429).
    #[error("rate limited by the Client Portal Gateway{}", match .retry_after {
        Some(d) => format!(" for {} s", d.as_secs_f64().ceil()),
        None => String::new(),
    })]
    RateLimited { retry_after: Option<Duration> },
    #[error("the Client Portal Gateway did not answer {path} within {} s", .timeout.as_secs_f64())]
    TimedOut { path: String, timeout: Duration },
    #[error(
        "cannot reach the Client Portal Gateway at {url}: {reason}. Is it running \
         (bin/run.sh root/conf.yaml)?"
    )]
    Unreachable { url: String, reason: String },
    /// An answer the bridge cannot read; the body is kept as received.
    #[error("unexpected answer from {path} (HTTP {status}): {reason}")]
    UnexpectedPayload {
        path: String,
        status: u16,
        reason: String,
        raw: String,
    },
    /// An error status the gateway explained.
    #[error("the Client Portal Gateway refused {path} with HTTP {status}: {message}")]
    Refused {
        path: String,
        status: u16,
        message: String,
    },
    /// The session keeper has not found a usable session (yet).
    #[error("the Client Portal session is not usable: {message}")]
    SessionUnusable { message: String },
    /// The client cannot be built as configured.
    #[error("{0}")]
    Setup(String),
}

impl PortalError {
    /// Whether a human must log in before anything works again.
    pub fn needs_login(&self) -> bool {
        matches!(self, PortalError::NotAuthenticated { .. })
    }
}
