//! A running bridge's claim on its name (`BRIDGE_NAME`) in a shared database: the row
//! `portfolio-bridge:<name>` of `worker_heartbeats`, kept fresh every [`EVERY`], so that a
//! second bridge started with the same name — whose rows would carry the same keys and be
//! dropped as copies of the first's — refuses to run instead.
//!
//! The policy ([`verdict`]) is pure and takes the row's age as the database measures it, so
//! clocks of different machines never compare. A name is free when nobody holds it, when its
//! holder stopped cleanly or went silent for [`STALE_AFTER`], or when the holder was this
//! machine's process that no longer runs (a bridge killed and restarted at once). It never
//! takes a name from a live holder.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::domain::ids::BridgeName;

/// How often a running bridge marks its row.
pub const EVERY: Duration = Duration::from_secs(10);
/// A row not marked for this long is a bridge that died elsewhere: its name is free.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// Who holds a name: the row's `details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    pub started_at: Timestamp,
    pub version: String,
}

impl Holder {
    /// This process.
    pub fn me(host: String, started_at: Timestamp) -> Holder {
        Holder {
            host,
            pid: std::process::id(),
            started_at,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// A name's row as found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub running: bool,
    /// `None`: `details` is not a holder (written by another program).
    pub holder: Option<Holder>,
    /// Since the holder last marked it, by the database's clock.
    pub age: Duration,
}

/// What a bridge may do with a name.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Take,
    /// Held by a live bridge: its holder (if readable) and how long ago it last marked it.
    Refuse {
        holder: Option<Holder>,
        age: Duration,
    },
}

/// Whether `me` may take a name whose row is `found`; `alive` says whether a process id runs
/// on this machine.
pub fn verdict(found: Option<&Found>, me: &Holder, alive: impl Fn(u32) -> bool) -> Verdict {
    let Some(f) = found else {
        return Verdict::Take;
    };
    let refuse = || Verdict::Refuse {
        holder: f.holder.clone(),
        age: f.age,
    };
    if !f.running || f.age >= STALE_AFTER {
        return Verdict::Take;
    }
    match &f.holder {
        Some(h) if h == me => Verdict::Take,
        Some(h) if h.host == me.host && h.pid != me.pid && !alive(h.pid) => Verdict::Take,
        _ => refuse(),
    }
}

/// What the operator reads when the name is taken.
pub fn refusal(name: &BridgeName, holder: Option<&Holder>, age: Duration) -> String {
    let who = match holder {
        Some(h) => format!(
            "on {} (pid {}, started {}, version {})",
            h.host, h.pid, h.started_at, h.version
        ),
        None => "by another program".to_owned(),
    };
    format!(
        "another bridge named {name} is running on this database {who}, last seen {} s ago: \
         two bridges of one name would store each other's rows as copies and lose them. Give \
         this one its own BRIDGE_NAME (one name per gateway login), or stop the other; a \
         bridge that died elsewhere gives up its name {} s after it was last seen",
        age.as_secs(),
        STALE_AFTER.as_secs()
    )
}

fn worker_type(name: &BridgeName) -> String {
    format!("portfolio-bridge:{name}")
}

/// Whether `pid` runs on this machine; unknown (no `/proc`) counts as running, which only
/// makes a restart wait for [`STALE_AFTER`].
pub fn alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Claims `name` for `me`, in one transaction that holds the row, so two bridges starting
/// at once cannot both take it.
pub async fn claim(pool: &PgPool, name: &BridgeName, me: &Holder) -> Result<Verdict, sqlx::Error> {
    let kind = worker_type(name);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO worker_heartbeats (worker_type, status, details, heartbeat_at, updated_at)
         VALUES ($1, 'stopped', NULL, now(), now()) ON CONFLICT (worker_type) DO NOTHING",
    )
    .bind(&kind)
    .execute(&mut *tx)
    .await?;
    let (status, details, age_ms): (String, Option<String>, f64) = sqlx::query_as(
        "SELECT status, details,
                GREATEST(extract(epoch FROM now() - heartbeat_at) * 1000, 0)::float8
           FROM worker_heartbeats WHERE worker_type = $1 FOR UPDATE",
    )
    .bind(&kind)
    .fetch_one(&mut *tx)
    .await?;
    let found = Found {
        running: status == "running",
        holder: details.and_then(|d| serde_json::from_str(&d).ok()),
        age: Duration::from_secs_f64(age_ms / 1000.0),
    };
    let v = verdict(Some(&found), me, alive);
    if v == Verdict::Take {
        mark(&mut tx, &kind, "running", me).await?;
    }
    tx.commit().await?;
    Ok(v)
}

async fn mark(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    status: &str,
    me: &Holder,
) -> Result<(), sqlx::Error> {
    let details = serde_json::to_string(me).unwrap_or_default();
    sqlx::query(
        "UPDATE worker_heartbeats SET status = $2, details = $3, heartbeat_at = now(),
                updated_at = now()
          WHERE worker_type = $1",
    )
    .bind(kind)
    .bind(status)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the row as `me`'s, still running; `false` if another bridge holds it now (it took
/// the name while this one was silent for [`STALE_AFTER`]).
pub async fn beat(pool: &PgPool, name: &BridgeName, me: &Holder) -> Result<bool, sqlx::Error> {
    let details = serde_json::to_string(me).unwrap_or_default();
    let done = sqlx::query(
        "UPDATE worker_heartbeats SET status = 'running', heartbeat_at = now(), updated_at = now()
          WHERE worker_type = $1 AND details = $2",
    )
    .bind(worker_type(name))
    .bind(details)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the name up at a clean stop, so that a restart takes it at once.
pub async fn release(pool: &PgPool, name: &BridgeName, me: &Holder) -> Result<(), sqlx::Error> {
    let details = serde_json::to_string(me).unwrap_or_default();
    sqlx::query(
        "UPDATE worker_heartbeats SET status = 'stopped', updated_at = now()
          WHERE worker_type = $1 AND details = $2",
    )
    .bind(worker_type(name))
    .bind(details)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
#[path = "heartbeat_tests.rs"]
mod tests;

/// Every bridge name that ever held a row here (running or not), in order.
pub async fn names(pool: &PgPool) -> Result<Vec<BridgeName>, sqlx::Error> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT substr(worker_type, length('portfolio-bridge:') + 1) FROM worker_heartbeats
          WHERE worker_type LIKE 'portfolio-bridge:%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().filter_map(|n| BridgeName::parse(n)).collect())
}
