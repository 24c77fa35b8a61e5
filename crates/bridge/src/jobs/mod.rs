//! Jobs: the bridge's work that goes through the PostgreSQL queue (`jobs`), so that it runs
//! once however many workers share the database, is retried when it fails for a passing
//! reason, and leaves its result and last error on the job.
//!
//! - [`worker`]: claims, runs under a renewed lease, completes or fails; reaps dead leases.
//! - [`scheduler`]: enqueues `positions.sync` every `POSITIONS_SYNC_INTERVAL_SECONDS`.
//! - [`positions_sync`]: the active source's legs → `positions`.
//! - [`combo_sync`]: Client Portal native combos → `combo_positions`, `combo_position_legs`.
//! - [`greeks_history`]: partitions ahead, 1-minute rollups, retention of `portfolio_greeks`.
//!
//! The queue's SQL is in `store::jobs`. A handler never leaves a half-written account: it reads
//! everything first and writes each account in one transaction.

pub mod combo_sync;
pub mod greeks_history;
pub mod positions_sync;
pub mod scheduler;
pub mod worker;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::domain::ids::BridgeName;
use crate::ibkr::portal::PortalError;
use crate::store::jobs::{Claimed, NewJob};

/// `positions.sync`.
pub const POSITIONS_SYNC: &str = "positions.sync";
/// `combo_positions.sync`, the first spec's `sync_combo_positions_once`.
pub const COMBO_POSITIONS_SYNC: &str = "combo_positions.sync";
/// `greeks.history`: partitions, rollups and retention of the greeks history.
pub const GREEKS_HISTORY: &str = "greeks.history";
/// Every job type the bridge runs.
pub const JOB_TYPES: &[&str] = &[POSITIONS_SYNC, COMBO_POSITIONS_SYNC, GREEKS_HISTORY];

/// A job of `job_type` that `source` enqueues for `bridge`: for its workers only when the job
/// uses its gateway or accounts, for any worker when it is about the database alone.
pub fn job_for(job_type: &str, source: &str, bridge: &BridgeName) -> NewJob {
    let job = NewJob::new(job_type, source);
    match job_type {
        GREEKS_HISTORY => job,
        _ => job.for_bridge(bridge),
    }
}

/// Why a job failed, and whether another attempt could do better.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt: the gateway or the database may be back by then.
    #[error("{message}")]
    Transient {
        message: String,
        result: Option<Value>,
    },
    /// Another attempt would fail the same way until a human acts (log in, fix the payload).
    #[error("{message}")]
    Permanent {
        message: String,
        result: Option<Value>,
    },
}

impl JobError {
    pub fn transient(message: impl Into<String>) -> JobError {
        JobError::Transient {
            message: message.into(),
            result: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> JobError {
        JobError::Permanent {
            message: message.into(),
            result: None,
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, JobError::Transient { .. })
    }

    /// What the job keeps besides the message (a raw payload, partial metrics).
    pub fn result(&self) -> Option<&Value> {
        match self {
            JobError::Transient { result, .. } | JobError::Permanent { result, .. } => {
                result.as_ref()
            }
        }
    }

    /// A Client Portal failure: a missing login or an unreadable answer will not fix
    /// itself; anything else (unreachable, timed out, paced, refused) may.
    pub fn from_portal(e: &PortalError, message: String) -> JobError {
        match e {
            PortalError::NotAuthenticated { .. }
            | PortalError::UnexpectedPayload { .. }
            | PortalError::Setup(_) => JobError::permanent(message),
            _ => JobError::transient(message),
        }
    }
}

impl From<crate::store::partitions::PartitionError> for JobError {
    fn from(e: crate::store::partitions::PartitionError) -> JobError {
        JobError::transient(format!("database: {e}"))
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> JobError {
        JobError::transient(format!("database: {e}"))
    }
}

/// A handler's future.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, JobError>> + Send + 'a>>;

/// Runs the jobs of one type: returns the metrics to store as the job's result.
pub trait Handler: Send + Sync {
    fn job_type(&self) -> &'static str;
    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a>;
}
