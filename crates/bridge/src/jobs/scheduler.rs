//! Scheduler: enqueues the bridge's periodic jobs.
//!
//! - `positions.sync` every `POSITIONS_SYNC_INTERVAL_SECONDS` while the IBKR feed has a
//!   complete set of legs. While it has not (starting up, down, reconnecting) nothing is
//!   enqueued, so the stored positions stay as last synced instead of piling up failed jobs.
//!   Each is for this bridge (`BRIDGE_NAME`): several bridges on one database each keep at
//!   most one of their own queued or running (the queue's per-type dedup is per bridge), and
//!   only their own workers run it, against their own gateway and accounts.
//! - `greeks.history` every [`HISTORY_INTERVAL`], from the start: for any worker, at most one
//!   queued or running for the whole database however many bridges enqueue it.

use std::time::Duration;

use sqlx::PgPool;
use tracing::{debug, warn};

use super::{GREEKS_HISTORY, POSITIONS_SYNC, job_for};
use crate::Shutdown;
use crate::domain::ids::BridgeName;
use crate::domain::portfolio::SharedPortfolio;
use crate::store::jobs::{self, Enqueued, NewJob};

/// How often a scheduler waiting for the feed looks again (an in-memory read).
const READY_CHECK: Duration = Duration::from_secs(1);

/// How often `greeks.history` runs: the 1-minute rollups are at most about this late.
pub const HISTORY_INTERVAL: Duration = Duration::from_secs(60);

pub async fn run(
    pool: PgPool,
    portfolio: SharedPortfolio,
    bridge: BridgeName,
    interval: Duration,
    mut shutdown: Shutdown,
) {
    let mut failing: Option<String> = None;
    loop {
        while portfolio.read(|p| p.positions_complete().is_none()) {
            tokio::select! {
                _ = tokio::time::sleep(READY_CHECK) => {}
                _ = shutdown.wait() => return,
            }
        }
        let job = job_for(POSITIONS_SYNC, "scheduler", &bridge);
        enqueue_logged(&pool, &job, &mut failing).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Enqueues `greeks.history` now and every [`HISTORY_INTERVAL`].
pub async fn history(pool: PgPool, bridge: BridgeName, mut shutdown: Shutdown) {
    let mut failing: Option<String> = None;
    let mut every = tokio::time::interval(HISTORY_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait() => return,
        }
        let job = job_for(GREEKS_HISTORY, "scheduler", &bridge);
        enqueue_logged(&pool, &job, &mut failing).await;
    }
}

/// Enqueues `job`; a failure is logged once until it changes or enqueueing works again.
async fn enqueue_logged(pool: &PgPool, job: &NewJob, failing: &mut Option<String>) {
    let job_type = &job.job_type;
    match jobs::enqueue(pool, job).await {
        Ok(Enqueued::Created(id)) => {
            *failing = None;
            debug!(job = id, "{job_type} enqueued");
        }
        Ok(Enqueued::AlreadyActive(id)) => {
            *failing = None;
            debug!(job = id, "{job_type} already queued or running");
        }
        Err(e) => {
            let message = e.to_string();
            if failing.as_deref() != Some(message.as_str()) {
                warn!("cannot enqueue {job_type}: {message}");
                *failing = Some(message);
            }
        }
    }
}
