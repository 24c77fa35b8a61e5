//! The bridge's health as `GET /api/v1/status` and the page's banner show it: the transport
//! and its connection, the Client Portal session, the greeks (last row, positions left out),
//! the spool and its breaker, the last result of each job type — and what needs attention,
//! each with what to do.
//!
//! Live parts come from memory and are always there; the database parts are best effort, so
//! the status still answers when PostgreSQL does not.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::alerts::AlertsView;
use crate::config::ApiMode;
use crate::domain::net_greeks::LeftOutReason;
use crate::domain::portfolio::FeedHealth;
use crate::greeks::writer::{Breaker, WriterStatus};
use crate::ibkr::portal::{PortalSession, SessionState};
use crate::jobs::COMBO_POSITIONS_SYNC;
use crate::store::greeks::GreeksPoint;
use crate::store::jobs::JobRow;
use crate::store::{self, SchemaState};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransportView {
    pub mode: String,
    pub connected: bool,
    pub since: Option<Timestamp>,
    pub message: String,
    pub reconnects: u64,
    /// When the source last delivered its whole positions list since it connected; greeks rows
    /// start at the first interval boundary after it.
    pub positions_complete: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortalView {
    pub enabled: bool,
    pub state: Option<SessionState>,
    pub authenticated: bool,
    pub competing: bool,
    pub last_tickle: Option<Timestamp>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeftOutView {
    /// The account's alias.
    pub account: String,
    pub con_id: i32,
    pub symbol: Option<String>,
    pub reason: LeftOutReason,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GreeksView {
    pub last_tick: Option<Timestamp>,
    /// The newest `PORTFOLIO` row stored.
    pub last_row: Option<GreeksPoint>,
    pub rows_written: u64,
    pub positions_counted: usize,
    pub left_out: Vec<LeftOutView>,
    pub ticks_skipped: u64,
}

/// Something a human should look at, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attention {
    /// `reauth`, `portal`, `feed`, `stale`, `database`, `spool`.
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusView {
    /// This bridge's `BRIDGE_NAME` (empty from a bridge older than names).
    #[serde(default)]
    pub bridge: String,
    pub transport: TransportView,
    pub client_portal: PortalView,
    pub greeks: GreeksView,
    pub spool: WriterStatus,
    /// The last finished job of each type.
    pub jobs: Vec<JobRow>,
    /// When `combo_positions.sync` last completed.
    pub combos_synced_at: Option<Timestamp>,
    pub database_reachable: bool,
    pub attention: Vec<Attention>,
    /// Active and recent alerts, and how their delivery goes (absent from a bridge older than
    /// alerts: none).
    #[serde(default)]
    pub alerts: AlertsView,
}

/// One line of the status as the page and `portfolio-bridge status` print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    /// The instant `value` names (written in it as [`utc_text`]), so a page can show it in
    /// its reader's zone.
    pub at: Option<Timestamp>,
}

/// A time as the status prints it: `2026-11-21 14:00:05 UTC`.
pub fn utc_text(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn at_or_never(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "never".into(), utc_text)
}

impl StatusView {
    /// The status as labelled lines, for people.
    pub fn facts(&self) -> Vec<Fact> {
        let fact = |label, value| Fact {
            label,
            value,
            at: None,
        };
        let timed = |label, value, at| Fact { label, value, at };
        let mut facts = vec![
            fact("Bridge", self.bridge.clone()),
            fact(
                "Transport",
                format!(
                    "{} — {} ({}), {} reconnects",
                    self.transport.mode,
                    if self.transport.connected {
                        "connected"
                    } else {
                        "down"
                    },
                    self.transport.message,
                    self.transport.reconnects
                ),
            ),
            match (&self.client_portal.state, &self.client_portal.message) {
                (Some(SessionState::Authenticated), _) => timed(
                    "Client Portal",
                    format!(
                        "authenticated, last tickle {}",
                        at_or_never(self.client_portal.last_tickle)
                    ),
                    self.client_portal.last_tickle,
                ),
                (Some(_), Some(message)) => fact("Client Portal", message.clone()),
                _ => fact("Client Portal", "not used (IBKR_CP_ENABLED=false)".into()),
            },
            timed(
                "Last greeks tick",
                at_or_never(self.greeks.last_tick),
                self.greeks.last_tick,
            ),
            fact(
                "Greeks rows written",
                format!(
                    "{} since start ({} positions counted, {} left out)",
                    self.greeks.rows_written,
                    self.greeks.positions_counted,
                    self.greeks.left_out.len()
                ),
            ),
            fact(
                "Spool",
                format!(
                    "breaker {}, {} records waiting, {} in memory, {} dropped",
                    match self.spool.breaker {
                        Breaker::Closed => "closed",
                        Breaker::Open => "open (PostgreSQL writes are failing)",
                    },
                    self.spool.spooled,
                    self.spool.in_memory,
                    self.spool.dropped
                ),
            ),
            timed(
                "Combos last synced",
                at_or_never(self.combos_synced_at),
                self.combos_synced_at,
            ),
        ];
        for job in &self.jobs {
            let outcome = match (&job.last_error, &job.result) {
                (Some(e), _) => e.clone(),
                (None, Some(r)) => r.to_string(),
                (None, None) => String::new(),
            };
            facts.push(Fact {
                label: "Last job",
                value: format!(
                    "{} {} at {} {}",
                    job.job_type,
                    job.status,
                    at_or_never(job.completed_at),
                    outcome
                )
                .trim_end()
                .to_owned(),
                at: job.completed_at,
            });
        }
        if !self.database_reachable {
            facts.push(fact("PostgreSQL", "unreachable".into()));
        }
        let d = &self.alerts.delivery;
        facts.push(fact(
            "Alerts",
            format!(
                "{} active; {} notices delivered, {} waiting, {} dropped{}",
                self.alerts.active.len(),
                d.delivered,
                d.pending,
                d.dropped,
                match d.targets.is_empty() {
                    true => " (no ALERT_WEBHOOK_URL or ALERT_COMMAND set)".to_owned(),
                    false => format!(" to {}", d.targets.join(", ")),
                }
            ),
        ));
        facts
    }

    /// The alerts that hold now, a line each with what to do.
    pub fn alert_lines(&self) -> Vec<String> {
        self.alerts
            .active
            .iter()
            .map(|a| {
                format!(
                    "[{}] {} since {}: {} — {}",
                    a.severity.as_str(),
                    a.kind,
                    utc_text(a.started_at),
                    a.title,
                    a.action
                )
            })
            .collect()
    }

    /// The positions left out of the greeks, a line each.
    pub fn left_out_lines(&self) -> Vec<String> {
        self.greeks
            .left_out
            .iter()
            .map(|l| {
                format!(
                    "{} — {} ({}): {}",
                    l.account,
                    l.symbol.as_deref().unwrap_or("?"),
                    l.con_id,
                    l.reason.describe()
                )
            })
            .collect()
    }
}

/// What the status says needs a human, each with what to do; never a promise that the bridge
/// recovers by itself where only a human can help. Pure: the caller passes `now`.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    mode: ApiMode,
    feed: &FeedHealth,
    portal: Option<&PortalSession>,
    writer: &WriterStatus,
    combos_synced_at: Option<Timestamp>,
    database: Result<(), String>,
    sync_interval: Duration,
    now: Timestamp,
) -> Vec<Attention> {
    let mut out = Vec::new();
    let needs_login = portal.is_some_and(|p| p.state == SessionState::ReauthRequired);
    if let Some(p) = portal {
        match p.state {
            SessionState::ReauthRequired => out.push(Attention {
                kind: "reauth".into(),
                message: format!(
                    "{}. {}",
                    p.message.trim_end_matches('.'),
                    match mode {
                        ApiMode::Portal => {
                            "Until then no positions, prices or greeks arrive and greeks rows \
                             pause; data flows again within one poll of the login"
                        }
                        ApiMode::Socket => {
                            "Until then combo positions are not synced; legs and greeks keep \
                             flowing from the socket"
                        }
                    }
                ),
            }),
            SessionState::Competing | SessionState::Unreachable | SessionState::Degraded => out
                .push(Attention {
                    kind: "portal".into(),
                    message: format!("Client Portal: {}", p.message),
                }),
            SessionState::Authenticated | SessionState::Starting => {}
        }
    }
    if !feed.connected && feed.since.is_some() {
        match mode {
            // The feed is down because nobody is logged in: the re-auth item says what to do.
            ApiMode::Portal if needs_login => {}
            ApiMode::Portal => out.push(Attention {
                kind: "feed".into(),
                message: format!(
                    "the Client Portal feed is down ({}); the bridge asks again at every poll, \
                     and greeks rows pause until data flows",
                    feed.message
                ),
            }),
            ApiMode::Socket => out.push(Attention {
                kind: "feed".into(),
                message: format!(
                    "the IBKR feed is down ({}); the bridge reconnects by itself, and greeks \
                     rows pause until it is back",
                    feed.message
                ),
            }),
        }
    }
    // Combos count as stale after three missed syncs (and a minute of slack).
    let limit = sync_interval * 3 + Duration::from_secs(60);
    if portal.is_some()
        && let Some(at) = combos_synced_at
        && now.duration_since(at).unsigned_abs() > limit
    {
        out.push(Attention {
            kind: "stale".into(),
            message: format!(
                "combo positions were last synced at {at}; what the page shows may be out of \
                 date. Check the Client Portal session and `portfolio-bridge jobs list`"
            ),
        });
    }
    if let Err(why) = database {
        out.push(Attention {
            kind: "database".into(),
            message: why,
        });
    }
    if writer.breaker == Breaker::Open {
        out.push(Attention {
            kind: "spool".into(),
            message: format!(
                "writes to PostgreSQL are failing ({}): {} records wait in the spool and are \
                 stored once it is back",
                writer.last_error.as_deref().unwrap_or("no detail"),
                writer.spooled + writer.in_memory
            ),
        });
    }
    if writer.dropped > 0 {
        out.push(Attention {
            kind: "spool".into(),
            message: format!(
                "{} records were dropped: neither the spool nor memory could keep them (see \
                 the log)",
                writer.dropped
            ),
        });
    }
    out
}

/// What the status says of PostgreSQL, from the schema's state (in memory) and whether the
/// status's own reads were answered: `Err` with what is wrong. Pure.
pub fn database_health(schema: &SchemaState, answered: bool) -> Result<(), String> {
    match (schema, answered) {
        (_, true) => Ok(()),
        (SchemaState::Pending(why), false) => Err(format!(
            "the database schema is not applied yet ({why}): greeks rows wait in the spool and \
             the page shows nothing new until it is"
        )),
        (SchemaState::Unusable(why), false) => Err(format!(
            "the database schema cannot serve the bridge, which stops: {why}"
        )),
        (SchemaState::Ready, false) => Err("PostgreSQL does not answer: greeks rows wait in \
                                            the spool and the page shows nothing new until it \
                                            is back"
            .into()),
    }
}

/// The status now.
pub async fn snapshot(state: &AppState) -> StatusView {
    let pool = &state.pool;
    let (feed, positions_complete) = state
        .live
        .portfolio
        .read(|p| (p.health(), p.positions_complete()));
    let ticks = state.live.ticks.borrow().clone();
    let writer = state.live.writer.borrow().clone();
    let portal = state.live.portal.as_ref().map(|p| p.borrow().clone());

    // The schema's state is in memory; the database parts are read only once it is ready, and
    // only if PostgreSQL answers within STATUS_DB_BOUND.
    let schema = state.live.schema.borrow().clone();
    let read = async {
        if schema != SchemaState::Ready {
            return None;
        }
        tokio::time::timeout(super::STATUS_DB_BOUND, async {
            let aliases = store::accounts::aliases_by_code(pool).await?;
            let last_row = store::greeks::last_portfolio_row(pool, &state.settings.bridge)
                .await
                .ok()
                .flatten();
            let jobs = store::jobs::last_finished(pool).await.unwrap_or_default();
            let combos_synced_at = store::jobs::last_completed(pool, COMBO_POSITIONS_SYNC)
                .await
                .ok()
                .flatten();
            Ok::<_, sqlx::Error>((aliases, last_row, jobs, combos_synced_at))
        })
        .await
        .ok()
        .and_then(Result::ok)
    };
    let stored = read.await;
    let database_reachable = stored.is_some();
    let database = database_health(&schema, database_reachable);
    let (aliases, last_row, jobs, combos_synced_at) = stored.unwrap_or_default();

    let left_out = ticks
        .left_out
        .iter()
        .map(|l| LeftOutView {
            account: aliases
                .get(l.account.as_str())
                .cloned()
                .unwrap_or_else(|| l.account.masked()),
            con_id: l.conid.get(),
            symbol: l.symbol.clone(),
            reason: l.reason,
        })
        .collect();
    let attention = attention(
        state.settings.api_mode,
        &feed,
        portal.as_ref(),
        &writer,
        combos_synced_at,
        database,
        state.settings.positions_sync_interval,
        Timestamp::now(),
    );
    StatusView {
        bridge: state.settings.bridge.to_string(),
        transport: TransportView {
            mode: state.settings.api_mode.to_string(),
            connected: feed.connected,
            since: feed.since,
            message: feed.message.clone(),
            reconnects: feed.connects.saturating_sub(1),
            positions_complete,
        },
        client_portal: PortalView {
            enabled: portal.is_some(),
            state: portal.as_ref().map(|p| p.state),
            authenticated: portal.as_ref().is_some_and(|p| p.authenticated),
            competing: portal.as_ref().is_some_and(|p| p.competing),
            last_tickle: portal.as_ref().and_then(|p| p.last_tickle),
            message: portal.as_ref().map(|p| p.message.clone()),
        },
        greeks: GreeksView {
            last_tick: ticks.last_tick,
            last_row,
            rows_written: ticks.rows,
            positions_counted: ticks.counted,
            left_out,
            ticks_skipped: ticks.skipped,
        },
        spool: writer,
        jobs,
        combos_synced_at,
        database_reachable,
        attention,
        alerts: state.live.alerts.borrow().clone(),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
