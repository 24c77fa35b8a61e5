//! The rules: from what the bridge holds in memory to the conditions that need a human,
//! each with its severity, the time it started and what to do.
//!
//! Pure: the caller gathers an [`Observation`] and passes `now`. The only memory is when a
//! condition without a start time of its own was first seen (a breaker open, positions left
//! out, records dropped). It never reads PostgreSQL, so a database outage is alertable, and it
//! never puts an account code in a text: accounts appear masked.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use super::notice::{AlertKind, Severity};
use crate::config::ApiMode;
use crate::domain::expiry::Expiring;
use crate::domain::ids::{AccountCode, ConId};
use crate::domain::net_greeks::LeftOut;
use crate::domain::portfolio::FeedHealth;
use crate::domain::reset_window::ResetWindow;
use crate::greeks::writer::{Breaker, WriterStatus};
use crate::ibkr::portal::{PortalSession, SessionState};
use crate::jobs::worker::Streaks;
use crate::store::SchemaState;

/// Records dropped this long ago or longer no longer keep `rows_dropped` active.
pub const DROPS_QUIET: Duration = Duration::from_secs(300);

/// When each condition counts as one a human must hear of.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// `ALERT_FEED_DOWN_AFTER_SECONDS`.
    pub feed_down_after: Duration,
    /// `ALERT_DATABASE_DOWN_AFTER_SECONDS`.
    pub database_down_after: Duration,
    /// `ALERT_SPOOL_ROWS`.
    pub spool_rows: usize,
    /// `ALERT_SYNC_FAILURES`.
    pub sync_failures: u32,
    /// `ALERT_GREEKS_INCOMPLETE_AFTER_SECONDS`.
    pub greeks_incomplete_after: Duration,
    /// `ALERT_EXPIRY_BUSINESS_DAYS`.
    pub expiry_business_days: i32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            feed_down_after: Duration::from_secs(180),
            database_down_after: Duration::from_secs(120),
            spool_rows: 10_000,
            sync_failures: 3,
            greeks_incomplete_after: Duration::from_secs(600),
            expiry_business_days: 5,
        }
    }
}

/// What the rules look at, gathered by the alert loop from the running parts.
#[derive(Debug, Clone)]
pub struct Observation {
    pub mode: ApiMode,
    pub reset: ResetWindow,
    pub feed: FeedHealth,
    /// SOCKET: where the gateway listens, for the action text.
    pub gateway_addr: String,
    /// `None` when the Client Portal is not used.
    pub portal: Option<PortalSession>,
    /// The page a human opens to log the Client Portal in.
    pub portal_login_url: String,
    pub writer: WriterStatus,
    pub schema: SchemaState,
    pub jobs: Streaks,
    pub left_out: Vec<LeftOut>,
    /// Held futures near their last trade date, per account (masked): a long in one account
    /// and a short in another each go to delivery, however they net.
    pub expiring: Vec<(String, Expiring)>,
    /// Every account the source serves, so that none appears unmasked in a job's error.
    pub accounts: Vec<AccountCode>,
}

/// A condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub kind: AlertKind,
    pub key: String,
    pub severity: Severity,
    pub since: Timestamp,
    pub title: String,
    pub text: String,
    pub action: String,
}

/// The rules and their small memory.
#[derive(Debug, Clone)]
pub struct Rules {
    thresholds: Thresholds,
    breaker_open_since: Option<Timestamp>,
    schema_pending_since: Option<Timestamp>,
    /// When each position left out of the greeks was first seen left out.
    left_out_since: BTreeMap<(AccountCode, ConId), Timestamp>,
    /// The writer's drop count last seen, the first and the last drop of the current episode
    /// and its count at the start.
    drops_seen: u64,
    drops: Option<(Timestamp, Timestamp, u64)>,
    /// Whether `feed_down` held at the last evaluation: inside a reset window, or while a
    /// login explains the outage, it keeps holding but never starts.
    feed_down: bool,
    /// Whether the gateway's `reauth_required` held: inside a reset window it keeps holding
    /// but never starts.
    gateway_reauth: bool,
}

impl Rules {
    pub fn new(thresholds: Thresholds) -> Rules {
        Rules {
            thresholds,
            breaker_open_since: None,
            schema_pending_since: None,
            left_out_since: BTreeMap::new(),
            drops_seen: 0,
            drops: None,
            feed_down: false,
            gateway_reauth: false,
        }
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The conditions that hold at `now`.
    pub fn evaluate(&mut self, o: &Observation, now: Timestamp) -> Vec<Condition> {
        let mut out = Vec::new();
        let portal = self.portal_login(o);
        let gateway = self.gateway_login(o, now);
        // The login that explains an outage of the feed: the Client Portal's in PORTAL mode,
        // the gateway's in SOCKET mode (there the Client Portal only serves combos).
        let explained = match o.mode {
            ApiMode::Portal => portal.is_some(),
            ApiMode::Socket => gateway.is_some(),
        };
        out.extend(portal);
        out.extend(gateway);
        out.extend(self.feed(o, now, explained));
        out.extend(self.database(o, now));
        out.extend(self.spool(o, now));
        out.extend(self.sync(o));
        out.extend(self.greeks(o, now));
        out.extend(self.expiry(o, now));
        out
    }

    /// The Client Portal session waits for a login.
    fn portal_login(&self, o: &Observation) -> Option<Condition> {
        let p = o
            .portal
            .as_ref()
            .filter(|p| p.state == SessionState::ReauthRequired)?;
        let pauses = match o.mode {
            ApiMode::Portal => "no positions, prices or greeks arrive and greeks rows pause",
            ApiMode::Socket => "combo positions are not synced (legs and greeks keep flowing)",
        };
        Some(Condition {
            kind: AlertKind::ReauthRequired,
            key: "client_portal".into(),
            severity: Severity::Critical,
            since: p.since,
            title: "Re-auth required: the IBKR Client Portal session needs a login".into(),
            text: format!("{}. Until then {pauses}.", p.message.trim_end_matches('.')),
            action: format!(
                "On the gateway's machine, open {} in a browser and log in (with two-factor \
                 authentication); data flows again within one poll of the login.",
                o.portal_login_url
            ),
        })
    }

    /// SOCKET: IB Gateway refused whole reconnect rounds outside the reset window; one that
    /// holds as a window begins goes on holding through it (the gateway is still logged out).
    fn gateway_login(&mut self, o: &Observation, now: Timestamp) -> Option<Condition> {
        let refused = o
            .feed
            .refused
            .as_ref()
            .filter(|_| o.mode == ApiMode::Socket && !o.feed.connected);
        let in_window = o.reset.resume_at(now).is_some();
        self.gateway_reauth = refused.is_some() && (!in_window || self.gateway_reauth);
        let refused = refused.filter(|_| self.gateway_reauth)?;
        Some(Condition {
            kind: AlertKind::ReauthRequired,
            key: "ib_gateway".into(),
            severity: Severity::Critical,
            since: refused.since,
            title: format!(
                "Re-auth required: IB Gateway at {} refuses the API connection",
                o.gateway_addr
            ),
            text: format!(
                "{} reconnect round(s) of {} attempts failed since {}, the last with: {}. \
                 Outside IBKR's daily reset this is most often a gateway that is logged out \
                 (after its weekly restart, or when IBKR asked for a new login). No positions, \
                 prices or greeks arrive until it is back.",
                refused.rounds,
                crate::watchdog::ATTEMPTS,
                refused.since,
                refused.last_error
            ),
            action: format!(
                "Log in to IB Gateway (or TWS) on its machine with two-factor authentication \
                 and check that the API is enabled on {}; the bridge reconnects by itself.",
                o.gateway_addr
            ),
        })
    }

    /// `explained`: a login the human is already called for explains the outage; an alert
    /// that holds goes on holding (it has not cleared), none starts.
    fn feed(&mut self, o: &Observation, now: Timestamp, explained: bool) -> Option<Condition> {
        // Down since when: the socket, or IBKR's servers behind a gateway that is up.
        let since = match (o.feed.connected, o.feed.since, o.feed.upstream_lost_since) {
            (false, Some(since), _) => Some(since),
            (true, _, Some(lost)) => Some(lost),
            _ => None,
        };
        let Some(since) = since else {
            self.feed_down = false;
            return None;
        };
        // Downtime inside a reset window is expected: the clock starts at the window's end.
        let counted_from = o.reset.resume_at(since).unwrap_or(since);
        let in_window = o.reset.resume_at(now).is_some();
        let due =
            now.duration_since(counted_from).unsigned_abs() >= self.thresholds.feed_down_after;
        self.feed_down = match in_window || explained {
            true => self.feed_down,
            false => due,
        };
        if !self.feed_down {
            return None;
        }
        let what = match o.mode {
            ApiMode::Socket => "the bridge reconnects by itself",
            ApiMode::Portal => "the bridge asks the Client Portal again at every poll",
        };
        Some(Condition {
            kind: AlertKind::FeedDown,
            key: String::new(),
            severity: Severity::Critical,
            since,
            title: format!(
                "IBKR feed down for {}",
                human(now.duration_since(since).unsigned_abs())
            ),
            text: format!(
                "No IBKR data since {since} ({}); {what}, and greeks rows pause until data \
                 flows.",
                o.feed.message
            ),
            action: "Check the gateway and the network between it and IBKR (the gateway's \
                     window or log names the cause); nothing is needed if IBKR announced \
                     maintenance."
                .into(),
        })
    }

    fn database(&mut self, o: &Observation, now: Timestamp) -> Option<Condition> {
        let breaker = o.writer.breaker == Breaker::Open;
        let pending = matches!(o.schema, SchemaState::Pending(_));
        self.breaker_open_since = breaker.then(|| self.breaker_open_since.unwrap_or(now));
        self.schema_pending_since = pending.then(|| self.schema_pending_since.unwrap_or(now));
        let since = match (self.breaker_open_since, self.schema_pending_since) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        if now.duration_since(since).unsigned_abs() < self.thresholds.database_down_after {
            return None;
        }
        let why = match &o.schema {
            SchemaState::Pending(why) => why.clone(),
            _ => o
                .writer
                .last_error
                .clone()
                .unwrap_or_else(|| "writes fail".into()),
        };
        Some(Condition {
            kind: AlertKind::DatabaseUnreachable,
            key: String::new(),
            severity: Severity::Critical,
            since,
            title: format!(
                "PostgreSQL unreachable for {}",
                human(now.duration_since(since).unsigned_abs())
            ),
            text: format!(
                "{why}. Greeks rows and api_logs entries wait in the spool ({} so far) and are \
                 stored once PostgreSQL is back; the page shows nothing new meanwhile.",
                o.writer.spooled + o.writer.in_memory
            ),
            action: "Start PostgreSQL or restore the network to it, and check DATABASE_URL; \
                     the bridge drains the spool by itself."
                .into(),
        })
    }

    fn spool(&mut self, o: &Observation, now: Timestamp) -> Vec<Condition> {
        let mut out = Vec::new();
        let waiting = o.writer.spooled + o.writer.in_memory;
        if waiting > self.thresholds.spool_rows {
            out.push(Condition {
                kind: AlertKind::SpoolGrowing,
                key: String::new(),
                severity: Severity::Warning,
                since: self.breaker_open_since.unwrap_or(now),
                title: format!("{waiting} records wait in the spool"),
                text: format!(
                    "More than ALERT_SPOOL_ROWS={} greeks rows and api_logs entries wait to be \
                     stored ({} in the spool file, {} in memory). They are kept; the spool's \
                     disk fills meanwhile.",
                    self.thresholds.spool_rows, o.writer.spooled, o.writer.in_memory
                ),
                action: "Bring PostgreSQL back (see the database alert), and check the free \
                         space of BRIDGE_BUFFER_PATH's disk."
                    .into(),
            });
        }
        if o.writer.dropped > self.drops_seen {
            let (first, _, base) = self.drops.unwrap_or((now, now, self.drops_seen));
            self.drops = Some((first, now, base));
        }
        self.drops_seen = o.writer.dropped;
        if let Some((first, last, base)) = self.drops {
            if now.duration_since(last).unsigned_abs() >= DROPS_QUIET {
                self.drops = None;
            } else {
                out.push(Condition {
                    kind: AlertKind::RowsDropped,
                    key: String::new(),
                    severity: Severity::Critical,
                    since: first,
                    title: format!("{} records dropped", o.writer.dropped - base),
                    text: format!(
                        "Neither the spool nor memory could keep {} greeks rows or api_logs \
                         entries since {first}: they are lost. Last error: {}.",
                        o.writer.dropped - base,
                        o.writer.last_error.as_deref().unwrap_or("none given")
                    ),
                    action: "Free space on BRIDGE_BUFFER_PATH's disk (or point it at a disk \
                             with room) and bring PostgreSQL back; see the bridge's log."
                        .into(),
                });
            }
        }
        out
    }

    fn sync(&self, o: &Observation) -> Vec<Condition> {
        o.jobs
            .iter()
            .filter(|(_, s)| s.failures >= self.thresholds.sync_failures)
            .map(|(job_type, s)| Condition {
                kind: AlertKind::SyncFailing,
                key: job_type.clone(),
                severity: Severity::Warning,
                since: s.since,
                title: format!("{job_type} failed {} times in a row", s.failures),
                text: format!(
                    "The last error: {}. What the page shows from this job may be out of date.",
                    mask_accounts(&s.last_error, &o.accounts)
                ),
                action: format!(
                    "See `portfolio-bridge jobs list --type {job_type}` and the bridge's log; \
                     fix what the error names (most often the IBKR session)."
                ),
            })
            .collect()
    }

    fn greeks(&mut self, o: &Observation, now: Timestamp) -> Option<Condition> {
        // Left out while the feed is down is the feed's alert, not this one: every clock starts
        // again. Each position has its own clock, so options going stale in turn for a moment
        // each never add up to one long outage.
        let out_now: BTreeMap<(AccountCode, ConId), &LeftOut> = match o.feed.connected {
            true => o
                .left_out
                .iter()
                .map(|l| ((l.account.clone(), l.conid), l))
                .collect(),
            false => BTreeMap::new(),
        };
        self.left_out_since.retain(|k, _| out_now.contains_key(k));
        for k in out_now.keys() {
            self.left_out_since.entry(k.clone()).or_insert(now);
        }
        let long: Vec<(&LeftOut, Timestamp)> = out_now
            .iter()
            .map(|(k, l)| (*l, self.left_out_since[k]))
            .filter(|(_, since)| {
                now.duration_since(*since).unsigned_abs() >= self.thresholds.greeks_incomplete_after
            })
            .collect();
        let since = long.iter().map(|(_, s)| *s).min()?;
        const SHOWN: usize = 10;
        let mut which: Vec<String> = long
            .iter()
            .take(SHOWN)
            .map(|(l, _)| {
                format!(
                    "{} {} ({}): {}",
                    l.account.masked(),
                    l.symbol.as_deref().unwrap_or("?"),
                    l.conid.get(),
                    l.reason.describe()
                )
            })
            .collect();
        if long.len() > SHOWN {
            which.push(format!("and {} more", long.len() - SHOWN));
        }
        Some(Condition {
            kind: AlertKind::GreeksIncomplete,
            key: String::new(),
            severity: Severity::Warning,
            since,
            title: match long.len() {
                1 => "1 position left out of the greeks".to_owned(),
                n => format!("{n} positions left out of the greeks"),
            },
            text: format!(
                "The net greeks have left out, for more than {}: {}.",
                human(self.thresholds.greeks_incomplete_after),
                which.join("; ")
            ),
            action: "Check market data permissions for these contracts in IBKR's account \
                     management (greeks missing or stale) and the Status page's list; a \
                     position IBKR cannot price stays out of the sums."
                .into(),
        })
    }

    fn expiry(&self, o: &Observation, now: Timestamp) -> Vec<Condition> {
        o.expiring
            .iter()
            .map(|(account, e)| {
                let when = match e.business_days_left {
                    d if d < 0 => {
                        format!("stopped trading on {} and is still held", e.last_trade_date)
                    }
                    0 => format!("stops trading today ({})", e.last_trade_date),
                    1 => format!("stops trading tomorrow ({})", e.last_trade_date),
                    d => format!("stops trading in {d} business days ({})", e.last_trade_date),
                };
                Condition {
                    kind: AlertKind::FrontMonthExpiring,
                    key: format!("{} {account}", e.name),
                    severity: match e.business_days_left <= 1 {
                        true => Severity::Critical,
                        false => Severity::Warning,
                    },
                    // The policy keeps the first `since` of an episode: the day it came near.
                    since: now,
                    title: format!("{} {when}", e.name),
                    text: format!(
                        "{} {} ({} held in {account}). A future held past its last trade date \
                         goes to delivery; CL is physically settled.",
                        e.name, when, e.quantity
                    ),
                    action: format!("Roll or close {} before its last trade date.", e.name),
                }
            })
            .collect()
    }
}

/// `text` with every account code in `accounts` masked.
pub fn mask_accounts(text: &str, accounts: &[AccountCode]) -> String {
    accounts
        .iter()
        .fold(text.to_owned(), |t, a| t.replace(a.as_str(), &a.masked()))
}

/// A duration as people say it: `45 s`, `4 min`, `2 h 5 min`, `3 d 4 h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => match (s % 3600) / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match (s % 86_400) / 3600 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
