//! `positions`: the leg-level view, one row per account and conid, in the existing
//! application's shape plus the bridge's columns (market price and value, PnL, underlying,
//! source, raw payload).
//!
//! Replace semantics per account: a sync writes the account's whole snapshot in one
//! transaction, and a leg the snapshot no longer has is deleted, so the table is the current
//! view. The read API lists it with accounts by alias, never by code.

use jiff::Timestamp;
use serde::Serialize;

use serde_json::value::RawValue;
use sqlx::PgPool;
use sqlx::types::Json;

use super::accounts;
use crate::domain::contract::Contract;
use crate::domain::ids::AccountCode;
use crate::domain::portfolio::{LegValues, RawPayload};

/// One leg of an account's snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionRow {
    pub contract: Contract,
    pub quantity: f64,
    pub values: LegValues,
    /// Shared with the live portfolio, never copied: a sync of thousands of legs would
    /// otherwise duplicate every payload at once.
    pub raw: Option<RawPayload>,
}

/// What [`replace_account`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replaced {
    pub written: usize,
    pub removed: usize,
}

/// IBKR's multiplier string: `1000`, not `1000.0`.
fn multiplier_text(m: f64) -> String {
    if m.fract() == 0.0 {
        format!("{}", m as i64)
    } else {
        format!("{m}")
    }
}

#[derive(Default)]
struct Columns<'a> {
    con_id: Vec<i32>,
    symbol: Vec<String>,
    sec_type: Vec<String>,
    exchange: Vec<Option<String>>,
    primary_exchange: Vec<Option<String>>,
    currency: Vec<Option<String>>,
    local_symbol: Vec<Option<String>>,
    trading_class: Vec<Option<String>>,
    last_trade_date: Vec<Option<String>>,
    strike: Vec<Option<f64>>,
    right: Vec<Option<String>>,
    multiplier: Vec<Option<String>>,
    position: Vec<f64>,
    avg_cost: Vec<f64>,
    market_price: Vec<Option<f64>>,
    market_value: Vec<Option<f64>>,
    unrealized_pnl: Vec<Option<f64>>,
    realized_pnl: Vec<Option<f64>>,
    underlying: Vec<Option<i32>>,
    raw: Vec<Option<Json<&'a RawValue>>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, r: &'a PositionRow) {
        let c = &r.contract;
        self.con_id.push(c.conid.get());
        self.symbol.push(c.symbol.clone());
        self.sec_type.push(c.sec_type.code().to_owned());
        self.exchange.push(c.exchange.clone());
        self.primary_exchange.push(c.primary_exchange.clone());
        self.currency.push(c.currency.clone());
        self.local_symbol.push(c.local_symbol.clone());
        self.trading_class.push(c.trading_class.clone());
        self.last_trade_date
            .push(c.last_trade_date.map(|d| d.strftime("%Y%m%d").to_string()));
        self.strike.push(c.strike);
        self.right.push(c.right.map(|r| r.code().to_owned()));
        self.multiplier.push(c.multiplier.map(multiplier_text));
        self.position.push(r.quantity);
        // The existing application's column is NOT NULL; IBKR reports an average cost with
        // every position, so 0 only stands in for a leg seen before its first report.
        self.avg_cost.push(r.values.avg_cost.unwrap_or(0.0));
        self.market_price.push(r.values.market_price);
        self.market_value.push(r.values.market_value);
        self.unrealized_pnl.push(r.values.unrealized_pnl);
        self.realized_pnl.push(r.values.realized_pnl);
        self.underlying.push(c.underlying_conid.map(|u| u.get()));
        self.raw.push(r.raw.as_ref().map(|raw| Json(raw.json())));
    }
}

/// Replaces `account`'s legs with `rows` in one transaction; `source` (`tws`, `cpapi`) says
/// where they came from.
pub async fn replace_account(
    pool: &PgPool,
    account: &AccountCode,
    rows: &[PositionRow],
    source: &str,
) -> Result<Replaced, sqlx::Error> {
    let mut cols = Columns::default();
    for r in rows {
        cols.push(r);
    }
    let mut tx = pool.begin().await?;
    let account_id = accounts::lock(&mut tx, account, "positions").await?;
    if !rows.is_empty() {
        sqlx::query(
            r#"INSERT INTO positions (account_id, con_id, symbol, sec_type, exchange,
                   primary_exchange, currency, local_symbol, trading_class, last_trade_date,
                   strike, "right", multiplier, position, avg_cost, market_price, market_value,
                   unrealized_pnl, realized_pnl, underlying_con_id, raw, source, fetched_at,
                   updated_at)
               SELECT $1, u.*, $22, now(), now()
                 FROM UNNEST($2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                             $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[],
                             $12::text[], $13::text[], $14::float8[], $15::float8[],
                             $16::float8[], $17::float8[], $18::float8[], $19::float8[],
                             $20::int[], $21::jsonb[]) AS u
               ON CONFLICT (account_id, con_id) DO UPDATE SET
                   symbol = EXCLUDED.symbol, sec_type = EXCLUDED.sec_type,
                   exchange = EXCLUDED.exchange, primary_exchange = EXCLUDED.primary_exchange,
                   currency = EXCLUDED.currency, local_symbol = EXCLUDED.local_symbol,
                   trading_class = EXCLUDED.trading_class,
                   last_trade_date = EXCLUDED.last_trade_date, strike = EXCLUDED.strike,
                   "right" = EXCLUDED."right", multiplier = EXCLUDED.multiplier,
                   position = EXCLUDED.position, avg_cost = EXCLUDED.avg_cost,
                   market_price = EXCLUDED.market_price, market_value = EXCLUDED.market_value,
                   unrealized_pnl = EXCLUDED.unrealized_pnl,
                   realized_pnl = EXCLUDED.realized_pnl,
                   underlying_con_id = EXCLUDED.underlying_con_id, raw = EXCLUDED.raw,
                   source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at,
                   updated_at = EXCLUDED.updated_at"#,
        )
        .bind(account_id)
        .bind(&cols.con_id)
        .bind(&cols.symbol)
        .bind(&cols.sec_type)
        .bind(&cols.exchange)
        .bind(&cols.primary_exchange)
        .bind(&cols.currency)
        .bind(&cols.local_symbol)
        .bind(&cols.trading_class)
        .bind(&cols.last_trade_date)
        .bind(&cols.strike)
        .bind(&cols.right)
        .bind(&cols.multiplier)
        .bind(&cols.position)
        .bind(&cols.avg_cost)
        .bind(&cols.market_price)
        .bind(&cols.market_value)
        .bind(&cols.unrealized_pnl)
        .bind(&cols.realized_pnl)
        .bind(&cols.underlying)
        .bind(&cols.raw)
        .bind(source)
        .execute(&mut *tx)
        .await?;
    }
    let removed = sqlx::query("DELETE FROM positions WHERE account_id = $1 AND con_id <> ALL($2)")
        .bind(account_id)
        .bind(&cols.con_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(Replaced {
        written: rows.len(),
        removed: removed as usize,
    })
}

/// Which positions the read API wants.
#[derive(Debug, Clone, Default)]
pub struct PositionFilter {
    pub account_id: Option<i32>,
    /// Only this symbol (any case).
    pub symbol: Option<String>,
    pub limit: i64,
}

/// A row as `GET /api/v1/positions` returns it: the existing application's fields in its
/// order (the account by alias, never its code), then the bridge's.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PositionView {
    pub id: i32,
    pub account_alias: String,
    pub con_id: i32,
    pub symbol: Option<String>,
    pub sec_type: Option<String>,
    pub exchange: Option<String>,
    pub primary_exchange: Option<String>,
    pub currency: Option<String>,
    pub local_symbol: Option<String>,
    pub trading_class: Option<String>,
    pub last_trade_date: Option<String>,
    pub strike: Option<f64>,
    pub right: Option<String>,
    pub multiplier: Option<String>,
    pub position: f64,
    pub avg_cost: f64,
    pub fetched_at: Timestamp,
    pub account_id: i32,
    pub market_price: Option<f64>,
    pub market_value: Option<f64>,
    pub unrealized_pnl: Option<f64>,
    pub realized_pnl: Option<f64>,
    pub underlying_con_id: Option<i32>,
    pub source: Option<String>,
}

impl PositionView {
    /// Units of the underlying per contract: the stored multiplier, 1 for a stock (IBKR leaves
    /// a stock's empty).
    pub fn units_per_contract(&self) -> Option<f64> {
        match self
            .multiplier
            .as_deref()
            .and_then(|m| m.trim().parse::<f64>().ok())
        {
            Some(m) if m > 0.0 => Some(m),
            _ if self
                .sec_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("STK")) =>
            {
                Some(1.0)
            }
            _ => None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PositionColumns {
    id: i32,
    account_alias: String,
    con_id: i32,
    symbol: Option<String>,
    sec_type: Option<String>,
    exchange: Option<String>,
    primary_exchange: Option<String>,
    currency: Option<String>,
    local_symbol: Option<String>,
    trading_class: Option<String>,
    last_trade_date: Option<String>,
    strike: Option<f64>,
    right: Option<String>,
    multiplier: Option<String>,
    position: f64,
    avg_cost: f64,
    fetched_ms: i64,
    account_id: i32,
    market_price: Option<f64>,
    market_value: Option<f64>,
    unrealized_pnl: Option<f64>,
    realized_pnl: Option<f64>,
    underlying_con_id: Option<i32>,
    source: Option<String>,
}

/// The positions `filter` selects, by account, symbol and expiry.
pub async fn list(
    pool: &PgPool,
    filter: &PositionFilter,
) -> Result<Vec<PositionView>, sqlx::Error> {
    let rows: Vec<PositionColumns> = sqlx::query_as(
        r#"SELECT p.id, COALESCE(a.alias, 'Account Alias ' || a.id) AS account_alias, p.con_id,
                  p.symbol, p.sec_type, p.exchange, p.primary_exchange, p.currency,
                  p.local_symbol, p.trading_class, p.last_trade_date, p.strike, p."right",
                  p.multiplier, p.position, p.avg_cost,
                  (extract(epoch FROM p.fetched_at) * 1000)::bigint AS fetched_ms,
                  p.account_id, p.market_price, p.market_value, p.unrealized_pnl,
                  p.realized_pnl, p.underlying_con_id, p.source
             FROM positions p JOIN accounts a ON a.id = p.account_id
            WHERE ($1::int IS NULL OR p.account_id = $1)
              AND ($2::text IS NULL OR upper(p.symbol) = upper($2))
            ORDER BY p.account_id, p.symbol, p.last_trade_date NULLS LAST, p.strike NULLS FIRST,
                     p.con_id
            LIMIT $3"#,
    )
    .bind(filter.account_id)
    .bind(filter.symbol.as_deref())
    .bind(filter.limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PositionView {
            id: r.id,
            account_alias: r.account_alias,
            con_id: r.con_id,
            symbol: r.symbol,
            sec_type: r.sec_type,
            exchange: r.exchange,
            primary_exchange: r.primary_exchange,
            currency: r.currency,
            local_symbol: r.local_symbol,
            trading_class: r.trading_class,
            last_trade_date: r.last_trade_date,
            strike: r.strike,
            right: r.right,
            multiplier: r.multiplier,
            position: r.position,
            avg_cost: r.avg_cost,
            fetched_at: Timestamp::from_millisecond(r.fetched_ms).unwrap_or(Timestamp::UNIX_EPOCH),
            account_id: r.account_id,
            market_price: r.market_price,
            market_value: r.market_value,
            unrealized_pnl: r.unrealized_pnl,
            realized_pnl: r.realized_pnl,
            underlying_con_id: r.underlying_con_id,
            source: r.source,
        })
        .collect())
}
