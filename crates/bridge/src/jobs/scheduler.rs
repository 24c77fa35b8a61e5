//! Scheduler: enqueues `positions.sync` every `POSITIONS_SYNC_INTERVAL_SECONDS` while the IBKR
//! feed has a complete set of legs. While it has not (starting up, down, reconnecting) nothing
//! is enqueued, so the stored positions stay as last synced instead of piling up failed jobs.
//! Each job is for this bridge (`BRIDGE_NAME`): several bridges on one database each keep at
//! most one of their own queued or running (the queue's per-type dedup is per bridge), and
//! only their own workers run it, against their own gateway and accounts.

use std::time::Duration;

use sqlx::PgPool;
use tracing::{debug, warn};

use super::POSITIONS_SYNC;
use crate::Shutdown;
use crate::domain::ids::BridgeName;
use crate::domain::portfolio::SharedPortfolio;
use crate::store::jobs::{self, Enqueued, NewJob};

/// How often a scheduler waiting for the feed looks again (an in-memory read).
const READY_CHECK: Duration = Duration::from_secs(1);

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
        let job = NewJob::new(POSITIONS_SYNC, "scheduler").for_bridge(&bridge);
        match jobs::enqueue(&pool, &job).await {
            Ok(Enqueued::Created(id)) => {
                failing = None;
                debug!(job = id, "positions.sync enqueued");
            }
            Ok(Enqueued::AlreadyActive(id)) => {
                failing = None;
                debug!(job = id, "positions.sync already queued or running");
            }
            Err(e) => {
                let message = e.to_string();
                if failing.as_deref() != Some(message.as_str()) {
                    warn!("cannot enqueue positions.sync: {message}");
                    failing = Some(message);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
    }
}
