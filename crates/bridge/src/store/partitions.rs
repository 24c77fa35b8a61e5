//! `portfolio_greeks` partitioned by day: PostgreSQL's declarative range partitioning on
//! `"timestamp"`, one partition per UTC day named `portfolio_greeks_pYYYYMMDD`, and a default
//! partition for a row no day takes (a clock far off, a spool replayed into a day retention
//! has dropped already).
//!
//! - `migrate` partitions a `portfolio_greeks` that is empty ([`partition_if_empty`]).
//! - One with rows is converted by `portfolio-bridge greeks partition`
//!   ([`partition_existing`]): the live table is swapped for a partitioned one in a transaction
//!   that holds its lock for milliseconds, then its rows move over in batches of one
//!   transaction each — a batch is deleted from the old table and inserted into the new one
//!   together, so an interrupted conversion loses nothing and is resumed by running it again.
//! - The `greeks.history` job makes the coming days' partitions ahead ([`make_days`]) and drops
//!   the days retention no longer keeps ([`drop_days_before`]).
//!
//! It must never lose or duplicate a row, wait for a lock longer than [`LOCK_TIMEOUT`] (the
//! greeks writer queues behind a waiting lock), or touch a table it did not name.

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use sqlx::{Connection, PgConnection, PgPool};
use tracing::info;

/// The table the bridge writes and reads.
const PARENT: &str = "portfolio_greeks";
/// The unpartitioned table a conversion moves rows out of, while it has rows.
pub const LEGACY: &str = "portfolio_greeks_unpartitioned";
/// Rows that no day partition takes.
const DEFAULT_PARTITION: &str = "portfolio_greeks_default";
/// How many days after today have their partition made ahead.
pub const DAYS_AHEAD: i64 = 3;
/// The longest a schema change waits for a lock: longer, and it gives up and is retried, so
/// that the writer (queued behind it) is never held up for more than this.
pub const LOCK_TIMEOUT: &str = "5s";
/// Rows moved per transaction by a conversion.
const MOVE_BATCH: i64 = 20_000;

/// Why the partitions could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(
        "portfolio_greeks.id is an identity column; the conversion handles serial ids only \
         (ALTER TABLE portfolio_greeks ALTER COLUMN id DROP IDENTITY, give it a sequence \
         default, then run it again)"
    )]
    IdentityId,
}

/// How `portfolio_greeks` is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Absent (no migration yet).
    Absent,
    /// One plain table: `portfolio-bridge greeks partition` converts it.
    Unpartitioned,
    /// Partitioned by day, with `LEGACY` still holding rows to move when `moving`.
    Partitioned { moving: bool },
}

/// The partition of `day`'s rows.
pub fn partition_name(day: Date) -> String {
    format!("{PARENT}_p{}", day.strftime("%Y%m%d"))
}

/// The day of a partition named by [`partition_name`]; `None` for any other table.
pub fn day_of(name: &str) -> Option<Date> {
    let digits = name.strip_prefix(PARENT)?.strip_prefix("_p")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Date::strptime("%Y%m%d", digits).ok()
}

/// The days whose partitions should exist on `today`: yesterday (a late tick near midnight)
/// to [`DAYS_AHEAD`] days after.
pub fn days_to_make(today: Date) -> Vec<Date> {
    (-1..=DAYS_AHEAD)
        .filter_map(|d| today.checked_add(d.days()).ok())
        .collect()
}

/// The days of `existing` that end at or before `keep_from`: every row in them is older than
/// what retention keeps.
pub fn days_before(existing: &[Date], keep_from: Timestamp) -> Vec<Date> {
    existing
        .iter()
        .copied()
        .filter(|d| start_of(d.tomorrow().unwrap_or(*d)).is_some_and(|end| end <= keep_from))
        .collect()
}

/// The first instant of `day` and of the day after.
fn bounds(day: Date) -> Option<(Timestamp, Timestamp)> {
    Some((start_of(day)?, start_of(day.tomorrow().ok()?)?))
}

/// The UTC midnight that starts `day`.
fn start_of(day: Date) -> Option<Timestamp> {
    day.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The UTC day of `t`.
pub fn utc_day(t: Timestamp) -> Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// How `portfolio_greeks` is laid out now.
pub async fn layout(conn: &mut PgConnection) -> Result<Layout, sqlx::Error> {
    let (kind, legacy): (Option<String>, bool) = sqlx::query_as(
        "SELECT (SELECT c.relkind::text FROM pg_class c
                  WHERE c.oid = to_regclass('portfolio_greeks')),
                to_regclass('portfolio_greeks_unpartitioned') IS NOT NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(match kind.as_deref() {
        None => Layout::Absent,
        Some("p") => Layout::Partitioned { moving: legacy },
        Some(_) => Layout::Unpartitioned,
    })
}

/// Partitions `portfolio_greeks` if it is a plain table without rows that nothing else
/// depends on (a view, a foreign key): the layout of a database the bridge created. Returns
/// whether it did. A table with rows is left to `portfolio-bridge greeks partition`.
pub async fn partition_if_empty(
    conn: &mut PgConnection,
    today: Date,
) -> Result<bool, PartitionError> {
    if layout(conn).await? != Layout::Unpartitioned {
        return Ok(false);
    }
    let mut tx = conn.begin().await?;
    lock_parent(&mut tx).await?;
    let convertible: bool = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM portfolio_greeks)
            AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
                             WHERE d.refobjid = 'portfolio_greeks'::regclass
                               AND r.ev_class <> 'portfolio_greeks'::regclass)
            AND NOT EXISTS (SELECT 1 FROM pg_constraint
                             WHERE confrelid = 'portfolio_greeks'::regclass)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !convertible {
        return Ok(false);
    }
    swap(&mut tx, today).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {LEGACY}")))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

async fn lock_parent(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
         LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// In the caller's transaction, which holds the plain table's lock: renames it to [`LEGACY`]
/// and creates the partitioned `portfolio_greeks` with its columns, its id sequence, a default
/// partition and the indexes the reads use, under the migrations' names (so that their
/// `IF NOT EXISTS` finds them; the old table's are renamed). Unique keys of a partitioned
/// table include the partition key: `(row_key, "timestamp")`, the same rule as `row_key`
/// alone, since a key names its tick. The partitions around `today` are made with it, so
/// that the writer's next rows never land in the default partition.
async fn swap(conn: &mut PgConnection, today: Date) -> Result<(), PartitionError> {
    let identity: bool = sqlx::query_scalar(
        "SELECT attidentity <> '' FROM pg_attribute
          WHERE attrelid = 'portfolio_greeks'::regclass AND attname = 'id'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if identity {
        return Err(PartitionError::IdentityId);
    }
    let sequence: Option<String> =
        sqlx::query_scalar("SELECT pg_get_serial_sequence('portfolio_greeks', 'id')")
            .fetch_one(&mut *conn)
            .await?;
    let mut sql = format!(
        r#"ALTER TABLE {PARENT} RENAME TO {LEGACY};
           ALTER TABLE {LEGACY} RENAME CONSTRAINT portfolio_greeks_pkey TO {LEGACY}_pkey;
           ALTER INDEX IF EXISTS uq_portfolio_greeks_row_key RENAME TO {LEGACY}_row_key;
           ALTER INDEX IF EXISTS ix_portfolio_greeks_contract_timestamp
               RENAME TO {LEGACY}_contract_timestamp;
           ALTER INDEX IF EXISTS ix_portfolio_greeks_account_contract_timestamp
               RENAME TO {LEGACY}_account_contract_timestamp;
           ALTER INDEX IF EXISTS ix_portfolio_greeks_timestamp_brin
               RENAME TO {LEGACY}_timestamp_brin;
           CREATE TABLE {PARENT} (
               LIKE {LEGACY} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS,
               CONSTRAINT portfolio_greeks_pkey PRIMARY KEY (id, "timestamp")
           ) PARTITION BY RANGE ("timestamp");
           CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {PARENT} DEFAULT;
           CREATE UNIQUE INDEX uq_portfolio_greeks_row_key ON {PARENT} (row_key, "timestamp");
           CREATE INDEX ix_portfolio_greeks_contract_timestamp
               ON {PARENT} (contract, "timestamp" DESC);
           CREATE INDEX ix_portfolio_greeks_account_contract_timestamp
               ON {PARENT} (account, contract, "timestamp" DESC);
           CREATE INDEX ix_portfolio_greeks_timestamp_brin ON {PARENT} USING brin ("timestamp");"#
    );
    // The sequence goes with the new table, so that dropping the old one keeps it.
    if let Some(seq) = sequence {
        sql.push_str(&format!("ALTER SEQUENCE {seq} OWNED BY {PARENT}.id;"));
    }
    for day in days_to_make(today) {
        if let Some((from, to)) = bounds(day) {
            let name = partition_name(day);
            sql.push_str(&format!(
                "CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM ('{from}') TO ('{to}');"
            ));
        }
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The day partitions that exist.
async fn existing_days(conn: &mut PgConnection) -> Result<Vec<Date>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'portfolio_greeks'::regclass",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(names.iter().filter_map(|n| day_of(n)).collect())
}

/// Makes the partitions of `days` that do not exist, moving any rows of those days out of the
/// default partition into them. Returns the names made. Nothing on an unpartitioned table.
pub async fn make_days(pool: &PgPool, days: &[Date]) -> Result<Vec<String>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    if !matches!(layout(&mut conn).await?, Layout::Partitioned { .. }) {
        return Ok(Vec::new());
    }
    let have = existing_days(&mut conn).await?;
    let mut made = Vec::new();
    for day in days.iter().filter(|d| !have.contains(d)) {
        let Some((from, to)) = bounds(*day) else {
            continue;
        };
        let name = partition_name(*day);
        let mut tx = conn.begin().await?;
        // Attached rather than created as a partition: a default partition holding rows of
        // the day would refuse the latter.
        // The default partition is locked first: a row of the day written between the move
        // and the attach would stay in it and make the attach fail.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            r#"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
               LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE;
               CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING STORAGE);
               WITH moved AS (
                   DELETE FROM {DEFAULT_PARTITION}
                    WHERE "timestamp" >= '{from}' AND "timestamp" < '{to}'
                RETURNING *)
               INSERT INTO {name} SELECT * FROM moved;
               ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{from}') TO ('{to}');"#
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        made.push(name);
    }
    Ok(made)
}

/// Drops the day partitions whose every row is older than `keep_from`. Returns their names.
pub async fn drop_days_before(
    pool: &PgPool,
    keep_from: Timestamp,
) -> Result<Vec<String>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    if !matches!(layout(&mut conn).await?, Layout::Partitioned { .. }) {
        return Ok(Vec::new());
    }
    let have = existing_days(&mut conn).await?;
    let mut dropped = Vec::new();
    for day in days_before(&have, keep_from) {
        let name = partition_name(day);
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; DROP TABLE {name}"
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        dropped.push(name);
    }
    Ok(dropped)
}

/// How far a conversion has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Rows moved into the partitioned table.
    pub rows: u64,
    /// Rows the partitioned table had already (the same key: a spool replay of a moved row).
    pub already_there: u64,
}

/// Converts an unpartitioned `portfolio_greeks` with rows (or resumes a conversion): swaps in
/// the partitioned table, makes a partition for every day the old rows cover, moves them in
/// batches, each deleted from the old table and inserted into the new one in one transaction
/// that also marks its time range for the rollups, then drops the emptied old table.
/// `progress` is told after each batch.
pub async fn partition_existing(
    pool: &PgPool,
    now: Timestamp,
    mut progress: impl FnMut(Moved),
) -> Result<Moved, PartitionError> {
    let mut conn = pool.acquire().await?;
    match layout(&mut conn).await? {
        Layout::Absent => return Ok(Moved::default()),
        Layout::Unpartitioned => {
            let mut tx = conn.begin().await?;
            lock_parent(&mut tx).await?;
            swap(&mut tx, utc_day(now)).await?;
            tx.commit().await?;
            info!("portfolio_greeks is now partitioned by day; moving its rows");
        }
        Layout::Partitioned { .. } => {}
    }
    if layout(&mut conn).await? != (Layout::Partitioned { moving: true }) {
        return Ok(Moved::default());
    }
    let range: (Option<i64>, Option<i64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"SELECT (extract(epoch FROM min("timestamp")) * 1000)::bigint,
                  (extract(epoch FROM max("timestamp")) * 1000)::bigint FROM {LEGACY}"#
    )))
    .fetch_one(&mut *conn)
    .await?;
    drop(conn);
    let mut days = days_to_make(utc_day(now));
    let as_day = |ms: i64| Timestamp::from_millisecond(ms).ok().map(utc_day);
    if let (Some(first), Some(last)) = (range.0.and_then(as_day), range.1.and_then(as_day)) {
        let mut d = first;
        while d <= last {
            days.push(d);
            d = match d.tomorrow() {
                Ok(next) => next,
                Err(_) => break,
            };
        }
    }
    make_days(pool, &days).await?;
    let mut total = Moved::default();
    loop {
        let mut tx = pool.begin().await?;
        let (rows, inserted): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            r#"WITH moved AS (
                   DELETE FROM {LEGACY}
                    WHERE ctid = ANY (ARRAY(SELECT ctid FROM {LEGACY} LIMIT {MOVE_BATCH}))
                RETURNING *),
               put AS (
                   INSERT INTO {PARENT} SELECT * FROM moved ON CONFLICT DO NOTHING RETURNING 1),
               marked AS (
                   INSERT INTO greeks_rollup_pending (lo, hi)
                   SELECT min("timestamp"), max("timestamp") FROM moved HAVING count(*) > 0)
               SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM put)"#
        )))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if rows == 0 {
            break;
        }
        total.rows += inserted as u64;
        total.already_there += (rows - inserted) as u64;
        progress(total);
    }
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; DROP TABLE {LEGACY}"
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(total)
}

#[cfg(test)]
#[path = "partitions_tests.rs"]
mod tests;
