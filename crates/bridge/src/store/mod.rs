//! Store: the only code that speaks SQL. One module per table group; this root owns the pool,
//! the embedded migrations and the store's error type.
//!
//! Nothing here decides policy (when to retry, what to spool): callers get a [`StoreError`]
//! and choose. Nothing here ever touches a table the bridge does not own or share.

pub mod accounts;
pub mod api_logs;
pub mod combos;
pub mod greeks;
pub mod history;
pub mod jobs;
pub mod partitions;
pub mod positions;
pub mod schema;

use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::config::DatabaseUrl;

pub use schema::SchemaError;

/// The migrations in `migrations/`, embedded at build time. Applied versions are recorded in
/// `_portfolio_bridge_migrations` (see `sqlx.toml`).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Everything that can go wrong talking to PostgreSQL, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot connect to PostgreSQL at {url}: {reason}. Check that it is running and that \
         DATABASE_URL is right (scripts/ensure-postgres starts a local one and prints its URL)"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "PostgreSQL at {url} did not answer within {seconds} s. Check that it is running and \
         that DATABASE_URL is right"
    )]
    ConnectTimeout { url: String, seconds: u64 },
    #[error(
        "the database has schema migration {version}, which this portfolio-bridge does not \
         know: a newer version migrated it. Run that version (or newer) instead"
    )]
    NewerSchema { version: i64 },
    #[error("applying the schema migrations failed: {}", describe_migrate(.0))]
    Migrate(MigrateError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(
        "a schema migration cannot be applied: a table of the bridge's name is not as the \
         bridge needs it:\n  - {}\nThe migration failed with: {cause}\nFix the table (add or \
         retype what is listed), or give the bridge a database of its own (DATABASE_URL).",
        problems.problems.join("\n  - ")
    )]
    Blocked {
        problems: SchemaError,
        cause: String,
    },
    #[error("database query failed: {}", describe(.0))]
    Query(#[from] sqlx::Error),
    #[error("partitioning portfolio_greeks: {0}")]
    Partition(#[from] partitions::PartitionError),
}

impl From<MigrateError> for StoreError {
    fn from(e: MigrateError) -> Self {
        match e {
            MigrateError::VersionMissing(version) => StoreError::NewerSchema { version },
            other => StoreError::Migrate(other),
        }
    }
}

/// Opens a pool on `url` after one direct connection attempt, so that a wrong password or a
/// missing database is reported as such rather than as a pool timeout.
pub async fn connect(url: &DatabaseUrl, timeout: Duration) -> Result<PgPool, StoreError> {
    let options = url.connect_options();
    let probe = tokio::time::timeout(timeout, PgConnection::connect_with(options)).await;
    match probe {
        Err(_) => {
            return Err(StoreError::ConnectTimeout {
                url: url.to_string(),
                seconds: timeout.as_secs().max(1),
            });
        }
        Ok(Err(e)) => {
            return Err(StoreError::Unreachable {
                url: url.to_string(),
                reason: describe(&e),
            });
        }
        Ok(Ok(conn)) => {
            // Closing is a courtesy; the pool opens its own connections.
            let _ = conn.close().await;
        }
    }
    Ok(PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(timeout)
        .connect_lazy_with(options.clone()))
}

/// A pool that connects on first use, for tasks that must start whether or not PostgreSQL is
/// up: a call while it is down fails within `acquire_timeout` instead of waiting.
pub fn lazy_pool(url: &DatabaseUrl, acquire_timeout: Duration) -> PgPool {
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(url.connect_options().clone())
}

/// A pool beside `pool`, on the same database, for callers that must answer within `bound`
/// (the read API): the server cancels any statement after `bound`, and waiting for a
/// connection gives up after `bound`. A locked table or a server that stops answering then
/// costs such a caller about `bound`, and never a connection of `pool`'s.
pub fn bounded(pool: &PgPool, bound: Duration) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options([("statement_timeout", format!("{}ms", bound.as_millis()))]);
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(bound)
        .connect_lazy_with(options)
}

/// The part of a connection error an operator can act on: the server's own message, or the
/// I/O error, without sqlx's wrapping.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Whether a migration failed on what an existing table is (a missing or mistyped column, a
/// name taken, rows that break a new constraint) — which no retry mends — rather than on a
/// passing condition (a lock timeout, a deadlock, a lost connection).
fn blocked_by_a_table(e: &MigrateError) -> bool {
    let (MigrateError::Execute(sqlx::Error::Database(db))
    | MigrateError::ExecuteMigration(sqlx::Error::Database(db), _)) = e
    else {
        return false;
    };
    // undefined_column, datatype_mismatch, duplicate_column, duplicate_table, wrong_object_type,
    // invalid_foreign_key, invalid_column_reference, cannot_coerce, unique_violation,
    // not_null_violation.
    const SQLSTATES: &[&str] = &[
        "42703", "42804", "42701", "42P07", "42809", "42830", "42P10", "42846", "23505", "23502",
    ];
    db.code()
        .is_some_and(|code| SQLSTATES.contains(&code.as_ref()))
}

/// Whether `e` is one that trying again cannot mend: the schema is not what the bridge needs,
/// or the migrations recorded in the database contradict this binary's.
pub fn is_permanent(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Schema(_)
            | StoreError::Blocked { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Migrate(MigrateError::VersionMismatch(_) | MigrateError::Dirty(_))
    )
}

/// A migration failure without sqlx's wrapping, the server's message first.
fn describe_migrate(e: &MigrateError) -> String {
    match e {
        MigrateError::Execute(inner) => describe(inner),
        MigrateError::ExecuteMigration(inner, version) => {
            format!("migration {version}: {}", describe(inner))
        }
        other => other.to_string(),
    }
}

/// Where the schema stands for a running bridge, as its writer and jobs wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// Not applied yet, and why (PostgreSQL does not answer, a migration will be retried).
    Pending(String),
    Ready,
    /// It cannot serve the bridge, and what is wrong; the bridge stops.
    Unusable(String),
}

/// Why PostgreSQL could not be used, for the operator: `e` itself, or — when it only says that
/// the pool got no connection — what a direct connection attempt to `url` answers (a refused
/// connection, a wrong password, a missing database), as `migrate` reports it.
pub async fn why_unavailable(url: &DatabaseUrl, e: &StoreError, timeout: Duration) -> String {
    let pool_gave_up = matches!(
        e,
        StoreError::Query(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
    );
    if !pool_gave_up {
        return e.to_string();
    }
    match connect(url, timeout).await {
        Err(cause) => cause.to_string(),
        Ok(pool) => {
            pool.close().await;
            e.to_string()
        }
    }
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions and descriptions applied by this call, oldest first.
    pub applied: Vec<(i64, String)>,
    /// The newest version the database now has.
    pub current: i64,
    /// Whether an empty `portfolio_greeks` was partitioned by day just now.
    pub partitioned: bool,
    /// How `portfolio_greeks` is laid out now.
    pub greeks_layout: partitions::Layout,
}

impl MigrationReport {
    /// What the operator should do about the greeks table's layout, if anything.
    pub fn greeks_advice(&self) -> Option<&'static str> {
        match self.greeks_layout {
            partitions::Layout::Unpartitioned => Some(
                "portfolio_greeks is one unpartitioned table (it had rows before this version): \
                 it works, but reads and retention slow down as it grows. Run `portfolio-bridge \
                 greeks partition` (safe while bridges run) to partition it by day",
            ),
            partitions::Layout::Partitioned { moving: true } => Some(
                "a `portfolio-bridge greeks partition` did not finish: rows wait in \
                 portfolio_greeks_unpartitioned, out of reads. Run it again to move the rest",
            ),
            _ => None,
        }
    }
}

/// Applies the pending migrations and checks that every table the bridge uses can serve it.
/// Safe to run from several processes at once: they take turns, and each reports exactly what
/// it applied.
///
/// A migration that fails on a table the bridge cannot use (another application's, or one
/// altered by hand) is reported as the schema check's list of what is wrong, not as the raw
/// SQL error.
pub async fn migrate(pool: &PgPool) -> Result<MigrationReport, StoreError> {
    // What was there before: a table the bridge finds (another application's, an older
    // layout) can block a migration; one it creates now cannot.
    let before = schema::present(pool, schema::ALL_TABLES).await?;
    let mut conn = pool.acquire().await?;
    // Whatever happens below — a failed migration, a lost server, the caller giving up — this
    // connection is closed, never handed back to the pool: it holds advisory locks (ours, and
    // the migrator's own, which sqlx does not release when a migration fails) that would block
    // every later attempt for as long as the pool kept it.
    conn.close_on_drop();
    // Held for the whole call (the migrator's own lock covers only its run), so that `before`
    // is not read while another process is half-way.
    sqlx::query("SELECT pg_advisory_lock(hashtext('portfolio-bridge migrate'))")
        .execute(&mut *conn)
        .await?;
    let result = migrate_locked(&mut conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext('portfolio-bridge migrate'))")
        .execute(&mut *conn)
        .await;
    drop(conn);
    let report = match result {
        Ok(report) => report,
        Err(StoreError::Migrate(e)) if blocked_by_a_table(&e) => {
            let problems = schema::problems_of(pool, schema::ALL_TABLES, &before)
                .await
                .unwrap_or_default();
            if problems.is_empty() {
                return Err(StoreError::Migrate(e));
            }
            return Err(StoreError::Blocked {
                problems: SchemaError { problems },
                cause: describe_migrate(&e),
            });
        }
        Err(e) => return Err(e),
    };
    unlocked?;
    schema::check(pool, schema::ALL_TABLES).await?;
    Ok(report)
}

/// `conn` holds the lock; the migrator runs on it too, so that its own lock goes with it.
async fn migrate_locked(conn: &mut PgConnection) -> Result<MigrationReport, StoreError> {
    let before = applied_versions(conn).await?;
    MIGRATOR.run_direct(None, conn, false).await?;
    let applied = MIGRATOR
        .iter()
        .filter(|m| !before.contains(&m.version))
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    let current = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
    let today = partitions::utc_day(jiff::Timestamp::now());
    let partitioned = partitions::partition_if_empty(conn, today).await?;
    let greeks_layout = partitions::layout(conn).await?;
    Ok(MigrationReport {
        applied,
        current,
        partitioned,
        greeks_layout,
    })
}

async fn applied_versions(conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('_portfolio_bridge_migrations') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _portfolio_bridge_migrations WHERE success")
        .fetch_all(&mut *conn)
        .await
}
