//! The greeks history over years: 1-minute rollups of `portfolio_greeks` into
//! `portfolio_greeks_1m` (per minute and per bridge, account and contract: the minute's last
//! row's figures, each figure's lowest and highest), and retention of the 5-second rows.
//!
//! The writer marks the time range of every batch it stores in `greeks_rollup_pending`, in the
//! batch's own transaction; [`roll_up_pending`] recomputes the minutes of those ranges and
//! removes them, in one transaction per day of rows. Retention drops only rows no pending range
//! covers, so a row is never dropped before its minute is rolled up — a spool drained days late
//! included.
//!
//! It must never delete a 5-second row that is younger than retention keeps, or one whose
//! minute is not rolled up.

use std::sync::LazyLock;

use jiff::{SignedDuration, Timestamp};
use sqlx::{Connection, PgConnection, PgPool};

use super::partitions::{self, Layout};

/// The figures of a greeks row, each rolled up as its last value, `_min` and `_max`.
pub const FIGURES: [&str; 13] = [
    "delta",
    "gamma",
    "vega",
    "theta",
    "underlying_price",
    "delta_dollars",
    "gamma_dollars",
    "vega_lt30",
    "vega_30_90",
    "vega_gt90",
    "theta_lt30",
    "theta_30_90",
    "theta_gt90",
];

/// The most time one rollup transaction covers: a backfill of years goes a day at a time.
const STEP: SignedDuration = SignedDuration::from_hours(24);

/// Rows deleted per statement from a table retention cannot drop a day of at once.
const DELETE_BATCH: i64 = 10_000;

/// Recomputes the rollups of the minutes in `$1`..`$2` from the 5-second rows.
static ROLL_UP: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<String> = FIGURES
        .iter()
        .map(|f| format!("{f}, {f}_min, {f}_max"))
        .collect();
    let values: Vec<String> = FIGURES
        .iter()
        .map(|f| {
            format!(r#"(array_agg({f} ORDER BY "timestamp" DESC, id DESC))[1], min({f}), max({f})"#)
        })
        .collect();
    let updates: Vec<String> = FIGURES
        .iter()
        .map(|f| {
            format!("{f} = EXCLUDED.{f}, {f}_min = EXCLUDED.{f}_min, {f}_max = EXCLUDED.{f}_max")
        })
        .collect();
    format!(
        r#"INSERT INTO portfolio_greeks_1m (contract, account, bridge, bucket, n_rows, {})
           SELECT contract, COALESCE(account, ''), COALESCE(bridge, ''),
                  date_bin('1 minute', "timestamp", 'epoch'), count(*), {}
             FROM portfolio_greeks
            WHERE "timestamp" >= to_timestamp($1::double precision / 1000)
              AND "timestamp" < to_timestamp($2::double precision / 1000)
            GROUP BY 1, 2, 3, 4
           ON CONFLICT (contract, account, bridge, bucket) DO UPDATE SET
              n_rows = EXCLUDED.n_rows, {}"#,
        names.join(", "),
        values.join(", "),
        updates.join(", ")
    )
});

/// What [`roll_up_pending`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolledUp {
    /// Rollup rows written (new or recomputed).
    pub minutes: u64,
}

/// Rolls up every pending range, oldest first, one transaction per [`STEP`] of rows at most.
/// Two callers at once take turns.
pub async fn roll_up_pending(pool: &PgPool) -> Result<RolledUp, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    // Closed, not returned to the pool, whatever happens: it may hold the lock.
    conn.close_on_drop();
    sqlx::query("SELECT pg_advisory_lock(hashtext('portfolio-bridge greeks rollup'))")
        .execute(&mut *conn)
        .await?;
    let done = roll_up_locked(&mut conn).await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('portfolio-bridge greeks rollup'))")
        .execute(&mut *conn)
        .await?;
    done
}

async fn roll_up_locked(conn: &mut PgConnection) -> Result<RolledUp, sqlx::Error> {
    let mut done = RolledUp::default();
    loop {
        // One snapshot for the whole step: a range the writer commits meanwhile is neither
        // rolled up nor removed here, but left for the next step.
        let mut tx = conn
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await?;
        // The minutes from the oldest pending range's to the newest end among the ranges that
        // start within a step of it.
        let span: Option<(Timestamp, Timestamp)> = sqlx::query_as::<_, (i64, i64)>(
            r#"WITH first AS (SELECT date_bin('1 minute', min(lo), 'epoch') AS lo
                                FROM greeks_rollup_pending)
               SELECT (extract(epoch FROM first.lo) * 1000)::bigint,
                      (extract(epoch FROM least(
                          date_bin('1 minute', max(p.hi), 'epoch') + interval '1 minute',
                          first.lo + make_interval(secs => $1))) * 1000)::bigint
                 FROM greeks_rollup_pending p, first
                WHERE p.lo < first.lo + make_interval(secs => $1)
                GROUP BY first.lo"#,
        )
        .bind(STEP.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?
        .and_then(|(lo, hi)| {
            Some((
                Timestamp::from_millisecond(lo).ok()?,
                Timestamp::from_millisecond(hi).ok()?,
            ))
        });
        let Some((lo, hi)) = span else {
            tx.commit().await?;
            return Ok(done);
        };
        let (lo_ms, hi_ms) = (lo.as_millisecond(), hi.as_millisecond());
        let written = sqlx::query(sqlx::AssertSqlSafe(ROLL_UP.as_str()))
            .bind(lo_ms)
            .bind(hi_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "DELETE FROM greeks_rollup_pending
              WHERE hi < to_timestamp($1::double precision / 1000)",
        )
        .bind(hi_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE greeks_rollup_pending SET lo = to_timestamp($1::double precision / 1000)
              WHERE lo < to_timestamp($1::double precision / 1000)",
        )
        .bind(hi_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done.minutes += written;
    }
}

/// The oldest time a pending range covers: retention keeps every row from there.
async fn oldest_pending(pool: &PgPool) -> Result<Option<Timestamp>, sqlx::Error> {
    let ms: Option<i64> = sqlx::query_scalar(
        "SELECT (extract(epoch FROM min(lo)) * 1000)::bigint FROM greeks_rollup_pending",
    )
    .fetch_one(pool)
    .await?;
    Ok(ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
}

/// What [`drop_raw_before`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Day partitions dropped whole.
    pub partitions: Vec<String>,
    /// Rows deleted one by one (an unpartitioned table, the default partition).
    pub rows: u64,
}

/// Removes the 5-second rows older than `keep_from` — whole days at a time where the table is
/// partitioned — but none that a pending range still covers.
pub async fn drop_raw_before(pool: &PgPool, keep_from: Timestamp) -> Result<Dropped, sqlx::Error> {
    let keep_from = match oldest_pending(pool).await? {
        Some(p) if p < keep_from => p,
        _ => keep_from,
    };
    let layout = partitions::layout(&mut *pool.acquire().await?).await?;
    let (partitions, table) = match layout {
        Layout::Absent => return Ok(Dropped::default()),
        Layout::Unpartitioned => (Vec::new(), "portfolio_greeks"),
        Layout::Partitioned { .. } => (
            partitions::drop_days_before(pool, keep_from).await?,
            "portfolio_greeks_default",
        ),
    };
    let mut rows = 0;
    loop {
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"DELETE FROM {table} WHERE ctid = ANY (ARRAY(
                   SELECT ctid FROM {table}
                    WHERE "timestamp" < to_timestamp($1::double precision / 1000)
                    LIMIT {DELETE_BATCH}))"#
        )))
        .bind(keep_from.as_millisecond())
        .execute(pool)
        .await?
        .rows_affected();
        rows += n;
        if n == 0 {
            break;
        }
    }
    Ok(Dropped { partitions, rows })
}
