//! The `api_logs` handle: every part of the bridge that talks to IBKR reports what happened
//! (connects, reconnect attempts, session changes) through an [`ApiLog`], and the greeks writer
//! stores the entries — straight away, or through the spool while PostgreSQL is away.
//!
//! Reporting never waits, and every entry is also written to the process log.

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::domain::api_log::{ApiLogEntry, LogStatus};
use crate::domain::ids::BridgeName;
use crate::greeks::record::Record;
use crate::greeks::writer::RecordSender;

/// Where sources report `api_logs` entries, as one bridge's.
#[derive(Debug, Clone)]
pub struct ApiLog {
    tx: RecordSender,
    bridge: BridgeName,
}

impl ApiLog {
    /// A handle that hands `bridge`'s entries to the writer behind `tx`.
    pub fn new(tx: RecordSender, bridge: BridgeName) -> ApiLog {
        ApiLog { tx, bridge }
    }

    /// A handle and the receiving end, for a writer (or a test) to consume; the entries are
    /// a bridge named `bridge`'s.
    pub fn channel() -> (ApiLog, mpsc::UnboundedReceiver<Vec<Record>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ApiLog::new(tx, BridgeName::from_host("")), rx)
    }

    pub fn record(&self, entry: ApiLogEntry) {
        let mode = entry.api_mode.as_str();
        match entry.status {
            LogStatus::Ok => info!(api_mode = mode, "{}", entry.message),
            LogStatus::Warning => warn!(api_mode = mode, "{}", entry.message),
            LogStatus::Error => error!(api_mode = mode, "{}", entry.message),
        }
        if self
            .tx
            .send(vec![Record::api_log(&self.bridge, &entry)])
            .is_err()
        {
            warn!("the writer has stopped: this api_logs entry is only in the process log");
        }
    }
}
