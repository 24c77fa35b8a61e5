//! Records: what the writer stores — a greeks row or an `api_logs` entry — each with the key
//! that makes storing it twice store it once. Records are what the spool holds, one JSON object
//! per line.

use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::api_log::ApiLogEntry;
use crate::domain::net_greeks::GreeksRow;

/// One row for the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Greeks {
        key: String,
        at_ms: i64,
        contract: String,
        delta: f64,
        gamma: f64,
        vega: f64,
        theta: f64,
        underlying_price: Option<f64>,
    },
    ApiLog {
        key: String,
        at_ms: i64,
        api_mode: String,
        status: String,
        message: String,
    },
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Record {
    /// A greeks row of the tick at `at`; its key is the tick and the contract, so one tick's
    /// row for a contract exists once however often it is written.
    pub fn greeks(at: Timestamp, row: &GreeksRow) -> Record {
        let at_ms = at.as_millisecond();
        Record::Greeks {
            key: format!("{at_ms}:{}", row.contract),
            at_ms,
            contract: row.contract.clone(),
            delta: row.delta,
            gamma: row.gamma,
            vega: row.vega,
            theta: row.theta,
            underlying_price: row.underlying_price,
        }
    }

    /// An `api_logs` entry, keyed by its time, this process and a counter.
    pub fn api_log(entry: &ApiLogEntry) -> Record {
        let at_ms = entry.at.as_millisecond();
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        Record::ApiLog {
            key: format!("{at_ms}:{}:{n}", std::process::id()),
            at_ms,
            api_mode: entry.api_mode.as_str().to_owned(),
            status: entry.status.as_str().to_owned(),
            message: entry.message.clone(),
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Record::Greeks { key, .. } | Record::ApiLog { key, .. } => key,
        }
    }

    pub fn at_ms(&self) -> i64 {
        match self {
            Record::Greeks { at_ms, .. } | Record::ApiLog { at_ms, .. } => *at_ms,
        }
    }
}

/// A `PORTFOLIO` row `seconds` after a fixed instant whose delta tells it apart, for tests.
#[cfg(test)]
pub(crate) fn test_record(seconds: i64, delta: f64) -> Record {
    let row = GreeksRow {
        contract: crate::domain::net_greeks::PORTFOLIO.into(),
        delta,
        gamma: 0.0,
        vega: 0.0,
        theta: 0.0,
        underlying_price: None,
    };
    Record::greeks(
        Timestamp::from_second(1_790_000_000 + seconds).expect("a valid instant"),
        &row,
    )
}
