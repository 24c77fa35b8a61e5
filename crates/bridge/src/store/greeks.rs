//! `portfolio_greeks` and `api_logs` as the greeks writer fills them: batches of records in one
//! transaction, each stored at most once thanks to its key. And the series as the read API and
//! the page read it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::greeks::record::Record;

/// Stores `records` in one transaction, in order; a record whose key is already stored is
/// skipped.
pub async fn insert_records(pool: &PgPool, records: &[Record]) -> Result<(), sqlx::Error> {
    let mut g = GreeksColumns::default();
    let mut l = LogColumns::default();
    for r in records {
        match r {
            Record::Greeks {
                key,
                at_ms,
                contract,
                delta,
                gamma,
                vega,
                theta,
                underlying_price,
            } => {
                g.keys.push(key.clone());
                g.at.push(*at_ms);
                g.contract.push(contract.clone());
                g.delta.push(*delta);
                g.gamma.push(*gamma);
                g.vega.push(*vega);
                g.theta.push(*theta);
                g.underlying.push(*underlying_price);
            }
            Record::ApiLog {
                key,
                at_ms,
                api_mode,
                status,
                message,
            } => {
                l.keys.push(key.clone());
                l.at.push(*at_ms);
                l.mode.push(api_mode.clone());
                l.status.push(status.clone());
                l.message.push(message.clone());
            }
        }
    }
    let mut tx = pool.begin().await?;
    if !g.keys.is_empty() {
        sqlx::query(
            r#"INSERT INTO portfolio_greeks ("timestamp", contract, delta, gamma, vega, theta, underlying_price, row_key)
               SELECT to_timestamp(t::double precision / 1000), c, d, g, v, th, u, k
                 FROM UNNEST($1::bigint[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
                             $7::float8[], $8::text[]) WITH ORDINALITY AS x(t, c, d, g, v, th, u, k, n)
                ORDER BY n
               ON CONFLICT (row_key) DO NOTHING"#,
        )
        .bind(&g.at)
        .bind(&g.contract)
        .bind(&g.delta)
        .bind(&g.gamma)
        .bind(&g.vega)
        .bind(&g.theta)
        .bind(&g.underlying)
        .bind(&g.keys)
        .execute(&mut *tx)
        .await?;
    }
    if !l.keys.is_empty() {
        sqlx::query(
            r#"INSERT INTO api_logs ("timestamp", api_mode, status, message, row_key)
               SELECT to_timestamp(t::double precision / 1000), m, s, msg, k
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
                      WITH ORDINALITY AS x(t, m, s, msg, k, n)
                ORDER BY n
               ON CONFLICT (row_key) DO NOTHING"#,
        )
        .bind(&l.at)
        .bind(&l.mode)
        .bind(&l.status)
        .bind(&l.message)
        .bind(&l.keys)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[derive(Default)]
struct GreeksColumns {
    keys: Vec<String>,
    at: Vec<i64>,
    contract: Vec<String>,
    delta: Vec<f64>,
    gamma: Vec<f64>,
    vega: Vec<f64>,
    theta: Vec<f64>,
    underlying: Vec<Option<f64>>,
}

#[derive(Default)]
struct LogColumns {
    keys: Vec<String>,
    at: Vec<i64>,
    mode: Vec<String>,
    status: Vec<String>,
    message: Vec<String>,
}

/// One point of a contract's series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GreeksPoint {
    pub timestamp: Timestamp,
    pub delta: Option<f64>,
    pub gamma: Option<f64>,
    pub vega: Option<f64>,
    pub theta: Option<f64>,
    pub underlying_price: Option<f64>,
}

type PointColumns = (
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn point(r: PointColumns) -> GreeksPoint {
    GreeksPoint {
        timestamp: Timestamp::from_millisecond(r.0).unwrap_or(Timestamp::UNIX_EPOCH),
        delta: r.1,
        gamma: r.2,
        vega: r.3,
        theta: r.4,
        underlying_price: r.5,
    }
}

/// The newest `limit` points of `contract` between `from` and `to`, oldest first.
pub async fn series(
    pool: &PgPool,
    contract: &str,
    from: Timestamp,
    to: Timestamp,
    limit: i64,
) -> Result<Vec<GreeksPoint>, sqlx::Error> {
    let mut rows: Vec<PointColumns> = sqlx::query_as(
        r#"SELECT (extract(epoch FROM "timestamp") * 1000)::bigint, delta, gamma, vega, theta,
                  underlying_price
             FROM portfolio_greeks
            WHERE contract = $1
              AND "timestamp" >= to_timestamp($2::double precision / 1000)
              AND "timestamp" <= to_timestamp($3::double precision / 1000)
            ORDER BY "timestamp" DESC, id DESC
            LIMIT $4"#,
    )
    .bind(contract)
    .bind(from.as_millisecond())
    .bind(to.as_millisecond())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.reverse();
    Ok(rows.into_iter().map(point).collect())
}

/// The contracts with rows since `since`: `PORTFOLIO` first, then the underlyings.
pub async fn contracts(pool: &PgPool, since: Timestamp) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        r#"SELECT contract FROM portfolio_greeks
            WHERE "timestamp" >= to_timestamp($1::double precision / 1000)
            GROUP BY contract
            ORDER BY contract <> 'PORTFOLIO', contract"#,
    )
    .bind(since.as_millisecond())
    .fetch_all(pool)
    .await
}

/// The newest row of `PORTFOLIO`, if any.
pub async fn last_portfolio_row(pool: &PgPool) -> Result<Option<GreeksPoint>, sqlx::Error> {
    let row: Option<PointColumns> = sqlx::query_as(
        r#"SELECT (extract(epoch FROM "timestamp") * 1000)::bigint, delta, gamma, vega, theta,
                  underlying_price
             FROM portfolio_greeks WHERE contract = 'PORTFOLIO'
            ORDER BY "timestamp" DESC, id DESC LIMIT 1"#,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(point))
}
