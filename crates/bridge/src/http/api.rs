//! The JSON API under `/api/v1`, plus `/healthz`, `/metrics` and `/api/openapi.json`.
//!
//! Every handler reads through the store (or the in-memory state, for the status); errors are
//! [`ApiError`]s. Accounts appear by alias, never by their IBKR code.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use super::params::Params;
use super::status::{self, StatusView};
use super::{AppState, metrics, openapi};
use crate::domain::ids::ConId;
use crate::domain::spreads::{self, LegQuantity};
use crate::jobs::{COMBO_POSITIONS_SYNC, JOB_TYPES};
use crate::store;
use crate::store::accounts::AccountView;
use crate::store::combos::{SpreadFilter, SpreadLeg, SpreadRow};
use crate::store::greeks::GreeksPoint;
use crate::store::jobs::{Dedup, Enqueued, JobRow, NewJob};
use crate::store::positions::{PositionFilter, PositionView};

/// The routes this module serves, as the OpenAPI document lists them: `(method, path)`.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/v1/spreads"),
    ("get", "/api/v1/spreads/unmatched-legs"),
    ("get", "/api/v1/spreads/{spread_id}"),
    ("get", "/api/v1/positions"),
    ("get", "/api/v1/accounts"),
    ("patch", "/api/v1/accounts/{account_id}"),
    ("get", "/api/v1/greeks"),
    ("get", "/api/v1/status"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{job_id}"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .route("/api/openapi.json", get(openapi_document))
        .route("/api/v1/spreads", get(list_spreads))
        .route("/api/v1/spreads/unmatched-legs", get(unmatched_legs))
        .route("/api/v1/spreads/{spread_id}", get(one_spread))
        .route("/api/v1/positions", get(list_positions))
        .route("/api/v1/accounts", get(list_accounts))
        .route(
            "/api/v1/accounts/{account_id}",
            axum::routing::patch(patch_account),
        )
        .route("/api/v1/greeks", get(greeks_series))
        .route("/api/v1/status", get(status_now))
        .route("/api/v1/jobs", get(list_jobs).post(enqueue_job))
        .route("/api/v1/jobs/{job_id}", get(one_job))
}

type Raw = Query<BTreeMap<String, String>>;

/// A path id that must be a positive whole number.
fn path_id(name: &str, raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::bad(
            name,
            format!("{raw:?} is not an id (a positive whole number)"),
        )
    })
}

async fn healthz() -> Json<Value> {
    Json(serde_json::json!({"status": "ok"}))
}

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

async fn openapi_document() -> Json<Value> {
    Json(openapi::document())
}

// ---- spreads ---------------------------------------------------------------------------

/// A spread: a native combo with its legs, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    #[serde(flatten)]
    pub combo: SpreadRow,
    pub symbol: Option<String>,
    /// `-1 CLH7 / +1 CLM7`, nearest expiry first.
    pub legs_text: String,
    /// When the combo sync last confirmed it (the later of that and `fetched_at`).
    pub last_synced_at: Timestamp,
}

/// A leg's short name: its local symbol (`CLH7`), else IBKR's description, else its conid.
pub fn leg_name(leg: &SpreadLeg) -> String {
    leg.local_symbol
        .clone()
        .or_else(|| leg.description.clone())
        .unwrap_or_else(|| leg.con_id.to_string())
}

pub fn spread(combo: SpreadRow, synced_at: Option<Timestamp>) -> Spread {
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
    Spread {
        symbol: combo.legs.iter().find_map(|l| l.symbol.clone()),
        legs_text,
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
            let spreads: Vec<Spread> = store::combos::spreads(&state.pool, filter)
                .await?
                .into_iter()
                .map(|row| spread(row, synced))
                .collect();
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

const DEFAULT_SYMBOL: &str = "CL";

/// `symbol`: `CL` unless given; `*` for every symbol.
fn symbol_param(p: &Params) -> Option<String> {
    match p.text("symbol") {
        None => Some(DEFAULT_SYMBOL.into()),
        Some("*") => None,
        Some(s) => Some(s.to_ascii_uppercase()),
    }
}

pub fn spread_filter(p: &Params) -> Result<SpreadFilter, ApiError> {
    Ok(SpreadFilter {
        id: None,
        account_id: p.int("account_id")?,
        symbol: symbol_param(p),
        include_stale: p.bool("include_stale")?.unwrap_or(false),
        limit: p.limit("limit", 100, 1000)?,
    })
}

async fn list_spreads(
    State(state): State<AppState>,
    Query(raw): Raw,
) -> Result<Response, ApiError> {
    let p = Params::new(raw, &["account_id", "symbol", "limit", "include_stale"])?;
    let list = spread_list(&state, &spread_filter(&p)?).await?;
    // The JSON made when the answer was cached: busy clients cost a copy, not a serialisation.
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        list.json.clone(),
    )
        .into_response())
}

async fn one_spread(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Spread>, ApiError> {
    let id = path_id("spread_id", &id)?;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The unrealized PnL of the unexplained quantity (its share of the leg's).
    pub unrealized_pnl: Option<f64>,
    pub fetched_at: Timestamp,
}

/// Units of the underlying per contract: the stored multiplier, 1 for a stock.
fn multiplier(p: &PositionView) -> Option<f64> {
    match p.multiplier.as_deref().and_then(|m| m.parse::<f64>().ok()) {
        Some(m) if m > 0.0 => Some(m),
        _ if p.sec_type.as_deref() == Some("STK") => Some(1.0),
        _ => None,
    }
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
            let share = u.remainder / u.held;
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
                avg_price: multiplier(p).map(|m| p.avg_cost / m),
                market_price: p.market_price,
                unrealized_pnl: p.unrealized_pnl.map(|v| v * share),
                fetched_at: p.fetched_at,
            })
        })
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
}

async fn unmatched_legs(
    State(state): State<AppState>,
    Query(raw): Raw,
) -> Result<Json<Vec<UnmatchedLeg>>, ApiError> {
    let p = Params::new(raw, &["account_id", "symbol", "limit"])?;
    let legs = load_unmatched(
        &state,
        p.int("account_id")?,
        symbol_param(&p),
        p.limit("limit", 100, 1000)?,
    )
    .await?;
    Ok(Json(legs))
}

// ---- positions and accounts ------------------------------------------------------------

async fn list_positions(
    State(state): State<AppState>,
    Query(raw): Raw,
) -> Result<Json<Vec<PositionView>>, ApiError> {
    let p = Params::new(raw, &["account_id", "symbol", "limit"])?;
    let filter = PositionFilter {
        account_id: p.int("account_id")?,
        symbol: p.text("symbol").map(str::to_owned),
        limit: p.limit("limit", 1000, 10_000)?,
    };
    Ok(Json(store::positions::list(&state.pool, &filter).await?))
}

async fn list_accounts(State(state): State<AppState>) -> Result<Json<Vec<AccountView>>, ApiError> {
    Ok(Json(store::accounts::list(&state.pool).await?))
}

#[derive(Debug, Deserialize)]
pub struct AliasChange {
    /// The new alias; `null` or empty clears it.
    pub alias: Option<String>,
}

/// An alias: at most 64 characters, printable, trimmed; empty means none.
pub fn parse_alias(alias: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(a) = alias.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    if a.chars().count() > 64 || a.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "alias",
            "at most 64 printable characters, or null to clear it",
        ));
    }
    Ok(Some(a.to_owned()))
}

async fn patch_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<AliasChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<AccountView>, ApiError> {
    let id = path_id("account_id", &id)?;
    let Json(change) = body.map_err(|e| {
        ApiError::bad(
            "body",
            format!("{}; send {{\"alias\": \"Main\"}}", e.body_text()),
        )
    })?;
    let alias = parse_alias(change.alias.as_deref())?;
    let changed = store::accounts::set_alias(&state.pool, id, alias.as_deref()).await?;
    // Spreads show the alias: read them afresh.
    state.spreads.clear();
    changed
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("account {id}")))
}

// ---- greeks ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GreeksSeries {
    pub contract: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub points: Vec<GreeksPoint>,
}

async fn greeks_series(
    State(state): State<AppState>,
    Query(raw): Raw,
) -> Result<Json<GreeksSeries>, ApiError> {
    let p = Params::new(raw, &["contract", "from", "to", "limit"])?;
    let contract = p.text("contract").unwrap_or("PORTFOLIO").to_owned();
    let to = p.instant("to")?.unwrap_or_else(Timestamp::now);
    let from = match p.instant("from")? {
        Some(f) => f,
        None => to
            .saturating_sub(SignedDuration::from_hours(1))
            .unwrap_or(to),
    };
    if from > to {
        return Err(ApiError::bad("from", "must not be after `to`"));
    }
    let limit = p.limit("limit", 2000, 20_000)?;
    let points = store::greeks::series(&state.pool, &contract, from, to, limit).await?;
    Ok(Json(GreeksSeries {
        contract,
        from,
        to,
        points,
    }))
}

async fn status_now(State(state): State<AppState>) -> Json<StatusView> {
    Json(status::snapshot(&state).await)
}

// ---- jobs ------------------------------------------------------------------------------

async fn list_jobs(
    State(state): State<AppState>,
    Query(raw): Raw,
) -> Result<Json<Vec<JobRow>>, ApiError> {
    let p = Params::new(raw, &["type", "status", "limit"])?;
    let job_type = p.text("type").map(str::to_owned);
    let status = p.choice("status", &["queued", "running", "completed", "failed"])?;
    let limit = p.limit("limit", 50, 1000)?;
    let rows =
        store::jobs::list(&state.pool, job_type.as_deref(), status.as_deref(), limit).await?;
    Ok(Json(rows))
}

async fn one_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobRow>, ApiError> {
    let id = path_id("job_id", &id)?;
    store::jobs::get(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))
}

#[derive(Debug, Deserialize)]
pub struct EnqueueRequest {
    pub job_type: String,
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// What `POST /api/v1/jobs` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    if !JOB_TYPES.contains(&job_type) {
        return Err(ApiError::bad(
            "job_type",
            format!("{job_type:?} is not one of {}", JOB_TYPES.join(", ")),
        ));
    }
    let job = NewJob {
        dedup: if allow_duplicate {
            Dedup::Allow
        } else {
            Dedup::PerType
        },
        ..NewJob::new(job_type, source)
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

async fn enqueue_job(
    State(state): State<AppState>,
    body: Result<Json<EnqueueRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Enqueueing>), ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::bad(
            "body",
            format!(
                "{}; send {{\"job_type\": \"combo_positions.sync\"}}",
                e.body_text()
            ),
        )
    })?;
    let done = enqueue(&state, &req.job_type, req.allow_duplicate, "api").await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(done)))
}
