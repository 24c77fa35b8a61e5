//! The worker: claims the oldest available job of the types it has handlers for, runs it
//! under a lease it keeps renewing, and records the outcome — completed with its result, or
//! failed with its error and queued again after a growing delay while attempts remain and the
//! error is worth retrying.
//!
//! Any worker also reaps: a job whose lease ran out (its worker died, hung or lost the
//! database) goes back to the queue. A worker that loses its lease abandons the job rather
//! than finish it alongside the next holder; one that is told to stop hands its job back.
//! It never decides what a job does; the handlers do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::watch;

use serde_json::Value;
use sqlx::PgPool;
use tracing::{error, info, warn};

use super::{Handler, JobError};
use crate::Shutdown;
use crate::domain::ids::BridgeName;
use crate::store::jobs::{self, AfterFailure, Claimed};

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long a claimed job stays this worker's without a renewal.
    pub lease: Duration,
    /// How long to wait for work when the queue is empty.
    pub idle_poll: Duration,
    /// The delay before the second attempt; it doubles with each attempt after that.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// The bridge it works for: it claims that bridge's jobs and those for no bridge in
    /// particular, never another bridge's (whose gateway and accounts it cannot reach).
    pub bridge: BridgeName,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            bridge: BridgeName::from_host(""),
        }
    }
}

/// The wait before the next attempt after `attempts` failed ones: `base`, `2 × base`,
/// `4 × base`, … at most `max`.
pub fn retry_delay(attempts: i32, base: Duration, max: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    base.saturating_mul(1 << doublings).min(max)
}

/// This process's worker name: host, process id and a number, e.g. `trader-box:4242:1`.
pub fn worker_name(n: usize) -> String {
    format!("{}:{}:{n}", crate::host_name(), std::process::id())
}

/// How one job ended for this worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Ran {
    Completed(Value),
    Retry(String),
    Failed(String),
    /// The lease was lost (reaped) before the outcome could be recorded.
    Abandoned,
    /// Handed back because the worker is stopping.
    Released,
}

/// Attempts of one job type that failed in a row, as this worker ran them.
#[derive(Debug, Clone, PartialEq)]
pub struct Streak {
    pub failures: u32,
    /// When the first of them failed.
    pub since: Timestamp,
    pub last_error: String,
}

/// The failing job types, by type; a type leaves once one of its jobs completes.
pub type Streaks = BTreeMap<String, Streak>;

pub struct Worker {
    pool: PgPool,
    name: String,
    handlers: Vec<Arc<dyn Handler>>,
    settings: WorkerSettings,
    streaks: Option<watch::Sender<Streaks>>,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        name: String,
        handlers: Vec<Arc<dyn Handler>>,
        settings: WorkerSettings,
    ) -> Worker {
        Worker {
            pool,
            name,
            handlers,
            settings,
            streaks: None,
        }
    }

    /// Publishes the failing job types to `streaks` as outcomes are recorded (for alerts).
    pub fn with_streaks(mut self, streaks: watch::Sender<Streaks>) -> Worker {
        self.streaks = Some(streaks);
        self
    }

    fn count(&self, job_type: &str, ran: &Ran) {
        let Some(streaks) = &self.streaks else { return };
        streaks.send_modify(|s| match ran {
            Ran::Completed(_) => {
                s.remove(job_type);
            }
            Ran::Retry(e) | Ran::Failed(e) => {
                let streak = s.entry(job_type.to_owned()).or_insert_with(|| Streak {
                    failures: 0,
                    since: Timestamp::now(),
                    last_error: String::new(),
                });
                streak.failures += 1;
                streak.last_error.clone_from(e);
            }
            Ran::Abandoned | Ran::Released => {}
        });
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The job types this worker claims.
    pub fn types(&self) -> Vec<&'static str> {
        self.handlers.iter().map(|h| h.job_type()).collect()
    }

    /// Claims and runs jobs until `shutdown`.
    pub async fn run(self, mut shutdown: Shutdown) {
        info!(
            worker = %self.name,
            bridge = %self.settings.bridge,
            types = ?self.types(),
            "worker started"
        );
        let mut db_down: Option<String> = None;
        while !shutdown.requested() {
            // Claiming is quick; a job claimed as the signal comes is handed straight back.
            match self.step(&mut shutdown).await {
                Ok(Some(_)) => {
                    db_down = None;
                    continue;
                }
                Ok(None) => db_down = None,
                Err(e) => {
                    let message = e.to_string();
                    if db_down.as_deref() != Some(message.as_str()) {
                        warn!(worker = %self.name, "the job queue is unreachable: {message}; trying again");
                        db_down = Some(message);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.idle_poll) => {}
                _ = shutdown.wait() => break,
            }
        }
        info!(worker = %self.name, "worker stopped");
    }

    /// Reaps dead leases, then claims and runs one job: `None` if none was available.
    pub async fn step(&self, shutdown: &mut Shutdown) -> Result<Option<Ran>, sqlx::Error> {
        for r in jobs::reap(&self.pool).await? {
            warn!(
                job = r.id,
                job_type = %r.job_type,
                "the lease of worker {} ran out: job {} is {} again",
                r.worker,
                r.id,
                r.status
            );
        }
        let types = self.types();
        let Some(job) = jobs::claim(
            &self.pool,
            &self.name,
            &self.settings.bridge,
            &types,
            self.settings.lease,
        )
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(self.execute(job, shutdown).await))
    }

    async fn execute(&self, job: Claimed, shutdown: &mut Shutdown) -> Ran {
        let Some(handler) = self.handlers.iter().find(|h| h.job_type() == job.job_type) else {
            // Claimed only by type, so this cannot happen; hand it back rather than lose it.
            let _ = jobs::release(&self.pool, job.id, &self.name).await;
            return Ran::Released;
        };
        info!(job = job.id, job_type = %job.job_type, attempt = job.attempts, "job started");
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = handler.run(&job) => outcome,
            why = self.keep_lease(job.id) => {
                warn!(job = job.id, "job abandoned: {why}");
                return Ran::Abandoned;
            }
            _ = shutdown.wait() => {
                return match jobs::release(&self.pool, job.id, &self.name).await {
                    Ok(true) => {
                        info!(job = job.id, "stopping: job handed back to the queue");
                        Ran::Released
                    }
                    _ => Ran::Abandoned,
                };
            }
        };
        let took = started.elapsed();
        self.record(&job, outcome, took).await
    }

    /// Renews the lease every third of it; returns why it stopped being this worker's.
    async fn keep_lease(&self, id: i32) -> String {
        let every = self.settings.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match jobs::renew(&self.pool, id, &self.name, self.settings.lease).await {
                Ok(true) => {}
                Ok(false) => return "its lease ran out and was reaped".into(),
                // The database may be back before the lease runs out; keep trying.
                Err(e) => warn!(job = id, "cannot renew the lease: {e}"),
            }
        }
    }

    async fn record(&self, job: &Claimed, outcome: Result<Value, JobError>, took: Duration) -> Ran {
        let ms = took.as_millis();
        // The outcome is worth a few tries: without it the job would run again once the
        // lease runs out.
        for attempt in 1..=3 {
            let recorded = match &outcome {
                Ok(result) => jobs::complete(&self.pool, job.id, &self.name, result)
                    .await
                    .map(|ours| match ours {
                        true => Ran::Completed(result.clone()),
                        false => Ran::Abandoned,
                    }),
                Err(e) => {
                    let delay = retry_delay(
                        job.attempts,
                        self.settings.retry_base,
                        self.settings.retry_max,
                    );
                    jobs::fail(
                        &self.pool,
                        job.id,
                        &self.name,
                        &e.to_string(),
                        e.result(),
                        e.is_transient(),
                        delay,
                    )
                    .await
                    .map(|after| match after {
                        AfterFailure::Retry => Ran::Retry(e.to_string()),
                        AfterFailure::Failed => Ran::Failed(e.to_string()),
                        AfterFailure::LeaseLost => Ran::Abandoned,
                    })
                }
            };
            match recorded {
                Ok(ran) => {
                    self.count(&job.job_type, &ran);
                    match &ran {
                        Ran::Completed(result) => {
                            info!(job = job.id, job_type = %job.job_type, "job completed in {ms} ms: {result}")
                        }
                        Ran::Retry(e) => warn!(
                            job = job.id, job_type = %job.job_type,
                            "attempt {} of {} failed in {ms} ms, will retry: {e}",
                            job.attempts, job.max_attempts
                        ),
                        Ran::Failed(e) => error!(
                            job = job.id, job_type = %job.job_type,
                            "job failed after attempt {} of {}: {e}",
                            job.attempts, job.max_attempts
                        ),
                        Ran::Abandoned | Ran::Released => warn!(
                            job = job.id,
                            "the job's lease was lost before its outcome was recorded"
                        ),
                    }
                    return ran;
                }
                Err(e) if attempt < 3 => {
                    warn!(
                        job = job.id,
                        "cannot record the job's outcome ({e}); trying again"
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    error!(
                        job = job.id,
                        "cannot record the job's outcome: {e}; it will run again when its lease runs out"
                    );
                }
            }
        }
        Ran::Abandoned
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
