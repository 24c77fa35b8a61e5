//! The JSON API under `/api/v1`, plus `/healthz`, `/metrics` and `/api/openapi.json`.
//!
//! Every handler is registered through [`router`], which serves it and documents it from its
//! `#[utoipa::path]`, its parameter structs and its response types at once: a route is in the
//! OpenAPI document exactly when it is served, described by the types that parse and answer
//! it. Handlers read through the store (or the in-memory state, for the status); errors are
//! [`ApiError`]s. Accounts appear by alias, never by their IBKR code.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::params::{Id, Instant, JsonBody, Limit, PathParams, Query, Text};
use super::status::{self, StatusView};
use super::{AppState, metrics, openapi};
use crate::domain::ids::{BridgeName, ConId};
use crate::domain::spreads::{self, LegQuantity};
use crate::jobs::{COMBO_POSITIONS_SYNC, JOB_TYPES};
use crate::store;
use crate::store::accounts::AccountView;
use crate::store::combos::{SpreadFilter, SpreadLeg, SpreadRow};
use crate::store::greeks::{GreeksPoint, Resolution, Whose};
use crate::store::jobs::{Dedup, Enqueued, JobRow, NewJob};
use crate::store::positions::{PositionFilter, PositionView};

/// Every API route, served and documented.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(prometheus))
        .routes(routes!(openapi_document))
        .routes(routes!(list_spreads))
        .routes(routes!(unmatched_legs))
        .routes(routes!(one_spread))
        .routes(routes!(list_positions))
        .routes(routes!(list_accounts))
        .routes(routes!(patch_account))
        .routes(routes!(greeks_series))
        .routes(routes!(status_now))
        .routes(routes!(list_jobs, enqueue_job))
        .routes(routes!(one_job))
}

/// What `/healthz` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    security(()),
    responses((status = 200, description = "Alive", body = Health))
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
async fn prometheus(State(state): State<AppState>) -> Response {
    // Scrapes go on when PostgreSQL does not answer; the job counts are left out then.
    let counts = store::jobs::counts(&state.pool);
    let jobs = tokio::time::timeout(super::STATUS_DB_BOUND, counts)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&state, &jobs),
    )
        .into_response()
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value))
)]
async fn openapi_document(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::served(state.auth.required()),
    )
        .into_response()
}

// ---- spreads ---------------------------------------------------------------------------

/// A spread: a native combo with its legs, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Spread {
    #[serde(flatten)]
    pub combo: SpreadRow,
    pub symbol: Option<String>,
    /// The name a trader gives it, from its legs: `CL Jan27/Feb27` (months front first;
    /// options add strike and right). IBKR's `name` when the legs do not make one.
    pub label: String,
    /// The same by month codes: `CL F7/G7`; null when the legs do not make a name.
    pub label_codes: Option<String>,
    /// `-1 CLH7 / +1 CLM7`, nearest expiry first.
    pub legs_text: String,
    /// The spread's price per unit of the underlying now (`$/bbl` for CL): Σ ratio × leg
    /// price: the live prices when the feed has a fresh one for every leg, else the last
    /// synced ones (never a mix); null if a leg has no ratio or no price.
    pub price: Option<f64>,
    /// `price - avg_price`, per unit: what the spread moved since it was put on.
    pub price_change: Option<f64>,
    /// The front leg's last trade date (`YYYY-MM-DD`): a future held past it goes to delivery.
    pub front_last_trade_date: Option<String>,
    /// Business days after today up to and including the front leg's last trade date (0 on
    /// the day, negative after); weekends excluded, exchange holidays not known.
    pub business_days_left: Option<i32>,
    /// Whether `business_days_left` is within the warning (`ALERT_EXPIRY_BUSINESS_DAYS`).
    pub expiring_soon: bool,
    /// The spread's greeks: the sum of its legs' shares (this combo's quantity × multiplier ×
    /// the leg's greeks; a future's delta is 1 per unit). Null unless every leg has them.
    pub greeks: Option<SpreadGreeks>,
    /// When the combo sync last confirmed it (the later of that and `fetched_at`).
    pub last_synced_at: Timestamp,
}

/// How many spreads a name search looks through.
const SEARCH_CANDIDATES: i64 = 10_000;

impl Spread {
    /// Whether `query` is in its label, codes, IBKR's name or legs, any case.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.to_lowercase();
        [
            Some(self.label.as_str()),
            self.label_codes.as_deref(),
            self.combo.name.as_deref(),
            Some(self.legs_text.as_str()),
        ]
        .into_iter()
        .flatten()
        .any(|t| t.to_lowercase().contains(&q))
    }
}

/// A spread's greeks, in the units of `portfolio_greeks`' columns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct SpreadGreeks {
    /// Units of the underlying (barrels for CL).
    pub delta: f64,
    /// Change of `delta` per unit move of the underlying.
    pub gamma: f64,
    /// Dollars per volatility point.
    pub vega: f64,
    /// Dollars per day.
    pub theta: f64,
}

/// What a spread's view needs beyond its rows: the exchange's date, the warning, and the
/// live feed's prices and greeks.
pub struct SpreadContext<'a> {
    pub today: jiff::civil::Date,
    pub warn_days: i32,
    pub portfolio: &'a crate::domain::portfolio::Portfolio,
    pub now: Timestamp,
    pub max_age: std::time::Duration,
}

/// A last trade date as the positions table holds it (`20261222`, or `2026-12-22`).
fn trade_date(s: &str) -> Option<jiff::civil::Date> {
    jiff::civil::Date::strptime("%Y%m%d", s)
        .or_else(|_| s.parse())
        .ok()
}

/// The leg's greeks share: `None` unless the feed has its contract (and an option's greeks).
fn leg_greeks(leg: &SpreadLeg, cx: &SpreadContext<'_>) -> Option<SpreadGreeks> {
    let conid = ConId::new(i64::from(leg.con_id))?;
    let contract = cx.portfolio.contract(conid)?;
    let units = leg.position? * contract.effective_multiplier()?;
    if !contract.sec_type.is_option() {
        return Some(SpreadGreeks {
            delta: units,
            gamma: 0.0,
            vega: 0.0,
            theta: 0.0,
        });
    }
    let g = cx.portfolio.greeks(conid, cx.now, cx.max_age).ok()?.value;
    Some(SpreadGreeks {
        delta: units * g.delta?,
        gamma: units * g.gamma?,
        vega: units * g.vega?,
        theta: units * g.theta?,
    })
}

/// A leg's short name: its local symbol (`CLH7`), else IBKR's description, else its conid.
pub fn leg_name(leg: &SpreadLeg) -> String {
    leg.local_symbol
        .clone()
        .or_else(|| leg.description.clone())
        .unwrap_or_else(|| leg.con_id.to_string())
}

pub fn spread(combo: SpreadRow, synced_at: Option<Timestamp>, cx: &SpreadContext<'_>) -> Spread {
    let names: Vec<(f64, String)> = combo
        .legs
        .iter()
        .map(|l| (l.ratio.unwrap_or(0.0), leg_name(l)))
        .collect();
    let legs_text = spreads::legs_text(names.iter().map(|(r, n)| (*r, n.as_str())));
    let last_synced_at = match synced_at {
        Some(s) if s > combo.fetched_at && !combo.stale => s,
        _ => combo.fetched_at,
    };
    let dates: Vec<Option<jiff::civil::Date>> = combo
        .legs
        .iter()
        .map(|l| l.last_trade_date.as_deref().and_then(trade_date))
        .collect();
    let label_legs: Vec<spreads::LabelLeg<'_>> = combo
        .legs
        .iter()
        .zip(&dates)
        .map(|(l, date)| spreads::LabelLeg {
            ratio: l.ratio.unwrap_or(0.0),
            symbol: l.symbol.as_deref(),
            local_symbol: l.local_symbol.as_deref(),
            description: l.description.as_deref(),
            sec_type: l.sec_type.as_deref(),
            last_trade_date: *date,
            strike: l.strike,
            right: l.right.as_deref(),
        })
        .collect();
    let label = spreads::label(&label_legs);
    let live = |l: &SpreadLeg| {
        let conid = ConId::new(i64::from(l.con_id))?;
        cx.portfolio
            .price(conid, cx.now, cx.max_age)
            .ok()
            .map(|o| o.value)
    };
    // One source for every leg: a calendar is a small difference of large prices, so a fresh
    // price beside one from the last sync would make a spread that never traded. A leg
    // without a ratio makes no price.
    let priced = |price: &dyn Fn(&SpreadLeg) -> Option<f64>| {
        spreads::price(combo.legs.iter().map(|l| (l.ratio, price(l))))
    };
    let price = priced(&live).or_else(|| priced(&|l: &SpreadLeg| l.market_price));
    let front = dates.iter().flatten().min().copied();
    let business_days_left =
        front.map(|d| crate::domain::expiry::business_days_between(cx.today, d, &[]));
    let greeks = combo
        .legs
        .iter()
        .map(|l| leg_greeks(l, cx))
        .try_fold(None::<SpreadGreeks>, |sum, g| {
            let g = g?;
            Some(Some(match sum {
                None => g,
                Some(s) => SpreadGreeks {
                    delta: s.delta + g.delta,
                    gamma: s.gamma + g.gamma,
                    vega: s.vega + g.vega,
                    theta: s.theta + g.theta,
                },
            }))
        })
        .flatten();
    Spread {
        symbol: combo.legs.iter().find_map(|l| l.symbol.clone()),
        label: match &label {
            Some(l) => l.long.clone(),
            None => combo.name.clone().unwrap_or_else(|| legs_text.clone()),
        },
        label_codes: label.map(|l| l.codes),
        legs_text,
        price,
        price_change: price.zip(combo.avg_price).map(|(p, a)| p - a),
        front_last_trade_date: front.map(|d| d.to_string()),
        business_days_left,
        expiring_soon: business_days_left.is_some_and(|d| d <= cx.warn_days),
        greeks,
        last_synced_at,
        combo,
    }
}

/// A list of spreads, and the same as the API's JSON, made once per cached answer.
pub struct SpreadList {
    pub spreads: Vec<Spread>,
    pub json: axum::body::Bytes,
}

/// The spreads `filter` selects, each with its sync time; the same answer for a second
/// (`cache`).
pub async fn spread_list(
    state: &AppState,
    filter: &SpreadFilter,
) -> Result<std::sync::Arc<SpreadList>, ApiError> {
    state
        .spreads
        .get_or_load(filter, || async {
            let synced = store::jobs::last_completed(&state.pool, COMBO_POSITIONS_SYNC).await?;
            // A name search is matched on the labels made here: every candidate is read.
            let read = match filter.search {
                Some(_) => SpreadFilter {
                    limit: SEARCH_CANDIDATES,
                    ..filter.clone()
                },
                None => filter.clone(),
            };
            let rows = store::combos::spreads(&state.pool, &read).await?;
            let now = Timestamp::now();
            let settings = &state.settings;
            let spreads: Vec<Spread> = state.live.portfolio.read(|portfolio| {
                let cx = SpreadContext {
                    today: crate::domain::expiry::exchange_date(settings.clock.now()),
                    warn_days: settings.expiry_warning_days,
                    portfolio,
                    now,
                    max_age: settings.greeks_max_age,
                };
                rows.into_iter()
                    .map(|row| spread(row, synced, &cx))
                    .filter(|s| filter.search.as_deref().is_none_or(|q| s.matches(q)))
                    .take(usize::try_from(filter.limit).unwrap_or(usize::MAX))
                    .collect()
            });
            let json = serde_json::to_vec(&spreads)
                .map_err(|e| ApiError::Internal(format!("serialising spreads: {e}")))?;
            Ok::<_, ApiError>(SpreadList {
                spreads,
                json: json.into(),
            })
        })
        .await
}

/// The spreads `filter` selects, as values.
pub async fn load_spreads(
    state: &AppState,
    filter: &SpreadFilter,
) -> Result<Vec<Spread>, ApiError> {
    Ok(spread_list(state, filter).await?.spreads.clone())
}

/// The symbol filter when none is given.
pub const DEFAULT_SYMBOL: &str = "CL";

/// `symbol`: [`DEFAULT_SYMBOL`] unless given; `*` for every symbol.
pub fn symbol_filter(symbol: Option<&Text>) -> Option<String> {
    match symbol.map(Text::as_str) {
        None => Some(DEFAULT_SYMBOL.into()),
        Some("*") => None,
        Some(s) => Some(s.to_uppercase()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpreadsQuery {
    /// Only this account (`accounts.id`).
    #[param(inline)]
    pub account_id: Option<Id>,
    /// Spreads with a leg of this underlying, any case; `*` for every symbol.
    #[param(inline, default = json!(DEFAULT_SYMBOL))]
    pub symbol: Option<Text>,
    /// How many at most.
    #[param(inline)]
    pub limit: Option<Limit<100, 1000>>,
    /// Also the combos the gateway no longer reports.
    #[param(default = false)]
    pub include_stale: Option<bool>,
    /// Spreads whose name contains this, any case: the trader's label (`Jan27/Feb27`), its
    /// codes (`F7/G7`), IBKR's name or the legs.
    #[param(inline)]
    pub search: Option<Text>,
}

/// Native combo spreads with their legs.
#[utoipa::path(
    get,
    path = "/api/v1/spreads",
    params(SpreadsQuery),
    responses(
        (status = 200, description = "Spreads, by account then id", body = Vec<Spread>),
        (status = 400, description = "A parameter is wrong; `error.parameter` names it", body = ErrorBody),
    )
)]
async fn list_spreads(
    State(state): State<AppState>,
    Query(q): Query<SpreadsQuery>,
) -> Result<Response, ApiError> {
    let filter = SpreadFilter {
        id: None,
        account_id: q.account_id.map(Id::get),
        symbol: symbol_filter(q.symbol.as_ref()),
        include_stale: q.include_stale.unwrap_or(false),
        limit: Limit::or_default(q.limit),
        search: q.search.map(|t| t.as_str().to_owned()),
    };
    let list = spread_list(&state, &filter).await?;
    // The JSON made when the answer was cached: busy clients cost a copy, not a serialisation.
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        list.json.clone(),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SpreadPath {
    /// The spread's id.
    #[param(inline)]
    pub spread_id: Id,
}

/// One spread, stale or not.
#[utoipa::path(
    get,
    path = "/api/v1/spreads/{spread_id}",
    params(SpreadPath),
    responses(
        (status = 200, description = "The spread", body = Spread),
        (status = 400, description = "The id is not one", body = ErrorBody),
        (status = 404, description = "No such spread", body = ErrorBody),
    )
)]
async fn one_spread(
    State(state): State<AppState>,
    PathParams(path): PathParams<SpreadPath>,
) -> Result<Json<Spread>, ApiError> {
    let id = path.spread_id.get();
    let filter = SpreadFilter {
        id: Some(id),
        include_stale: true,
        limit: 1,
        ..SpreadFilter::default()
    };
    load_spreads(&state, &filter)
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("spread {id}")))
}

/// Leg quantity no current combo of the same account explains.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UnmatchedLeg {
    pub account_id: i32,
    pub account: String,
    pub con_id: i32,
    pub symbol: Option<String>,
    pub local_symbol: Option<String>,
    pub sec_type: Option<String>,
    pub last_trade_date: Option<String>,
    pub strike: Option<f64>,
    pub right: Option<String>,
    /// The unexplained quantity: `held - in_combos`.
    pub position: f64,
    /// The account's whole position in the contract.
    pub held: f64,
    /// The part its current combos hold.
    pub in_combos: f64,
    /// IBKR's average cost: per contract, multiplier included.
    pub avg_cost: f64,
    /// The average price per unit (`avg_cost / multiplier`), comparable with market prices.
    pub avg_price: Option<f64>,
    pub market_price: Option<f64>,
    /// The unrealized PnL of the unexplained quantity: the position's less what IBKR gives
    /// its combos' shares, so that combos and remainder add up to the position's PnL.
    pub unrealized_pnl: Option<f64>,
    /// Why `unrealized_pnl` cannot be told, when it is null.
    pub unreconciled: Option<String>,
    pub fetched_at: Timestamp,
}

pub async fn load_unmatched(
    state: &AppState,
    account_id: Option<i32>,
    symbol: Option<String>,
    limit: i64,
) -> Result<Vec<UnmatchedLeg>, ApiError> {
    let filter = PositionFilter {
        account_id,
        symbol,
        limit: 100_000,
    };
    let positions = store::positions::list(&state.pool, &filter).await?;
    let held: Vec<LegQuantity> = positions
        .iter()
        .filter_map(|p| {
            Some(LegQuantity {
                account_id: p.account_id,
                conid: ConId::new(i64::from(p.con_id))?,
                quantity: p.position,
                unrealized_pnl: p.unrealized_pnl,
            })
        })
        .collect();
    let in_combos = store::combos::current_leg_quantities(&state.pool).await?;
    let by_key: BTreeMap<(i32, i32), &PositionView> = positions
        .iter()
        .map(|p| ((p.account_id, p.con_id), p))
        .collect();
    Ok(spreads::unmatched(&held, &in_combos)
        .into_iter()
        .filter_map(|u| {
            let p = by_key.get(&(u.account_id, u.conid.get()))?;
            Some(UnmatchedLeg {
                account_id: u.account_id,
                account: p.account_alias.clone(),
                con_id: p.con_id,
                symbol: p.symbol.clone(),
                local_symbol: p.local_symbol.clone(),
                sec_type: p.sec_type.clone(),
                last_trade_date: p.last_trade_date.clone(),
                strike: p.strike,
                right: p.right.clone(),
                position: u.remainder,
                held: u.held,
                in_combos: u.in_combos,
                avg_cost: p.avg_cost,
                avg_price: p.units_per_contract().map(|m| p.avg_cost / m),
                market_price: p.market_price,
                unrealized_pnl: u.remainder_pnl.ok(),
                unreconciled: u.remainder_pnl.err().map(|why| why.describe().to_owned()),
                fetched_at: p.fetched_at,
            })
        })
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnmatchedQuery {
    /// Only this account (`accounts.id`).
    #[param(inline)]
    pub account_id: Option<Id>,
    /// Legs of this underlying, any case; `*` for every symbol.
    #[param(inline, default = json!(DEFAULT_SYMBOL))]
    pub symbol: Option<Text>,
    /// How many at most.
    #[param(inline)]
    pub limit: Option<Limit<100, 1000>>,
}

/// Leg quantity no current native combo of the same account explains.
#[utoipa::path(
    get,
    path = "/api/v1/spreads/unmatched-legs",
    params(UnmatchedQuery),
    responses(
        (status = 200, description = "Unmatched legs", body = Vec<UnmatchedLeg>),
        (status = 400, description = "A parameter is wrong; `error.parameter` names it", body = ErrorBody),
    )
)]
async fn unmatched_legs(
    State(state): State<AppState>,
    Query(q): Query<UnmatchedQuery>,
) -> Result<Json<Vec<UnmatchedLeg>>, ApiError> {
    let legs = load_unmatched(
        &state,
        q.account_id.map(Id::get),
        symbol_filter(q.symbol.as_ref()),
        Limit::or_default(q.limit),
    )
    .await?;
    Ok(Json(legs))
}

// ---- positions and accounts ------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PositionsQuery {
    /// Only this account (`accounts.id`).
    #[param(inline)]
    pub account_id: Option<Id>,
    /// Only this symbol, any case.
    #[param(inline)]
    pub symbol: Option<Text>,
    /// How many at most.
    #[param(inline)]
    pub limit: Option<Limit<1000, 10000>>,
}

/// Leg positions, in the existing application's shape.
#[utoipa::path(
    get,
    path = "/api/v1/positions",
    params(PositionsQuery),
    responses(
        (status = 200, description = "Positions", body = Vec<PositionView>),
        (status = 400, description = "A parameter is wrong; `error.parameter` names it", body = ErrorBody),
    )
)]
async fn list_positions(
    State(state): State<AppState>,
    Query(q): Query<PositionsQuery>,
) -> Result<Json<Vec<PositionView>>, ApiError> {
    let filter = PositionFilter {
        account_id: q.account_id.map(Id::get),
        symbol: q.symbol.map(|s| s.as_str().to_owned()),
        limit: Limit::or_default(q.limit),
    };
    Ok(Json(store::positions::list(&state.pool, &filter).await?))
}

/// Accounts, by alias.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    responses((status = 200, description = "Accounts", body = Vec<AccountView>))
)]
async fn list_accounts(State(state): State<AppState>) -> Result<Json<Vec<AccountView>>, ApiError> {
    Ok(Json(store::accounts::list(&state.pool).await?))
}

/// Most characters an alias holds.
pub const ALIAS_MAX_CHARS: usize = 64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasChange {
    /// The new alias; `null`, or only spaces, clears it. Leading and trailing spaces are
    /// dropped.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(
        required = true,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub alias: Option<String>,
}

/// An alias: at most [`ALIAS_MAX_CHARS`] printable characters, trimmed; empty means none.
pub fn parse_alias(alias: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(alias) = alias else {
        return Ok(None);
    };
    if alias.chars().count() > ALIAS_MAX_CHARS || alias.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "alias",
            format!("at most {ALIAS_MAX_CHARS} printable characters, or null to clear it"),
        ));
    }
    let alias = alias.trim();
    Ok((!alias.is_empty()).then(|| alias.to_owned()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountPath {
    /// The account's id.
    #[param(inline)]
    pub account_id: Id,
}

/// Set or clear an account's alias.
#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}",
    params(AccountPath),
    request_body = AliasChange,
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 400, description = "The id or the body is wrong; `error.parameter` names it", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
async fn patch_account(
    State(state): State<AppState>,
    PathParams(path): PathParams<AccountPath>,
    JsonBody(change): JsonBody<AliasChange>,
) -> Result<Json<AccountView>, ApiError> {
    let id = path.account_id.get();
    let alias = parse_alias(change.alias.as_deref())?;
    let changed = store::accounts::set_alias(&state.pool, id, alias.as_deref()).await?;
    // Spreads show the alias: read them afresh.
    state.spreads.clear();
    changed
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("account {id}")))
}

// ---- greeks ----------------------------------------------------------------------------

/// One series of net greeks. Units, per point: `delta` in units of the underlying, `gamma` in
/// those units per one-unit move, `vega` in dollars per volatility point, `theta` in dollars
/// per day, `delta_dollars` and `gamma_dollars` (per 1 % move) in dollars. The `PORTFOLIO`
/// series' `delta` and `gamma` add different underlyings together and mean nothing when there
/// are several: its dollar figures are the ones to read.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GreeksSeries {
    pub contract: String,
    /// The bridge whose all-accounts series this is (`BRIDGE_NAME`; rows stored before
    /// bridges had names belong to every bridge's); empty for every bridge together.
    pub bridge: String,
    /// The account (`accounts.id`) whose series this is; `null` for every account together.
    pub account_id: Option<i32>,
    /// That account's alias, or `Account Alias {id}` without one; `null` for every account
    /// together.
    pub account: Option<String>,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Which rows the points are: one per tick, or one per minute.
    pub resolution: Resolution,
    /// Oldest first; empty when `from` is after `to`.
    pub points: Vec<GreeksPoint>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GreeksQuery {
    /// `PORTFOLIO` or an underlying's symbol.
    #[param(inline, default = json!(PORTFOLIO))]
    pub contract: Option<Text>,
    /// Only this account's series (`accounts.id`); without it, every account together.
    #[param(inline)]
    pub account_id: Option<Id>,
    /// Whose all-accounts series, when several bridges share the database: a `BRIDGE_NAME`;
    /// default the bridge serving this API.
    #[param(inline)]
    pub bridge: Option<BridgeName>,
    /// Every bridge's accounts together: at each tick the sum of the bridges' all-accounts
    /// rows, and no point at a tick where a bridge that wrote before and after it has none.
    /// `bridge` is then not used; `account_id` takes precedence (an account's series is its
    /// own, whichever bridge wrote it).
    #[param(inline, default = false)]
    pub all_bridges: Option<bool>,
    /// Start; default an hour before `to`. A `from` after `to` is an empty range.
    #[param(inline)]
    pub from: Option<Instant>,
    /// End; default now.
    #[param(inline)]
    pub to: Option<Instant>,
    /// How many points at most: the newest in the range.
    #[param(inline)]
    pub limit: Option<Limit<2000, 20000>>,
    /// `raw`: one point per tick (kept for `GREEKS_RAW_RETENTION_DAYS`); `1m`: one per minute
    /// (the minute's last tick, kept for good). Default: `1m` for a range longer than a day,
    /// else `raw`.
    #[param(inline)]
    pub resolution: Option<Resolution>,
}

/// The series of the whole portfolio.
pub const PORTFOLIO: &str = "PORTFOLIO";

/// The net-greeks series of the portfolio or an underlying, of every account together or of
/// one account.
#[utoipa::path(
    get,
    path = "/api/v1/greeks",
    params(GreeksQuery),
    responses(
        (status = 200, description = "The newest points in the range, oldest first", body = GreeksSeries),
        (status = 400, description = "A parameter is wrong; `error.parameter` names it", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
async fn greeks_series(
    State(state): State<AppState>,
    Query(q): Query<GreeksQuery>,
) -> Result<Json<GreeksSeries>, ApiError> {
    let contract = q
        .contract
        .map_or_else(|| PORTFOLIO.to_owned(), |c| c.as_str().to_owned());
    let to = q.to.map_or_else(Timestamp::now, Instant::get);
    let from = match q.from {
        Some(f) => f.get(),
        None => to
            .saturating_sub(SignedDuration::from_hours(1))
            .unwrap_or(to),
    };
    let account = match q.account_id.map(Id::get) {
        Some(id) => Some(
            store::accounts::one(&state.pool, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("account {id}")))?,
        ),
        None => None,
    };
    // An account's series is its own whichever bridge wrote it; every bridge together
    // includes any one bridge.
    let all_bridges = q.all_bridges.unwrap_or(false) && account.is_none();
    let bridge = q.bridge.unwrap_or_else(|| state.settings.bridge.clone());
    let whose = match (&account, all_bridges) {
        (Some(a), _) => Whose::Account(a.id),
        (None, true) => Whose::AllBridges,
        (None, false) => Whose::AllAccounts(&bridge),
    };
    let resolution = q
        .resolution
        .unwrap_or_else(|| Resolution::for_window(from, to));
    let points = match from <= to {
        true => {
            let limit = Limit::or_default(q.limit);
            let read = (whose, resolution);
            store::greeks::series_of(&state.pool, read, &contract, from, to, limit).await?
        }
        false => Vec::new(),
    };
    Ok(Json(GreeksSeries {
        contract,
        bridge: match all_bridges {
            true => String::new(),
            false => bridge.to_string(),
        },
        account_id: account.as_ref().map(|a| a.id),
        account: account.map(|a| a.alias),
        from,
        to,
        resolution,
        points,
    }))
}

/// The bridge's health and what needs attention.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    responses((status = 200, description = "Status", body = StatusView))
)]
async fn status_now(State(state): State<AppState>) -> Json<StatusView> {
    Json(status::snapshot(&state).await)
}

// ---- jobs ------------------------------------------------------------------------------

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only this job type.
    #[serde(rename = "type")]
    #[param(inline)]
    pub job_type: Option<Text>,
    /// Only this status.
    #[param(inline)]
    pub status: Option<JobStatus>,
    /// How many at most.
    #[param(inline)]
    pub limit: Option<Limit<50, 1000>>,
}

/// The newest jobs.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    params(JobsQuery),
    responses(
        (status = 200, description = "Jobs, newest first", body = Vec<JobRow>),
        (status = 400, description = "A parameter is wrong; `error.parameter` names it", body = ErrorBody),
    )
)]
async fn list_jobs(
    State(state): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Vec<JobRow>>, ApiError> {
    let rows = store::jobs::list(
        &state.pool,
        q.job_type.as_ref().map(Text::as_str),
        q.status.map(JobStatus::as_str),
        Limit::or_default(q.limit),
    )
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobPath {
    /// The job's id.
    #[param(inline)]
    pub job_id: Id,
}

/// One job.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}",
    params(JobPath),
    responses(
        (status = 200, description = "The job", body = JobRow),
        (status = 400, description = "The id is not one", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    )
)]
async fn one_job(
    State(state): State<AppState>,
    PathParams(path): PathParams<JobPath>,
) -> Result<Json<JobRow>, ApiError> {
    let id = path.job_id.get();
    store::jobs::get(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))
}

/// A job type the queue runs: one of [`JOB_TYPES`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct JobType(String);

impl TryFrom<String> for JobType {
    type Error = String;

    fn try_from(s: String) -> Result<JobType, String> {
        match JOB_TYPES.contains(&s.as_str()) {
            true => Ok(JobType(s)),
            false => Err(format!("{s:?} is not one of {}", JOB_TYPES.join(", "))),
        }
    }
}

impl PartialSchema for JobType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(JOB_TYPES.iter().copied()))
            .into()
    }
}

impl ToSchema for JobType {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    #[schema(inline)]
    pub job_type: JobType,
    /// Enqueue even while a job of the type is queued or running.
    #[serde(default)]
    #[schema(default = false)]
    pub allow_duplicate: bool,
}

/// What `POST /api/v1/jobs` answers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Enqueueing {
    /// `false` when a job of the type was already queued or running (that one is returned).
    pub created: bool,
    pub job: JobRow,
}

/// Enqueues `job_type` for `source`; the job and whether it is new.
pub async fn enqueue(
    state: &AppState,
    job_type: &str,
    allow_duplicate: bool,
    source: &str,
) -> Result<Enqueueing, ApiError> {
    let job = NewJob {
        dedup: if allow_duplicate {
            Dedup::Allow
        } else {
            Dedup::PerType
        },
        ..crate::jobs::job_for(job_type, source, &state.settings.bridge)
    };
    let (created, id) = match store::jobs::enqueue(&state.pool, &job).await? {
        Enqueued::Created(id) => (true, id),
        Enqueued::AlreadyActive(id) => (false, id),
    };
    let row = store::jobs::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("job {id} vanished after enqueueing")))?;
    Ok(Enqueueing { created, job: row })
}

/// Enqueue a sync.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    request_body = EnqueueRequest,
    responses(
        (status = 201, description = "Enqueued", body = Enqueueing),
        (status = 200, description = "A job of the type was already queued or running; that one", body = Enqueueing),
        (status = 400, description = "The body is wrong; `error.parameter` names the field", body = ErrorBody),
    )
)]
async fn enqueue_job(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EnqueueRequest>,
) -> Result<(StatusCode, Json<Enqueueing>), ApiError> {
    let done = enqueue(&state, &req.job_type.0, req.allow_duplicate, "api").await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(done)))
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
