//! What an alert says: the notice every target receives, in the generic JSON shape that
//! `ALERT_WEBHOOK_URL` receivers and `ALERT_COMMAND` get as is, and that the native shapes
//! (Slack, Discord, ntfy) are rendered from.
//!
//! It holds words for people and never an account code: whoever builds a notice passes
//! aliases or masked codes only.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The condition an alert is about; the name is stable, for filters on the receiving side.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    ReauthRequired,
    FeedDown,
    DatabaseUnreachable,
    SpoolGrowing,
    RowsDropped,
    SyncFailing,
    GreeksIncomplete,
    FrontMonthExpiring,
    /// `portfolio-bridge alerts test`.
    Test,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ReauthRequired => "reauth_required",
            AlertKind::FeedDown => "feed_down",
            AlertKind::DatabaseUnreachable => "database_unreachable",
            AlertKind::SpoolGrowing => "spool_growing",
            AlertKind::RowsDropped => "rows_dropped",
            AlertKind::SyncFailing => "sync_failing",
            AlertKind::GreeksIncomplete => "greeks_incomplete",
            AlertKind::FrontMonthExpiring => "front_month_expiring",
            AlertKind::Test => "test",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Which point of an alert's life a notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The condition started.
    Firing,
    /// It still holds (at most every `ALERT_REPEAT_MINUTES`).
    Reminder,
    /// It cleared; the notice says how long it lasted.
    Resolved,
    /// `portfolio-bridge alerts test`.
    Test,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Firing => "firing",
            Phase::Reminder => "reminder",
            Phase::Resolved => "resolved",
            Phase::Test => "test",
        }
    }
}

/// One message to every target: the generic webhook's JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    pub kind: AlertKind,
    /// Tells apart alerts of one kind (a job type, a contract); empty when there is one.
    pub key: String,
    pub severity: Severity,
    pub status: Phase,
    /// One line: what is wrong, e.g. `IBKR feed down for 4 min`.
    pub title: String,
    /// The detail: since when, why, what the bridge does meanwhile.
    pub text: String,
    /// What the human must do, in one sentence.
    pub action: String,
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// How long the condition lasted, on a resolved notice.
    pub lasted_seconds: Option<u64>,
    /// The machine the bridge runs on.
    pub host: String,
}

impl Notice {
    /// The notice as one short text, for chat targets: `[CRITICAL] title — text Action: …`.
    pub fn headline(&self) -> String {
        let tag = match self.status {
            Phase::Resolved => "RESOLVED".to_owned(),
            Phase::Test => "TEST".to_owned(),
            _ => self.severity.as_str().to_uppercase(),
        };
        format!("[{tag}] {} ({})", self.title, self.host)
    }
}
