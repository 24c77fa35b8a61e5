//! Entries of `api_logs`: what the bridge tells the operator happened at the IBKR boundary —
//! connects, reconnect attempts, session changes, circuit-breaker events.

use jiff::Timestamp;
use serde::Serialize;

/// Which side of the bridge an entry is about; the `api_mode` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ApiMode {
    /// The TWS / IB Gateway socket.
    Socket,
    /// The Client Portal Gateway.
    Portal,
    /// The bridge itself (the greeks writer, its spool).
    Bridge,
}

impl ApiMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiMode::Socket => "SOCKET",
            ApiMode::Portal => "PORTAL",
            ApiMode::Bridge => "BRIDGE",
        }
    }
}

/// How an entry reads: `ok`, `warning` or `error`; the `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LogStatus {
    Ok,
    Warning,
    Error,
}

impl LogStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Ok => "ok",
            LogStatus::Warning => "warning",
            LogStatus::Error => "error",
        }
    }
}

/// One row of `api_logs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiLogEntry {
    pub at: Timestamp,
    pub api_mode: ApiMode,
    pub status: LogStatus,
    pub message: String,
}

impl ApiLogEntry {
    pub fn new(
        at: Timestamp,
        api_mode: ApiMode,
        status: LogStatus,
        message: impl Into<String>,
    ) -> ApiLogEntry {
        ApiLogEntry {
            at,
            api_mode,
            status,
            message: message.into(),
        }
    }
}
