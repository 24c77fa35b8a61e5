//! `jobs` as a queue: enqueue with a dedup rule, claim with `FOR UPDATE SKIP LOCKED` under a
//! lease, renew, complete, fail (back to the queue after a delay, or for good), hand back,
//! and reap the leases of workers that died.
//!
//! Every state change of a claimed job checks `locked_by`, so a worker whose lease was reaped
//! can never complete or fail a job another worker now holds. Jobs the existing application
//! enqueued (no `locked_by`, types the bridge does not claim) are never touched. The policy —
//! which types, how long a lease, how long to wait before a retry — is the caller's.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::domain::ids::BridgeName;

/// Whether a new job may join others of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// At most one queued or running job of the type (the default).
    PerType,
    /// Always enqueue.
    Allow,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub job_type: String,
    pub payload: Value,
    pub dedup: Dedup,
    /// Who asked: `scheduler`, `cli`, `api`, `positions.sync`, …
    pub source: String,
    pub max_attempts: i32,
    /// The bridge whose gateway and accounts the job is about: only that bridge's workers
    /// claim it. `None`: any worker that can run the type (a job another program enqueued).
    pub bridge: Option<BridgeName>,
}

impl NewJob {
    /// A job of `job_type` with an empty payload, three attempts, the per-type dedup rule and
    /// no bridge of its own.
    pub fn new(job_type: &str, source: &str) -> NewJob {
        NewJob {
            job_type: job_type.to_owned(),
            payload: Value::Object(Default::default()),
            dedup: Dedup::PerType,
            source: source.to_owned(),
            max_attempts: 3,
            bridge: None,
        }
    }

    /// The same job, for `bridge`'s workers only.
    pub fn for_bridge(self, bridge: &BridgeName) -> NewJob {
        NewJob {
            bridge: Some(bridge.clone()),
            ..self
        }
    }
}

/// `jobs.request_text` of every job the bridge enqueues: on a database shared with the existing
/// application, its job list and its own worker's failures ("Unsupported job_type") say whose
/// job it is and what runs it.
pub const REQUEST_TEXT: &str =
    "portfolio-bridge job: run by `portfolio-bridge run` or `portfolio-bridge worker`";

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Created(i32),
    /// A job of the type was already queued or running; nothing was added.
    AlreadyActive(i32),
}

/// A job a worker holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: i32,
    pub job_type: String,
    pub payload: Value,
    /// Including this one.
    pub attempts: i32,
    pub max_attempts: i32,
}

/// A job as `jobs list` and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRow {
    pub id: i32,
    pub job_type: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub source: String,
    pub created_at: Timestamp,
    pub available_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    /// The worker holding it while it runs.
    pub locked_by: Option<String>,
    /// The bridge it is for; `None`: any that can run it.
    #[serde(default)]
    pub bridge: Option<String>,
}

/// A time read as Unix milliseconds.
fn instant(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Where a failed job went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Queued again, claimable after the delay.
    Retry,
    /// Failed for good (no attempts left, or not worth retrying).
    Failed,
    /// The lease was no longer this worker's: nothing was changed.
    LeaseLost,
}

/// Enqueues `job` unless its dedup rule finds one already queued or running.
pub async fn enqueue(pool: &PgPool, job: &NewJob) -> Result<Enqueued, sqlx::Error> {
    // One active job of a type per bridge: bridges sharing the database never stand in for
    // each other's syncs.
    let dedup_key = match (job.dedup, &job.bridge) {
        (Dedup::PerType, None) => Some(job.job_type.clone()),
        (Dedup::PerType, Some(bridge)) => Some(format!("{}@{bridge}", job.job_type)),
        (Dedup::Allow, _) => None,
    };
    let bridge = job.bridge.as_ref().map(BridgeName::as_str);
    // The active job may finish between the insert that conflicts and the look-up: then try
    // again.
    for _ in 0..3 {
        let created: Option<i32> = sqlx::query_scalar(
            "INSERT INTO jobs (job_type, status, payload, source, request_text, max_attempts,
                               available_at, dedup_key, bridge, created_at, updated_at)
             VALUES ($1, 'queued', $2::jsonb::json, $3, $6, $4, now(), $5, $7, now(), now())
             ON CONFLICT (job_type, dedup_key)
                WHERE dedup_key IS NOT NULL AND status IN ('queued', 'running')
                DO NOTHING
             RETURNING id",
        )
        .bind(&job.job_type)
        .bind(Json(&job.payload))
        .bind(&job.source)
        .bind(job.max_attempts)
        .bind(&dedup_key)
        .bind(REQUEST_TEXT)
        .bind(bridge)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = created {
            return Ok(Enqueued::Created(id));
        }
        let active: Option<i32> = sqlx::query_scalar(
            "SELECT id FROM jobs
              WHERE job_type = $1 AND dedup_key = $2 AND status IN ('queued', 'running')",
        )
        .bind(&job.job_type)
        .bind(&dedup_key)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = active {
            return Ok(Enqueued::AlreadyActive(id));
        }
    }
    Err(sqlx::Error::Protocol(format!(
        "could not enqueue {}: jobs of the type kept appearing and finishing",
        job.job_type
    )))
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Claims the oldest available job of `types` for `worker`, leased for `lease`.
/// Claims the next job of `types` that is for `bridge` or for no bridge in particular.
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    bridge: &BridgeName,
    types: &[&str],
    lease: Duration,
) -> Result<Option<Claimed>, sqlx::Error> {
    let row: Option<(i32, String, Json<Value>, i32, i32)> = sqlx::query_as(
        "UPDATE jobs
            SET status = 'running', attempts = attempts + 1, started_at = now(),
                updated_at = now(), locked_by = $1,
                locked_until = now() + make_interval(secs => $2)
          WHERE id = (SELECT id FROM jobs
                       WHERE status = 'queued' AND available_at <= now()
                         AND archived_at IS NULL AND job_type = ANY($3)
                         AND (bridge IS NULL OR bridge = $4)
                       ORDER BY available_at, id
                       FOR UPDATE SKIP LOCKED
                       LIMIT 1)
          RETURNING id, job_type, payload::jsonb, attempts, max_attempts",
    )
    .bind(worker)
    .bind(seconds(lease))
    .bind(types)
    .bind(bridge.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(id, job_type, Json(payload), attempts, max_attempts)| Claimed {
            id,
            job_type,
            payload,
            attempts,
            max_attempts,
        },
    ))
}

/// Extends the lease; `false` if the job is no longer this worker's.
pub async fn renew(
    pool: &PgPool,
    id: i32,
    worker: &str,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
          WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(seconds(lease))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the job completed with its result; `false` if the lease was lost first.
pub async fn complete(
    pool: &PgPool,
    id: i32,
    worker: &str,
    result: &Value,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs
            SET status = 'completed', result = $3::jsonb::json, last_error = NULL,
                completed_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
          WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(Json(result))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt: queued again after `retry_in` while `retry` holds and attempts
/// remain, else failed for good. The error and any partial result stay on the job.
pub async fn fail(
    pool: &PgPool,
    id: i32,
    worker: &str,
    error: &str,
    result: Option<&Value>,
    retry: bool,
    retry_in: Duration,
) -> Result<AfterFailure, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE jobs
            SET status = CASE WHEN $4 AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                available_at = CASE WHEN $4 AND attempts < max_attempts
                                    THEN now() + make_interval(secs => $5) ELSE available_at END,
                completed_at = CASE WHEN $4 AND attempts < max_attempts THEN NULL ELSE now() END,
                last_error = $3, result = $6::jsonb::json, updated_at = now(),
                locked_by = NULL, locked_until = NULL
          WHERE id = $1 AND locked_by = $2 AND status = 'running'
          RETURNING status",
    )
    .bind(id)
    .bind(worker)
    .bind(error)
    .bind(retry)
    .bind(seconds(retry_in))
    .bind(result.map(Json))
    .fetch_optional(pool)
    .await?;
    Ok(match status.as_deref() {
        Some("queued") => AfterFailure::Retry,
        Some(_) => AfterFailure::Failed,
        None => AfterFailure::LeaseLost,
    })
}

/// Hands a job back untouched (the worker is stopping): queued again at once, the attempt not
/// counted.
pub async fn release(pool: &PgPool, id: i32, worker: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs
            SET status = 'queued', attempts = GREATEST(attempts - 1, 0), available_at = now(),
                updated_at = now(), locked_by = NULL, locked_until = NULL
          WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A job whose lease ran out, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub id: i32,
    pub job_type: String,
    pub worker: String,
    /// `queued` again, or `failed` when no attempts are left.
    pub status: String,
}

/// Hands back every job whose worker stopped renewing its lease.
pub async fn reap(pool: &PgPool) -> Result<Vec<Reaped>, sqlx::Error> {
    let rows: Vec<(i32, String, String, String)> = sqlx::query_as(
        "WITH expired AS (
             SELECT id, locked_by FROM jobs
              WHERE status = 'running' AND locked_until < now()
              FOR UPDATE SKIP LOCKED)
         UPDATE jobs j
            SET status = CASE WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'failed' END,
                completed_at = CASE WHEN j.attempts < j.max_attempts THEN NULL ELSE now() END,
                available_at = now(), updated_at = now(),
                last_error = 'the lease of worker ' || e.locked_by
                             || ' ran out (the worker died, hung or lost the database)',
                locked_by = NULL, locked_until = NULL
           FROM expired e
          WHERE j.id = e.id
          RETURNING j.id, j.job_type, e.locked_by, j.status",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, job_type, worker, status)| Reaped {
            id,
            job_type,
            worker,
            status,
        })
        .collect())
}

type RawRow = (
    i32,
    String,
    String,
    i32,
    i32,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<Json<Value>>,
    Option<String>,
    Option<String>,
);

fn job_row(r: RawRow) -> JobRow {
    JobRow {
        id: r.0,
        job_type: r.1,
        status: r.2,
        attempts: r.3,
        max_attempts: r.4,
        source: r.5,
        created_at: instant(r.6),
        available_at: instant(r.7),
        started_at: r.8.map(instant),
        completed_at: r.9.map(instant),
        last_error: r.10,
        result: r.11.map(|Json(v)| v),
        locked_by: r.12,
        bridge: r.13,
    }
}

/// The newest jobs — or the one with `id` — optionally of one type and status.
async fn select(
    pool: &PgPool,
    id: Option<i32>,
    job_type: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    let rows: Vec<RawRow> = sqlx::query_as(
        "SELECT id, job_type, status, attempts, max_attempts, source,
                (extract(epoch FROM created_at) * 1000)::bigint,
                (extract(epoch FROM available_at) * 1000)::bigint,
                (extract(epoch FROM started_at) * 1000)::bigint,
                (extract(epoch FROM completed_at) * 1000)::bigint,
                last_error, result::jsonb, locked_by, bridge
           FROM jobs
          WHERE ($1::int IS NULL OR id = $1) AND ($2::text IS NULL OR job_type = $2)
            AND ($3::text IS NULL OR status = $3)
          ORDER BY id DESC LIMIT $4",
    )
    .bind(id)
    .bind(job_type)
    .bind(status)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(job_row).collect())
}

/// The newest jobs, optionally of one type and status.
pub async fn list(
    pool: &PgPool,
    job_type: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    select(pool, None, job_type, status, limit).await
}

/// One job.
pub async fn get(pool: &PgPool, id: i32) -> Result<Option<JobRow>, sqlx::Error> {
    Ok(select(pool, Some(id), None, None, 1).await?.pop())
}

/// The newest finished (completed or failed) job of each type.
pub async fn last_finished(pool: &PgPool) -> Result<Vec<JobRow>, sqlx::Error> {
    let ids: Vec<i32> = sqlx::query_scalar(
        "SELECT DISTINCT ON (job_type) id FROM jobs
          WHERE status IN ('completed', 'failed')
          ORDER BY job_type, id DESC",
    )
    .fetch_all(pool)
    .await?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        rows.extend(get(pool, id).await?);
    }
    Ok(rows)
}

/// When a job of `job_type` last completed.
pub async fn last_completed(
    pool: &PgPool,
    job_type: &str,
) -> Result<Option<Timestamp>, sqlx::Error> {
    let ms: Option<i64> = sqlx::query_scalar(
        "SELECT (extract(epoch FROM max(completed_at)) * 1000)::bigint FROM jobs
          WHERE job_type = $1 AND status = 'completed'",
    )
    .bind(job_type)
    .fetch_one(pool)
    .await?;
    Ok(ms.map(instant))
}

/// How many jobs there are of each type and status.
pub async fn counts(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT job_type, status, count(*) FROM jobs GROUP BY job_type, status ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}
