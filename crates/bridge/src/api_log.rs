//! The `api_logs` channel: every part of the bridge that talks to IBKR reports what happened
//! (connects, reconnect attempts, session changes, circuit-breaker events) through an
//! [`ApiLog`] handle, and one writer task stores the entries.
//!
//! Reporting never waits: the channel is bounded and a full channel drops the entry with a
//! warning in the process log, so a slow database never slows a source down. The writer keeps
//! entries it could not store and tries again; they are lost only if the process stops first.

use std::collections::VecDeque;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::domain::api_log::{ApiLogEntry, LogStatus};
use crate::store;

/// Entries the channel holds before reporting drops them.
const CHANNEL: usize = 1024;
/// Entries the writer keeps while the database is away.
const BACKLOG: usize = 10_000;
/// How often the writer retries a backlog.
const RETRY: Duration = Duration::from_secs(5);

/// Where sources report `api_logs` entries. Every entry is also logged to the process log.
#[derive(Debug, Clone)]
pub struct ApiLog {
    tx: mpsc::Sender<ApiLogEntry>,
}

impl ApiLog {
    pub fn channel() -> (ApiLog, mpsc::Receiver<ApiLogEntry>) {
        let (tx, rx) = mpsc::channel(CHANNEL);
        (ApiLog { tx }, rx)
    }

    pub fn record(&self, entry: ApiLogEntry) {
        let mode = entry.api_mode.as_str();
        match entry.status {
            LogStatus::Ok => info!(api_mode = mode, "{}", entry.message),
            LogStatus::Warning => warn!(api_mode = mode, "{}", entry.message),
            LogStatus::Error => error!(api_mode = mode, "{}", entry.message),
        }
        if self.tx.try_send(entry).is_err() {
            warn!("api_logs channel full or closed: this entry is only in the process log");
        }
    }
}

/// Stores entries from `rx`, keeping what the database refused, until every [`ApiLog`]
/// handle is gone — so the last words of stopping tasks are stored too.
pub async fn run_writer(mut rx: mpsc::Receiver<ApiLogEntry>, pool: PgPool) {
    let mut backlog: VecDeque<ApiLogEntry> = VecDeque::new();
    let mut retry = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            entry = rx.recv() => match entry {
                Some(entry) => {
                    if backlog.len() == BACKLOG {
                        backlog.pop_front();
                        warn!("api_logs backlog full: dropping its oldest entry");
                    }
                    backlog.push_back(entry);
                }
                None => break,
            },
            _ = retry.tick() => {}
        }
        flush(&pool, &mut backlog).await;
    }
    flush(&pool, &mut backlog).await;
    if !backlog.is_empty() {
        warn!(
            "{} api_logs entries could not be stored before stopping",
            backlog.len()
        );
    }
}

async fn flush(pool: &PgPool, backlog: &mut VecDeque<ApiLogEntry>) {
    while let Some(entry) = backlog.front() {
        match store::api_logs::insert(pool, entry).await {
            Ok(()) => {
                backlog.pop_front();
            }
            Err(e) => {
                warn!(
                    "api_logs: {} entries wait for the database: {e}",
                    backlog.len()
                );
                return;
            }
        }
    }
}
