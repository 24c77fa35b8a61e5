//! `portfolio_greeks` and `api_logs` as the greeks writer fills them: batches of records in one
//! transaction, each stored at most once thanks to its key. And the series as the read API and
//! the page read it: every account together unless one account is asked for, which is named
//! by its `accounts.id` — the account code a row carries never leaves this module.

use std::sync::LazyLock;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::domain::ids::BridgeName;
use crate::greeks::record::{GreeksRecord, RISK_COLUMNS, Record};

/// Why a batch of records was not stored.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Only a damaged record can have one: a tick's time always fits.
    #[error("the greeks row {key} has a time PostgreSQL cannot hold ({at_ms} ms since 1970)")]
    Time { key: String, at_ms: i64 },
}

/// The columns of `portfolio_greeks` a greeks row fills, in the order [`encode_row`] writes
/// them.
static GREEKS_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#""timestamp", contract, delta, gamma, vega, theta, underlying_price, row_key, account, {}, bridge"#,
        RISK_COLUMNS.join(", ")
    )
});

/// A batch's greeks rows when some may be stored already: the same columns, and `n`, their
/// order. Dropped with the transaction.
static STAGING_TABLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"CREATE TEMP TABLE pb_greeks_batch (
               n bigint GENERATED ALWAYS AS IDENTITY,
               "timestamp" timestamptz, contract text, delta float8, gamma float8, vega float8,
               theta float8, underlying_price float8, row_key text, account text, {},
               bridge text
           ) ON COMMIT DROP"#,
        RISK_COLUMNS.map(|c| format!("{c} float8")).join(", ")
    )
});

/// COPY data is sent in pieces of about this many bytes, so that PostgreSQL stores the first
/// rows while the rest are still being encoded.
const COPY_CHUNK: usize = 256 * 1024;

/// Stores `records` in one transaction, in order; a record whose key is already stored is
/// skipped.
///
/// Greeks rows go in with COPY in its binary format, PostgreSQL's bulk path (a drain moves a
/// whole batch of the spool at once), with every value exactly as it is held. Their keys are
/// normally new, so they are copied straight into `portfolio_greeks`. The transaction is run
/// again with the rows copied into a temporary table first and moved by one `INSERT … ON
/// CONFLICT DO NOTHING` (the key is `row_key`, or `(row_key, "timestamp")` where the table is
/// partitioned: the same rule, since a key names its tick), which skips exactly the stored
/// ones and converts each value
/// to its column's type, when the straight COPY is refused: a key is there already (a replay
/// after a crash, a write whose commit was not acknowledged), or a column is not of the type
/// the binary format carries (a table that predates the bridge with `real` figures).
pub async fn insert_records(pool: &PgPool, records: &[Record]) -> Result<(), InsertError> {
    let mut greeks = Vec::new();
    let mut l = LogColumns::default();
    for r in records {
        match r {
            Record::Greeks(r) => greeks.push(r),
            Record::ApiLog {
                key,
                at_ms,
                api_mode,
                status,
                message,
                bridge,
            } => {
                l.bridge
                    .push(bridge.as_ref().map(|b| b.as_str().to_owned()));
                l.keys.push(key.clone());
                l.at.push(*at_ms);
                l.mode.push(api_mode.clone());
                l.status.push(status.clone());
                l.message.push(message.clone());
            }
        }
    }
    let mut tx = pool.begin().await?;
    if !greeks.is_empty() {
        match copy_greeks(&mut tx, "portfolio_greeks", &greeks).await {
            Ok(()) => {}
            Err(InsertError::Database(e)) if refused_by_table(&e) => {
                tx.rollback().await?;
                tx = pool.begin().await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(STAGING_TABLE.as_str()))
                    .execute(&mut *tx)
                    .await?;
                copy_greeks(&mut tx, "pb_greeks_batch", &greeks).await?;
                let columns = GREEKS_COLUMNS.as_str();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO portfolio_greeks ({columns})
                     SELECT {columns} FROM pb_greeks_batch ORDER BY n
                     ON CONFLICT DO NOTHING"
                )))
                .execute(&mut *tx)
                .await?;
            }
            Err(e) => return Err(e),
        }
        // The rows' time range, for the rollups (`store::history`): visible exactly when
        // the rows are.
        let (lo, hi) = greeks.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
            (lo.min(r.at_ms), hi.max(r.at_ms))
        });
        sqlx::query(
            "INSERT INTO greeks_rollup_pending (lo, hi)
             VALUES (to_timestamp($1::double precision / 1000),
                     to_timestamp($2::double precision / 1000))",
        )
        .bind(lo)
        .bind(hi)
        .execute(&mut *tx)
        .await?;
    }
    if !l.keys.is_empty() {
        sqlx::query(
            r#"INSERT INTO api_logs ("timestamp", api_mode, status, message, row_key, bridge)
               SELECT to_timestamp(t::double precision / 1000), m, s, msg, k, b
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[])
                      WITH ORDINALITY AS x(t, m, s, msg, k, b, n)
                ORDER BY n
               ON CONFLICT (row_key) DO NOTHING"#,
        )
        .bind(&l.at)
        .bind(&l.mode)
        .bind(&l.status)
        .bind(&l.message)
        .bind(&l.keys)
        .bind(&l.bridge)
        .execute(&mut *tx)
        .await?;
    }
    Ok(tx.commit().await?)
}

/// Whether a straight COPY failed for what the temporary table's way handles: a key stored
/// already (unique_violation), or a column of another type than the value sent
/// (invalid_binary_representation).
fn refused_by_table(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation() || d.code().as_deref() == Some("22P03"))
}

/// The start of binary COPY data: its signature, no flags, no header extension.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// 2000-01-01, PostgreSQL's epoch, in ms since 1970.
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// Copies `rows` into `table` (`portfolio_greeks` or the staging table), in order.
async fn copy_greeks(
    conn: &mut PgConnection,
    table: &str,
    rows: &[&GreeksRecord],
) -> Result<(), InsertError> {
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {table} ({}) FROM STDIN WITH (FORMAT binary)",
            GREEKS_COLUMNS.as_str()
        ))
        .await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 4096);
    buf.extend_from_slice(COPY_HEADER);
    for r in rows {
        let Some(at) = r
            .at_ms
            .checked_sub(PG_EPOCH_MS)
            .and_then(|ms| ms.checked_mul(1000))
        else {
            copy.abort("a greeks row with a time out of range").await?;
            return Err(InsertError::Time {
                key: r.key.clone(),
                at_ms: r.at_ms,
            });
        };
        encode_row(&mut buf, at, r);
        if buf.len() >= COPY_CHUNK {
            copy.send(buf.as_slice()).await?;
            buf.clear();
        }
    }
    // The end of the data: a tuple of -1 fields.
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf.as_slice()).await?;
    copy.finish().await?;
    Ok(())
}

/// One tuple of binary COPY data: its number of fields, then each field's length and bytes in
/// [`GREEKS_COLUMNS`]' order (length -1: NULL). `at` is in µs since PostgreSQL's epoch.
fn encode_row(buf: &mut Vec<u8>, at: i64, r: &GreeksRecord) {
    let fields = 10 + RISK_COLUMNS.len() as i16;
    buf.extend_from_slice(&fields.to_be_bytes());
    field(buf, Some(&at.to_be_bytes()));
    field(buf, Some(r.contract.as_bytes()));
    for x in [r.delta, r.gamma, r.vega, r.theta] {
        field(buf, Some(&x.to_be_bytes()));
    }
    field(
        buf,
        r.underlying_price
            .map(f64::to_be_bytes)
            .as_ref()
            .map(|b| &b[..]),
    );
    field(buf, Some(r.key.as_bytes()));
    field(buf, r.account.as_ref().map(|a| a.as_str().as_bytes()));
    for x in r.risk_figures() {
        field(buf, x.map(f64::to_be_bytes).as_ref().map(|b| &b[..]));
    }
    field(buf, r.bridge.as_ref().map(|b| b.as_str().as_bytes()));
}

/// A field: its length and bytes, or -1 for NULL. A field is a few bytes here, far from the
/// format's 2 GiB limit.
fn field(buf: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            buf.extend_from_slice(&(b.len() as i32).to_be_bytes());
            buf.extend_from_slice(b);
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

#[derive(Default)]
struct LogColumns {
    bridge: Vec<Option<String>>,
    keys: Vec<String>,
    at: Vec<i64>,
    mode: Vec<String>,
    status: Vec<String>,
    message: Vec<String>,
}

/// One point of a contract's series. NULL (`None`) where the figure is unknown: a greek of a row
/// the bridge did not write, a dollar figure without an underlying price, and the dollar and
/// by-expiry figures of rows stored before the bridge worked them out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GreeksPoint {
    pub timestamp: Timestamp,
    /// Net delta in units of the underlying: shares, barrels for CL (contracts × 1000), index
    /// points × multiplier. In the `PORTFOLIO` row, different underlyings' units added
    /// together: meaningless unless there is one underlying (use `delta_dollars`).
    pub delta: Option<f64>,
    /// Net gamma: the change of `delta` (underlying units) per one-unit move of the underlying.
    /// In the `PORTFOLIO` row, meaningless unless there is one underlying (use
    /// `gamma_dollars`).
    pub gamma: Option<f64>,
    /// Net vega in dollars per volatility point.
    pub vega: Option<f64>,
    /// Net theta in dollars per day.
    pub theta: Option<f64>,
    /// The underlying's price (the front-month future's for futures); for `PORTFOLIO` only
    /// when it has one underlying.
    pub underlying_price: Option<f64>,
    /// Dollar delta: each position's delta × the price of what it moves with (its own future,
    /// an option's underlying future), in dollars. For `PORTFOLIO`, the sum over the
    /// underlyings, `null` if any of them has no price (a partial sum would mislead).
    pub delta_dollars: Option<f64>,
    /// Dollar gamma: the change of `delta_dollars` for a 1 % move of the underlying
    /// (gamma × price² × 0.01), in dollars. Summed and `null` as `delta_dollars` is.
    pub gamma_dollars: Option<f64>,
    /// Vega (dollars per volatility point) of the options expiring in fewer than 30 calendar
    /// days. Options whose expiry is unknown are in no bucket, so the three may add up to less
    /// than `vega`.
    pub vega_lt30: Option<f64>,
    /// Vega (dollars per volatility point) of the options expiring in 30 to 90 calendar days.
    pub vega_30_90: Option<f64>,
    /// Vega (dollars per volatility point) of the options expiring in more than 90 calendar
    /// days.
    pub vega_gt90: Option<f64>,
    /// Theta (dollars per day) of the options expiring in fewer than 30 calendar days.
    pub theta_lt30: Option<f64>,
    /// Theta (dollars per day) of the options expiring in 30 to 90 calendar days.
    pub theta_30_90: Option<f64>,
    /// Theta (dollars per day) of the options expiring in more than 90 calendar days.
    pub theta_gt90: Option<f64>,
}

/// The columns of a point, as `point_columns!` selects them.
#[derive(sqlx::FromRow)]
struct PointRow {
    at_ms: i64,
    delta: Option<f64>,
    gamma: Option<f64>,
    vega: Option<f64>,
    theta: Option<f64>,
    underlying_price: Option<f64>,
    delta_dollars: Option<f64>,
    gamma_dollars: Option<f64>,
    vega_lt30: Option<f64>,
    vega_30_90: Option<f64>,
    vega_gt90: Option<f64>,
    theta_lt30: Option<f64>,
    theta_30_90: Option<f64>,
    theta_gt90: Option<f64>,
}

/// The select list of a [`PointRow`], a literal so that `concat!` keeps each statement one;
/// `$at` is the time column (`"timestamp"`, or a rollup's `bucket`).
macro_rules! point_columns {
    () => {
        point_columns!(r#""timestamp""#)
    };
    ($at:literal) => {
        concat!(
            "(extract(epoch FROM ",
            $at,
            r#") * 1000)::bigint AS at_ms, delta, gamma, vega, theta,
           underlying_price, delta_dollars, gamma_dollars, vega_lt30, vega_30_90, vega_gt90,
           theta_lt30, theta_30_90, theta_gt90"#
        )
    };
}

/// The statement of a series: `$whose` says whose rows, `$1` is the contract, `$2` and `$3`
/// the range (ms), `$4` how many of the newest. From the 5-second rows, or with `minutes`
/// from the 1-minute rollups.
macro_rules! series_sql {
    ($whose:literal) => {
        concat!(
            "SELECT ",
            point_columns!(),
            " FROM portfolio_greeks WHERE ",
            $whose,
            r#" AND contract = $1
              AND "timestamp" >= to_timestamp($2::double precision / 1000)
              AND "timestamp" <= to_timestamp($3::double precision / 1000)
            ORDER BY "timestamp" DESC, id DESC
            LIMIT $4"#
        )
    };
    (minutes $whose:literal) => {
        concat!(
            "SELECT ",
            point_columns!("bucket"),
            " FROM portfolio_greeks_1m WHERE ",
            $whose,
            r#" AND contract = $1
              AND bucket >= to_timestamp($2::double precision / 1000)
              AND bucket <= to_timestamp($3::double precision / 1000)
            ORDER BY bucket DESC
            LIMIT $4"#
        )
    };
}

impl From<PointRow> for GreeksPoint {
    fn from(r: PointRow) -> GreeksPoint {
        GreeksPoint {
            timestamp: Timestamp::from_millisecond(r.at_ms).unwrap_or(Timestamp::UNIX_EPOCH),
            delta: r.delta,
            gamma: r.gamma,
            vega: r.vega,
            theta: r.theta,
            underlying_price: r.underlying_price,
            delta_dollars: r.delta_dollars,
            gamma_dollars: r.gamma_dollars,
            vega_lt30: r.vega_lt30,
            vega_30_90: r.vega_30_90,
            vega_gt90: r.vega_gt90,
            theta_lt30: r.theta_lt30,
            theta_30_90: r.theta_30_90,
            theta_gt90: r.theta_gt90,
        }
    }
}

/// Whose series to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose<'a> {
    /// Every account of one bridge together: its rows without an account, and those stored
    /// before bridges had names. Bridges sharing the database each have their own.
    AllAccounts(&'a BridgeName),
    /// One account's rows, by `accounts.id` (an account is one gateway login's).
    Account(i32),
    /// Every account of every bridge together: at each tick, the sum of each bridge's
    /// all-accounts row (the rule is `merged_ticks!`'s).
    AllBridges,
}

/// The all-accounts rows of every bridge summed per tick, as `merged` (`"timestamp"` and a
/// [`PointRow`]'s columns), for `$1` the contract and `$2`..`$3` the range (ms). A bridge is
/// expected at every tick between its first and its last row in the range (rows stored before
/// bridges had names count as one bridge), and a tick missing an expected bridge has no
/// point: a partial sum would pass for the whole. A figure is the sum only when every bridge
/// knows it; the underlying price only when all agree on it.
macro_rules! merged_ticks {
    () => {
        merged_ticks!(
            r#"SELECT "timestamp", COALESCE(bridge, '') AS b, delta, gamma, vega, theta,
                      underlying_price, delta_dollars, gamma_dollars, vega_lt30, vega_30_90,
                      vega_gt90, theta_lt30, theta_30_90, theta_gt90
                 FROM portfolio_greeks
                WHERE account IS NULL AND contract = $1
                  AND "timestamp" >= to_timestamp($2::double precision / 1000)
                  AND "timestamp" <= to_timestamp($3::double precision / 1000)"#
        )
    };
    (minutes) => {
        merged_ticks!(
            r#"SELECT bucket AS "timestamp", bridge AS b, delta, gamma, vega, theta,
                      underlying_price, delta_dollars, gamma_dollars, vega_lt30, vega_30_90,
                      vega_gt90, theta_lt30, theta_30_90, theta_gt90
                 FROM portfolio_greeks_1m
                WHERE account = '' AND contract = $1
                  AND bucket >= to_timestamp($2::double precision / 1000)
                  AND bucket <= to_timestamp($3::double precision / 1000)"#
        )
    };
    ($rows:literal) => {
        concat!("WITH r AS (", $rows, r#"),
            span AS (SELECT b, min("timestamp") AS first, max("timestamp") AS last
                       FROM r GROUP BY b),
            merged AS (
                SELECT "timestamp", count(*) AS have,
                       (extract(epoch FROM "timestamp") * 1000)::bigint AS at_ms,
                       CASE WHEN count(delta) = count(*) THEN sum(delta) END AS delta,
                       CASE WHEN count(gamma) = count(*) THEN sum(gamma) END AS gamma,
                       CASE WHEN count(vega) = count(*) THEN sum(vega) END AS vega,
                       CASE WHEN count(theta) = count(*) THEN sum(theta) END AS theta,
                       CASE WHEN count(underlying_price) = count(*)
                             AND min(underlying_price) = max(underlying_price)
                            THEN min(underlying_price) END AS underlying_price,
                       CASE WHEN count(delta_dollars) = count(*) THEN sum(delta_dollars) END
                           AS delta_dollars,
                       CASE WHEN count(gamma_dollars) = count(*) THEN sum(gamma_dollars) END
                           AS gamma_dollars,
                       CASE WHEN count(vega_lt30) = count(*) THEN sum(vega_lt30) END AS vega_lt30,
                       CASE WHEN count(vega_30_90) = count(*) THEN sum(vega_30_90) END
                           AS vega_30_90,
                       CASE WHEN count(vega_gt90) = count(*) THEN sum(vega_gt90) END AS vega_gt90,
                       CASE WHEN count(theta_lt30) = count(*) THEN sum(theta_lt30) END
                           AS theta_lt30,
                       CASE WHEN count(theta_30_90) = count(*) THEN sum(theta_30_90) END
                           AS theta_30_90,
                       CASE WHEN count(theta_gt90) = count(*) THEN sum(theta_gt90) END
                           AS theta_gt90
                  FROM r GROUP BY "timestamp"
                HAVING count(*) = count(DISTINCT b)),
            complete AS (
                SELECT * FROM merged m
                 WHERE m.have = (SELECT count(*) FROM span
                                  WHERE m."timestamp" BETWEEN span.first AND span.last))
        "#)
    };
}

/// The columns of a [`PointRow`] from `complete`.
macro_rules! merged_columns {
    () => {
        r#"at_ms, delta, gamma, vega, theta, underlying_price, delta_dollars, gamma_dollars,
           vega_lt30, vega_30_90, vega_gt90, theta_lt30, theta_30_90, theta_gt90"#
    };
}

/// Which rows a series is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Resolution {
    /// The rows the bridge writes, one per tick (`GREEKS_INTERVAL_SECONDS`, 5 s by default);
    /// kept for `GREEKS_RAW_RETENTION_DAYS`.
    #[serde(rename = "raw")]
    Raw,
    /// The 1-minute rollups, kept for good: each point is the minute's last row, stamped with
    /// the minute's start. The current minute appears once `greeks.history` has run (every
    /// minute).
    #[serde(rename = "1m")]
    Minute,
}

impl Resolution {
    /// The resolution a window is read at unless one is asked for: 1-minute rollups when it
    /// is longer than a day.
    pub fn for_window(from: Timestamp, to: Timestamp) -> Resolution {
        match to.duration_since(from) > jiff::SignedDuration::from_hours(24) {
            true => Resolution::Minute,
            false => Resolution::Raw,
        }
    }
}

/// The newest `limit` points of `whose` `contract` between `from` and `to`, oldest first, at
/// `resolution`. An account id that names no account has no points.
pub async fn series_of(
    pool: &PgPool,
    (whose, resolution): (Whose<'_>, Resolution),
    contract: &str,
    from: Timestamp,
    to: Timestamp,
    limit: i64,
) -> Result<Vec<GreeksPoint>, sqlx::Error> {
    macro_rules! newest {
        () => {
            r#" FROM complete ORDER BY "timestamp" DESC LIMIT $4"#
        };
    }
    // Two statements rather than one `IS NOT DISTINCT FROM`, which no index serves.
    let sql = match (whose, resolution) {
        (Whose::AllAccounts(_), Resolution::Raw) => {
            series_sql!("account IS NULL AND (bridge = $5 OR bridge IS NULL)")
        }
        (Whose::AllAccounts(_), Resolution::Minute) => {
            series_sql!(minutes "account = '' AND bridge IN ($5, '')")
        }
        (Whose::Account(_), Resolution::Raw) => {
            series_sql!("account = (SELECT a.account FROM accounts a WHERE a.id = $5)")
        }
        (Whose::Account(_), Resolution::Minute) => {
            series_sql!(minutes "account = (SELECT a.account FROM accounts a WHERE a.id = $5)")
        }
        (Whose::AllBridges, Resolution::Raw) => {
            concat!(merged_ticks!(), "SELECT ", merged_columns!(), newest!())
        }
        (Whose::AllBridges, Resolution::Minute) => {
            concat!(
                merged_ticks!(minutes),
                "SELECT ",
                merged_columns!(),
                newest!()
            )
        }
    };
    let query = sqlx::query_as(sql)
        .bind(contract)
        .bind(from.as_millisecond())
        .bind(to.as_millisecond())
        .bind(limit);
    let query = match whose {
        Whose::AllAccounts(bridge) => query.bind(bridge.as_str()),
        Whose::Account(id) => query.bind(id),
        Whose::AllBridges => query,
    };
    let mut rows: Vec<PointRow> = query.fetch_all(pool).await?;
    rows.reverse();
    Ok(rows.into_iter().map(GreeksPoint::from).collect())
}

/// The last point of each `bucket`-wide stretch of `whose` `contract` between `from` and
/// `to`, oldest first, from the rows of `resolution`: a long window read at the resolution a
/// chart can show. A stretch with no row has no point, so gaps stay gaps.
pub async fn series_binned(
    pool: &PgPool,
    (whose, resolution): (Whose<'_>, Resolution),
    contract: &str,
    from: Timestamp,
    to: Timestamp,
    bucket: std::time::Duration,
) -> Result<Vec<GreeksPoint>, sqlx::Error> {
    macro_rules! binned_sql {
        ($table:literal, $at:literal, $tiebreak:literal, $whose:literal) => {
            concat!(
                "SELECT DISTINCT ON (date_bin(make_interval(secs => $4), ",
                $at,
                ", 'epoch')) ",
                point_columns!($at),
                " FROM ",
                $table,
                " WHERE ",
                $whose,
                " AND contract = $1 AND ",
                $at,
                " >= to_timestamp($2::double precision / 1000) AND ",
                $at,
                " <= to_timestamp($3::double precision / 1000)
                ORDER BY date_bin(make_interval(secs => $4), ",
                $at,
                ", 'epoch'), ",
                $at,
                " DESC",
                $tiebreak
            )
        };
    }
    macro_rules! merged_binned {
        ($ticks:expr) => {
            concat!(
                $ticks,
                r#"SELECT DISTINCT ON (date_bin(make_interval(secs => $4), "timestamp", 'epoch')) "#,
                merged_columns!(),
                r#" FROM complete
                  ORDER BY date_bin(make_interval(secs => $4), "timestamp", 'epoch'),
                           "timestamp" DESC"#
            )
        };
    }
    let minutes = resolution == Resolution::Minute;
    let sql = match (whose, minutes) {
        (Whose::AllAccounts(_), false) => binned_sql!(
            "portfolio_greeks",
            r#""timestamp""#,
            ", id DESC",
            "account IS NULL AND (bridge = $5 OR bridge IS NULL)"
        ),
        (Whose::AllAccounts(_), true) => binned_sql!(
            "portfolio_greeks_1m",
            "bucket",
            "",
            "account = '' AND bridge IN ($5, '')"
        ),
        (Whose::Account(_), false) => binned_sql!(
            "portfolio_greeks",
            r#""timestamp""#,
            ", id DESC",
            "account = (SELECT a.account FROM accounts a WHERE a.id = $5)"
        ),
        (Whose::Account(_), true) => binned_sql!(
            "portfolio_greeks_1m",
            "bucket",
            "",
            "account = (SELECT a.account FROM accounts a WHERE a.id = $5)"
        ),
        (Whose::AllBridges, false) => merged_binned!(merged_ticks!()),
        (Whose::AllBridges, true) => merged_binned!(merged_ticks!(minutes)),
    };
    let query = sqlx::query_as(sql)
        .bind(contract)
        .bind(from.as_millisecond())
        .bind(to.as_millisecond())
        .bind(bucket.as_secs_f64());
    let query = match whose {
        Whose::AllAccounts(bridge) => query.bind(bridge.as_str()),
        Whose::Account(id) => query.bind(id),
        Whose::AllBridges => query,
    };
    let rows: Vec<PointRow> = query.fetch_all(pool).await?;
    Ok(rows.into_iter().map(GreeksPoint::from).collect())
}

/// The contracts with rows of `whose` since `since`: `PORTFOLIO` first, then the
/// underlyings.
pub async fn contracts_of(
    pool: &PgPool,
    whose: Whose<'_>,
    since: Timestamp,
) -> Result<Vec<String>, sqlx::Error> {
    macro_rules! contracts_sql {
        ($whose:literal) => {
            concat!(
                "SELECT contract FROM portfolio_greeks WHERE ",
                $whose,
                r#" AND "timestamp" >= to_timestamp($1::double precision / 1000)
                  GROUP BY contract
                  ORDER BY contract <> 'PORTFOLIO', contract"#
            )
        };
    }
    match whose {
        Whose::AllAccounts(bridge) => sqlx::query_scalar(contracts_sql!(
            "account IS NULL AND (bridge = $2 OR bridge IS NULL)"
        ))
        .bind(since.as_millisecond())
        .bind(bridge.as_str()),
        Whose::Account(id) => sqlx::query_scalar(contracts_sql!(
            "account = (SELECT a.account FROM accounts a WHERE a.id = $2)"
        ))
        .bind(since.as_millisecond())
        .bind(id),
        Whose::AllBridges => {
            sqlx::query_scalar(contracts_sql!("account IS NULL")).bind(since.as_millisecond())
        }
    }
    .fetch_all(pool)
    .await
}

/// `bridge`'s newest all-accounts row of `PORTFOLIO`, if any.
pub async fn last_portfolio_row(
    pool: &PgPool,
    bridge: &BridgeName,
) -> Result<Option<GreeksPoint>, sqlx::Error> {
    // Without `account IS NULL` the newest row of a tick would be its last account's.
    let row: Option<PointRow> = sqlx::query_as(concat!(
        "SELECT ",
        point_columns!(),
        r#" FROM portfolio_greeks
            WHERE account IS NULL AND contract = 'PORTFOLIO' AND (bridge = $1 OR bridge IS NULL)
            ORDER BY "timestamp" DESC, id DESC LIMIT 1"#
    ))
    .bind(bridge.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(GreeksPoint::from))
}

/// `bridge`'s all-accounts rows of one tick, by contract (`PORTFOLIO` first): the newest tick
/// when `at_or_after` is `None`, else the first tick at or after it.
pub async fn tick_rows(
    pool: &PgPool,
    bridge: &BridgeName,
    at_or_after: Option<Timestamp>,
) -> Result<Vec<(String, GreeksPoint)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        contract: String,
        #[sqlx(flatten)]
        point: PointRow,
    }
    // The tick is found on PORTFOLIO's rows, which every tick writes, through the
    // (account, contract, timestamp) index.
    macro_rules! tick_sql {
        ($pick:literal) => {
            concat!(
                "SELECT contract, ",
                point_columns!(),
                r#" FROM portfolio_greeks
                    WHERE account IS NULL AND (bridge = $1 OR bridge IS NULL)
                      AND "timestamp" = (SELECT "timestamp" FROM portfolio_greeks
                                          WHERE account IS NULL AND contract = 'PORTFOLIO'
                                            AND (bridge = $1 OR bridge IS NULL) "#,
                $pick,
                r#" LIMIT 1)
                    ORDER BY contract <> 'PORTFOLIO', contract"#
            )
        };
    }
    let rows: Vec<Row> = match at_or_after {
        None => sqlx::query_as(tick_sql!(r#"ORDER BY "timestamp" DESC"#)).bind(bridge.as_str()),
        Some(t) => sqlx::query_as(tick_sql!(
            r#"AND "timestamp" >= to_timestamp($2::double precision / 1000)
               ORDER BY "timestamp" ASC"#
        ))
        .bind(bridge.as_str())
        .bind(t.as_millisecond()),
    }
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.contract, GreeksPoint::from(r.point)))
        .collect())
}

/// Each account's newest `PORTFOLIO` row since `since`, by alias (never the code).
pub async fn accounts_now(
    pool: &PgPool,
    since: Timestamp,
) -> Result<Vec<(String, GreeksPoint)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        alias: String,
        #[sqlx(flatten)]
        point: PointRow,
    }
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT DISTINCT ON (a.id) COALESCE(a.alias, 'Account Alias ' || a.id) AS alias, ",
        point_columns!(),
        r#" FROM portfolio_greeks g JOIN accounts a ON a.account = g.account
            WHERE g.contract = 'PORTFOLIO'
              AND g."timestamp" >= to_timestamp($1::double precision / 1000)
            ORDER BY a.id, g."timestamp" DESC"#
    ))
    .bind(since.as_millisecond())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.alias, GreeksPoint::from(r.point)))
        .collect())
}
