//! Records: what the writer stores — a greeks row or an `api_logs` entry — each with the key
//! that makes storing it twice store it once, and the name of the bridge that made it, which
//! is part of that key: bridges sharing a database never take each other's rows for copies.
//! Records are what the spool holds, one JSON object per line; a line an older bridge wrote,
//! without the fields added since, still reads (they are then unknown) and keeps its key.

use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::api_log::ApiLogEntry;
use crate::domain::ids::{AccountCode, BridgeName};
use crate::domain::net_greeks::GreeksRow;

/// A greeks row as the spool and the writer hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreeksRecord {
    pub key: String,
    pub at_ms: i64,
    pub contract: String,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub underlying_price: Option<f64>,
    /// `None`: every account together.
    #[serde(default)]
    pub account: Option<AccountCode>,
    #[serde(default)]
    pub delta_dollars: Option<f64>,
    #[serde(default)]
    pub gamma_dollars: Option<f64>,
    #[serde(default)]
    pub vega_lt30: Option<f64>,
    #[serde(default)]
    pub vega_30_90: Option<f64>,
    #[serde(default)]
    pub vega_gt90: Option<f64>,
    #[serde(default)]
    pub theta_lt30: Option<f64>,
    #[serde(default)]
    pub theta_30_90: Option<f64>,
    #[serde(default)]
    pub theta_gt90: Option<f64>,
    /// `None` in lines spooled before bridges had names.
    #[serde(default)]
    pub bridge: Option<BridgeName>,
}

/// The risk-view columns of `portfolio_greeks`, in the order [`GreeksRecord::risk_figures`]
/// gives their values.
pub const RISK_COLUMNS: [&str; 8] = [
    "delta_dollars",
    "gamma_dollars",
    "vega_lt30",
    "vega_30_90",
    "vega_gt90",
    "theta_lt30",
    "theta_30_90",
    "theta_gt90",
];

impl GreeksRecord {
    /// The dollar and by-expiry figures, in [`RISK_COLUMNS`]' order; unknown ones `None`.
    pub fn risk_figures(&self) -> [Option<f64>; 8] {
        [
            self.delta_dollars,
            self.gamma_dollars,
            self.vega_lt30,
            self.vega_30_90,
            self.vega_gt90,
            self.theta_lt30,
            self.theta_30_90,
            self.theta_gt90,
        ]
    }
}

/// One row for the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "Line")]
pub enum Record {
    Greeks(GreeksRecord),
    ApiLog {
        key: String,
        at_ms: i64,
        api_mode: String,
        status: String,
        message: String,
        #[serde(default)]
        bridge: Option<BridgeName>,
    },
}

/// A spool line as it is read: the fields of either kind side by side. A record is read
/// through it rather than as serde's tagged enum, which first copies each line into a tree of
/// its own to find the tag: the drain reads (and the writer counts) every line of a long
/// outage's spool, and this way takes about half the time.
#[derive(Deserialize)]
struct Line {
    kind: Kind,
    key: String,
    at_ms: i64,
    contract: Option<String>,
    delta: Option<f64>,
    gamma: Option<f64>,
    vega: Option<f64>,
    theta: Option<f64>,
    underlying_price: Option<f64>,
    account: Option<AccountCode>,
    delta_dollars: Option<f64>,
    gamma_dollars: Option<f64>,
    vega_lt30: Option<f64>,
    vega_30_90: Option<f64>,
    vega_gt90: Option<f64>,
    theta_lt30: Option<f64>,
    theta_30_90: Option<f64>,
    theta_gt90: Option<f64>,
    bridge: Option<BridgeName>,
    api_mode: Option<String>,
    status: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Greeks,
    ApiLog,
}

/// The field `name` of a line of the kind that must have it.
fn required<T>(value: Option<T>, name: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{name}`"))
}

impl TryFrom<Line> for Record {
    type Error = String;

    fn try_from(l: Line) -> Result<Record, String> {
        Ok(match l.kind {
            Kind::Greeks => Record::Greeks(GreeksRecord {
                key: l.key,
                at_ms: l.at_ms,
                contract: required(l.contract, "contract")?,
                delta: required(l.delta, "delta")?,
                gamma: required(l.gamma, "gamma")?,
                vega: required(l.vega, "vega")?,
                theta: required(l.theta, "theta")?,
                underlying_price: l.underlying_price,
                account: l.account,
                delta_dollars: l.delta_dollars,
                gamma_dollars: l.gamma_dollars,
                vega_lt30: l.vega_lt30,
                vega_30_90: l.vega_30_90,
                vega_gt90: l.vega_gt90,
                theta_lt30: l.theta_lt30,
                theta_30_90: l.theta_30_90,
                theta_gt90: l.theta_gt90,
                bridge: l.bridge,
            }),
            Kind::ApiLog => Record::ApiLog {
                key: l.key,
                at_ms: l.at_ms,
                api_mode: required(l.api_mode, "api_mode")?,
                status: required(l.status, "status")?,
                message: required(l.message, "message")?,
                bridge: l.bridge,
            },
        })
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Record {
    /// A greeks row `bridge` made at the tick `at`; its key is the tick, the bridge, the
    /// account if it is one account's, and the contract, so one tick's row exists once however
    /// often it is written, and once per bridge. `@` sets the bridge apart from the keys of
    /// rows spooled before bridges had names (`{ms}:{contract}`, `{ms}:{account}:{contract}`),
    /// which a name cannot hold.
    pub fn greeks(at: Timestamp, bridge: &BridgeName, row: &GreeksRow) -> Record {
        let at_ms = at.as_millisecond();
        let key = match &row.account {
            None => format!("{at_ms}@{bridge}:{}", row.contract),
            Some(account) => format!("{at_ms}@{bridge}:{}:{}", account.as_str(), row.contract),
        };
        Record::Greeks(GreeksRecord {
            key,
            at_ms,
            contract: row.contract.clone(),
            delta: row.delta,
            gamma: row.gamma,
            vega: row.vega,
            theta: row.theta,
            underlying_price: row.underlying_price,
            account: row.account.clone(),
            delta_dollars: row.delta_dollars,
            gamma_dollars: row.gamma_dollars,
            vega_lt30: Some(row.vega_by_expiry.under_30),
            vega_30_90: Some(row.vega_by_expiry.from_30_to_90),
            vega_gt90: Some(row.vega_by_expiry.over_90),
            theta_lt30: Some(row.theta_by_expiry.under_30),
            theta_30_90: Some(row.theta_by_expiry.from_30_to_90),
            theta_gt90: Some(row.theta_by_expiry.over_90),
            bridge: Some(bridge.clone()),
        })
    }

    /// An `api_logs` entry of `bridge`, keyed by its time, the bridge (unique among those
    /// sharing the database), this process and a counter.
    pub fn api_log(bridge: &BridgeName, entry: &ApiLogEntry) -> Record {
        let at_ms = entry.at.as_millisecond();
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        Record::ApiLog {
            key: format!("{at_ms}@{bridge}:{}:{n}", std::process::id()),
            at_ms,
            api_mode: entry.api_mode.as_str().to_owned(),
            status: entry.status.as_str().to_owned(),
            message: entry.message.clone(),
            bridge: Some(bridge.clone()),
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Record::Greeks(GreeksRecord { key, .. }) | Record::ApiLog { key, .. } => key,
        }
    }

    pub fn at_ms(&self) -> i64 {
        match self {
            Record::Greeks(GreeksRecord { at_ms, .. }) | Record::ApiLog { at_ms, .. } => *at_ms,
        }
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;

/// A `PORTFOLIO` row `seconds` after a fixed instant whose delta tells it apart, for tests.
#[cfg(test)]
pub(crate) fn test_record(seconds: i64, delta: f64) -> Record {
    let row = GreeksRow {
        account: None,
        contract: crate::domain::net_greeks::PORTFOLIO.into(),
        delta,
        gamma: 0.0,
        vega: 0.0,
        theta: 0.0,
        underlying_price: None,
        delta_dollars: None,
        gamma_dollars: None,
        vega_by_expiry: Default::default(),
        theta_by_expiry: Default::default(),
    };
    Record::greeks(
        Timestamp::from_second(1_790_000_000 + seconds).expect("a valid instant"),
        &test_bridge(),
        &row,
    )
}

/// The bridge name tests' records carry.
#[cfg(test)]
pub(crate) fn test_bridge() -> BridgeName {
    BridgeName::parse("test-bridge").expect("a valid name")
}
