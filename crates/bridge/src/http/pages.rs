//! The web page: Spreads (the default), Greeks, Positions, Status / Jobs, and the sign-in form.
//! Rendered on the server with askama from view models built here; every number and time is
//! formatted here with [`format`]'s helpers (right-aligned by the stylesheet, negative PnL
//! marked), so the templates only lay out strings. Works without JavaScript (times then read
//! in UTC); the page's own small script refreshes the data without closing rows the user
//! opened, and rewrites every time in the browser's zone with that zone shown.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Extension;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::api::{self, Spread, UnmatchedLeg, leg_name};
use super::auth::{self, COOKIE, SignIn};
use super::error::ApiError;
use super::params::{FormQuery, Id, Limit, Text};
use super::status::{self, Attention};
use crate::domain::ids::BridgeName;
use crate::heartbeat;
use crate::jobs::COMBO_POSITIONS_SYNC;
use crate::store;
use crate::store::combos::SpreadFilter;
use crate::store::greeks::{GreeksPoint, Resolution, Whose};
use crate::store::positions::{PositionFilter, PositionView};

mod chart;
pub mod format;
pub mod risk;

use chart::{Window, line_chart};
use format::{Pnl, When, greek, instrument_price, money, number, pnl, price_unit, quantity, when};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(spreads_page))
        .route("/greeks", get(greeks_page))
        .route("/risk", get(risk_page))
        .route("/positions", get(positions_page))
        .route("/status", get(status_page))
        .route("/sync", post(sync_now))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

// ---- layout ----------------------------------------------------------------------------

/// What every page shows around its content.
pub struct Frame {
    pub active: &'static str,
    pub attention: Vec<Attention>,
    pub signed_in: bool,
}

async fn frame(state: &AppState, active: &'static str) -> Frame {
    let s = status::snapshot(state).await;
    Frame {
        active,
        attention: s.attention,
        signed_in: state.auth.required(),
    }
}

fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::Internal(format!("template: {e}")).into_response(),
    }
}

/// A page, or the error that kept it from being built.
fn respond(page: Result<impl Template, ApiError>) -> Response {
    match page {
        Ok(page) => render(page),
        Err(e) => error_page(e),
    }
}

/// An error as a page: the message, in the frame.
pub fn error_page(e: ApiError) -> Response {
    let status = e.status();
    let body = ErrorPage {
        message: e.to_string(),
    };
    (status, render(body)).into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    message: String,
}

type Raw = Query<BTreeMap<String, String>>;

// ---- spreads ---------------------------------------------------------------------------

pub struct LegRow {
    pub name: String,
    pub ratio: String,
    pub position: String,
    pub avg_price: String,
    pub market_price: String,
    pub market_value: String,
    pub pnl: Pnl,
}

/// When a spread's front leg stops trading.
pub struct ExpiryView {
    pub date: String,
    /// `3 business days left`, `last trade date today`, `expired 2 business days ago`.
    pub left: String,
    /// Within the warning (`ALERT_EXPIRY_BUSINESS_DAYS`): shown as a warning.
    pub soon: bool,
}

pub struct SpreadRowView {
    pub key: String,
    pub account: String,
    /// The trader's name (`CL Jan27/Feb27`).
    pub label: String,
    /// `CL F7/G7`, when the legs make one.
    pub codes: String,
    /// IBKR's name and description, one click away.
    pub name: String,
    pub description: String,
    pub position: String,
    pub legs_text: String,
    pub price: String,
    /// The price's change since the average price, signed.
    pub change: Pnl,
    pub avg_price: String,
    pub pnl: Pnl,
    pub expiry: Option<ExpiryView>,
    /// `Δ −2,000 · Γ 0 · V 0 · Θ 0`, or why there are none.
    pub greeks: String,
    pub synced: When,
    pub legs: Vec<LegRow>,
}

/// Business days left, in words.
fn days_left(days: i32) -> String {
    match days {
        0 => "last trade date today".into(),
        1 => "1 business day left".into(),
        d if d > 1 => format!("{d} business days left"),
        -1 => "stopped trading 1 business day ago".into(),
        d => format!("stopped trading {} business days ago", -d),
    }
}

pub fn spread_row(s: &Spread) -> SpreadRowView {
    // A spread is quoted at its legs' tick, as the legs are.
    let sec_type = s.combo.legs.first().and_then(|l| l.sec_type.as_deref());
    let at_tick = |v: Option<f64>| instrument_price(v, s.symbol.as_deref(), sec_type);
    SpreadRowView {
        key: format!("combo-{}", s.combo.id),
        account: s.combo.account.clone(),
        label: s.label.clone(),
        codes: s.label_codes.clone().unwrap_or_default(),
        name: s
            .combo
            .name
            .clone()
            .unwrap_or_else(|| "(unnamed combo)".into()),
        description: s.combo.description.clone().unwrap_or_default(),
        position: quantity(s.combo.position),
        legs_text: s.legs_text.clone(),
        price: at_tick(s.price),
        change: Pnl {
            text: s.price_change.map_or_else(
                || "–".into(),
                |c| format!("{}{}", if c > 0.0 { "+" } else { "" }, at_tick(Some(c))),
            ),
            negative: s.price_change.is_some_and(|c| c < 0.0),
        },
        avg_price: at_tick(s.combo.avg_price),
        pnl: pnl(s.combo.unrealized_pnl),
        expiry: s
            .front_last_trade_date
            .clone()
            .zip(s.business_days_left)
            .map(|(date, days)| ExpiryView {
                date,
                left: days_left(days),
                soon: s.expiring_soon,
            }),
        greeks: match s.greeks {
            Some(g) => format!(
                "Δ {} · Γ {} · vega {} · θ {}",
                greek(g.delta),
                greek(g.gamma),
                greek(g.vega),
                greek(g.theta)
            ),
            None => "no greeks: a leg has none from the feed yet".into(),
        },
        synced: when(s.last_synced_at),
        legs: s
            .combo
            .legs
            .iter()
            .map(|l| LegRow {
                name: leg_name(l),
                ratio: quantity(l.ratio),
                position: quantity(l.position),
                avg_price: instrument_price(
                    l.avg_price,
                    l.symbol.as_deref(),
                    l.sec_type.as_deref(),
                ),
                market_price: instrument_price(
                    l.market_price,
                    l.symbol.as_deref(),
                    l.sec_type.as_deref(),
                ),
                market_value: money(l.market_value),
                pnl: pnl(l.unrealized_pnl),
            })
            .collect(),
    }
}

pub struct UnmatchedRowView {
    pub key: String,
    pub account: String,
    pub name: String,
    pub kind: String,
    pub position: String,
    /// `-1 CLF7`, as a spread's legs read.
    pub legs_text: String,
    pub held: String,
    pub in_combos: String,
    pub avg_price: String,
    pub avg_cost: String,
    pub market_price: String,
    pub pnl: Pnl,
    /// Why the remainder's PnL cannot be told, when it cannot.
    pub unreconciled: String,
    /// The leg's last trade date, `YYYY-MM-DD`.
    pub last_trade: String,
    pub synced: When,
}

pub fn unmatched_row(u: &UnmatchedLeg) -> UnmatchedRowView {
    let name = u
        .local_symbol
        .clone()
        .or_else(|| u.symbol.clone())
        .unwrap_or_else(|| u.con_id.to_string());
    let kind = match (&u.sec_type, u.strike, &u.right) {
        (Some(t), Some(k), Some(r)) => format!("{t} {} {r}", number(k, 2)),
        (Some(t), _, _) => t.clone(),
        _ => String::new(),
    };
    UnmatchedRowView {
        key: format!("leg-{}-{}", u.account_id, u.con_id),
        account: u.account.clone(),
        kind,
        position: quantity(Some(u.position)),
        legs_text: crate::domain::spreads::legs_text([(u.position, name.as_str())]),
        held: quantity(Some(u.held)),
        in_combos: quantity(Some(u.in_combos)),
        avg_price: instrument_price(u.avg_price, u.symbol.as_deref(), u.sec_type.as_deref()),
        avg_cost: money(Some(u.avg_cost)),
        market_price: instrument_price(u.market_price, u.symbol.as_deref(), u.sec_type.as_deref()),
        pnl: pnl(u.unrealized_pnl),
        unreconciled: u.unreconciled.clone().unwrap_or_default(),
        last_trade: u
            .last_trade_date
            .as_deref()
            .and_then(|d| jiff::civil::Date::strptime("%Y%m%d", d).ok())
            .map_or_else(|| "–".into(), |d| d.to_string()),
        synced: when(u.fetched_at),
        name,
    }
}

pub struct AccountOption {
    pub id: i32,
    pub alias: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "spreads.html")]
struct SpreadsPage {
    frame: Frame,
    symbol: String,
    search: String,
    accounts: Vec<AccountOption>,
    spreads: Vec<SpreadRowView>,
    unmatched: Vec<UnmatchedRowView>,
}

/// The spreads page's filters.
#[derive(Debug, Deserialize, IntoParams)]
struct SpreadsPageQuery {
    #[param(inline)]
    account_id: Option<Id>,
    #[param(inline)]
    symbol: Option<Text>,
    /// Spreads whose name contains this (`Jan27/Feb27`, `F7/G7`, IBKR's name).
    #[param(inline)]
    search: Option<Text>,
}

async fn spreads_page(
    State(state): State<AppState>,
    query: Result<FormQuery<SpreadsPageQuery>, ApiError>,
) -> Response {
    match query {
        Ok(FormQuery(q)) => respond(spreads_view(&state, q).await),
        Err(e) => error_page(e),
    }
}

async fn spreads_view(state: &AppState, q: SpreadsPageQuery) -> Result<SpreadsPage, ApiError> {
    let filter = SpreadFilter {
        id: None,
        account_id: q.account_id.map(Id::get),
        symbol: api::symbol_filter(q.symbol.as_ref()),
        include_stale: false,
        limit: 100,
        search: q.search.as_ref().map(|t| t.as_str().to_owned()),
    };
    let spreads = api::load_spreads(state, &filter).await?;
    let unmatched =
        api::load_unmatched(state, filter.account_id, filter.symbol.clone(), 1000).await?;
    let accounts = store::accounts::list(&state.pool)
        .await?
        .into_iter()
        .map(|a| AccountOption {
            selected: filter.account_id == Some(a.id),
            id: a.id,
            alias: a.alias,
        })
        .collect();
    Ok(SpreadsPage {
        frame: frame(state, "spreads").await,
        symbol: filter.symbol.unwrap_or_else(|| "*".into()),
        search: filter.search.unwrap_or_default(),
        accounts,
        spreads: spreads.iter().map(spread_row).collect(),
        unmatched: unmatched.iter().map(unmatched_row).collect(),
    })
}

// ---- greeks ----------------------------------------------------------------------------

/// The points a chart draws at most: a longer series is read one point per stretch.
const CHART_POINTS: u32 = 2000;

/// Reads one greek of a point.
type Pick = fn(&GreeksPoint) -> Option<f64>;

/// The charts of the `PORTFOLIO` row: dollar figures only, since its delta and gamma add
/// unlike units (barrels, shares, points) together.
const PORTFOLIO_CHARTS: [(&str, Pick); 4] = [
    ("delta ($)", |p| p.delta_dollars),
    ("gamma ($ per 1 %)", |p| p.gamma_dollars),
    ("vega ($/vol pt)", |p| p.vega),
    ("theta ($/day)", |p| p.theta),
];

/// The charts of an underlying's row: its delta in its own unit too.
const UNDERLYING_CHARTS: [(&str, Pick); 5] = [
    ("delta (units)", |p| p.delta),
    ("delta ($)", |p| p.delta_dollars),
    ("gamma ($ per 1 %)", |p| p.gamma_dollars),
    ("vega ($/vol pt)", |p| p.vega),
    ("theta ($/day)", |p| p.theta),
];

pub struct ChartView {
    pub name: String,
    pub last: String,
    pub svg: String,
}

pub struct ContractCharts {
    pub contract: String,
    pub underlying_price: String,
    pub charts: Vec<ChartView>,
}

#[derive(Template)]
#[template(path = "greeks.html")]
struct GreeksPage {
    frame: Frame,
    hours: i64,
    bridges: Vec<BridgeOption>,
    accounts: Vec<AccountOption>,
    contracts: Vec<ContractCharts>,
}

/// This bridge first, the other bridges that ever ran on the database, every bridge together.
fn bridge_options(
    own: &BridgeName,
    known: &[BridgeName],
    chosen: Option<&BridgeChoice>,
) -> Vec<BridgeOption> {
    let mut options = vec![BridgeOption {
        value: String::new(),
        label: format!("{own} (this bridge)"),
        selected: chosen.is_none_or(|c| *c == BridgeChoice::One(own.clone())),
    }];
    options.extend(known.iter().filter(|n| *n != own).map(|n| BridgeOption {
        value: n.to_string(),
        label: n.to_string(),
        selected: chosen == Some(&BridgeChoice::One(n.clone())),
    }));
    options.push(BridgeOption {
        value: "*".into(),
        label: "All bridges".into(),
        selected: chosen == Some(&BridgeChoice::All),
    });
    options
}

/// The greeks page's window and whose series.
#[derive(Debug, Deserialize, IntoParams)]
struct GreeksPageQuery {
    /// Hours back from now.
    #[param(inline)]
    hours: Option<Limit<1, 72>>,
    /// One account's series (`accounts.id`); all accounts together when absent.
    #[param(inline)]
    account_id: Option<Id>,
    /// Whose all-accounts series: a `BRIDGE_NAME`, or `*` for every bridge's summed; this
    /// bridge's when absent.
    #[param(value_type = Option<String>)]
    bridge: Option<BridgeChoice>,
}

/// The greeks page's bridge: one by name, or every bridge together.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
enum BridgeChoice {
    One(BridgeName),
    All,
}

impl TryFrom<String> for BridgeChoice {
    type Error = String;

    fn try_from(s: String) -> Result<BridgeChoice, String> {
        match s.as_str() {
            "*" => Ok(BridgeChoice::All),
            name => BridgeName::parse(name)
                .map(BridgeChoice::One)
                .ok_or_else(|| format!("{name:?} is neither a bridge name nor *")),
        }
    }
}

/// An option of the page's bridge chooser.
pub struct BridgeOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

async fn greeks_page(
    State(state): State<AppState>,
    query: Result<FormQuery<GreeksPageQuery>, ApiError>,
) -> Response {
    match query {
        Ok(FormQuery(q)) => respond(greeks_view(&state, q).await),
        Err(e) => error_page(e),
    }
}

async fn greeks_view(state: &AppState, q: GreeksPageQuery) -> Result<GreeksPage, ApiError> {
    let hours = Limit::or_default(q.hours);
    let to = Timestamp::now();
    let from = to
        .saturating_sub(SignedDuration::from_hours(hours))
        .unwrap_or(to);
    // A long window is read at the chart's resolution: the last row of each stretch of
    // 1/CHART_POINTS of it, so 72 hours are drawn whole, to scale, with their gaps.
    let bucket = state
        .settings
        .greeks_interval
        .max((to.duration_since(from).unsigned_abs()) / CHART_POINTS);
    let window = Window {
        from: from.as_millisecond(),
        to: to.as_millisecond(),
        interval: i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX),
    };
    let account_id = q.account_id.map(Id::get);
    let own = &state.settings.bridge;
    let whose = match (account_id, &q.bridge) {
        (Some(id), _) => Whose::Account(id),
        (None, None) => Whose::AllAccounts(own),
        (None, Some(BridgeChoice::One(name))) => Whose::AllAccounts(name),
        (None, Some(BridgeChoice::All)) => Whose::AllBridges,
    };
    let mut contracts = Vec::new();
    for contract in store::greeks::contracts_of(&state.pool, whose, from).await? {
        let points = match bucket > state.settings.greeks_interval {
            true => {
                // Stretches of a minute or more: the rollups hold their last rows.
                let read = match bucket >= Duration::from_secs(60) {
                    true => (whose, Resolution::Minute),
                    false => (whose, Resolution::Raw),
                };
                store::greeks::series_binned(&state.pool, read, &contract, from, to, bucket).await?
            }
            false => {
                let read = (whose, Resolution::Raw);
                store::greeks::series_of(&state.pool, read, &contract, from, to, 20_000).await?
            }
        };
        let unit = price_unit(&contract, "FUT").unwrap_or("units");
        let picks: &[(&str, Pick)] = match contract.as_str() {
            "PORTFOLIO" => &PORTFOLIO_CHARTS,
            _ => &UNDERLYING_CHARTS,
        };
        let charts = picks
            .iter()
            .map(|(name, pick)| {
                let name = name.replace("units", unit);
                let s: Vec<(i64, f64)> = points
                    .iter()
                    .filter_map(|p| pick(p).map(|v| (p.timestamp.as_millisecond(), v)))
                    .collect();
                ChartView {
                    last: s.last().map_or_else(|| "–".into(), |(_, v)| greek(*v)),
                    svg: line_chart(&s, &name, window, greek),
                    name,
                }
            })
            .collect();
        contracts.push(ContractCharts {
            // A row names an underlying's root (or the whole portfolio, which has no price):
            // its price ticks as its future's does.
            underlying_price: instrument_price(
                points.last().and_then(|p| p.underlying_price),
                Some(&contract),
                Some("FUT"),
            ),
            contract,
            charts,
        });
    }
    let accounts = store::accounts::list(&state.pool)
        .await?
        .into_iter()
        .map(|a| AccountOption {
            selected: account_id == Some(a.id),
            id: a.id,
            alias: a.alias,
        })
        .collect();
    let others = heartbeat::names(&state.pool).await?;
    let bridges = bridge_options(own, &others, q.bridge.as_ref());
    Ok(GreeksPage {
        frame: frame(state, "greeks").await,
        hours,
        bridges,
        accounts,
        contracts,
    })
}

// ---- risk ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "risk.html")]
struct RiskPage {
    frame: Frame,
    view: risk::RiskView,
}

async fn risk_page(State(state): State<AppState>) -> Response {
    respond(risk_view(&state).await)
}

async fn risk_view(state: &AppState) -> Result<RiskPage, ApiError> {
    let now = Timestamp::now();
    let day = SignedDuration::from_hours(24);
    let filter = SpreadFilter {
        symbol: None,
        limit: 1000,
        ..SpreadFilter::default()
    };
    let (latest, first, accounts, spreads) = tokio::join!(
        store::greeks::tick_rows(&state.pool, &state.settings.bridge, None),
        store::greeks::tick_rows(
            &state.pool,
            &state.settings.bridge,
            Some(crate::domain::expiry::exchange_day_start(now))
        ),
        store::greeks::accounts_now(&state.pool, now.saturating_sub(day).unwrap_or(now)),
        api::load_spreads(state, &filter),
    );
    Ok(RiskPage {
        frame: frame(state, "risk").await,
        view: risk::view(&latest?, &first?, &accounts?, &spreads?),
    })
}

// ---- positions -------------------------------------------------------------------------

pub struct PositionRowView {
    pub account: String,
    pub name: String,
    pub sec_type: String,
    pub expiry: String,
    pub position: String,
    /// IBKR's average cost, per contract (multiplier included).
    pub avg_cost: String,
    /// Units of the underlying per contract.
    pub multiplier: String,
    /// The average cost per unit, comparable with the market price.
    pub avg_price: String,
    pub market_price: String,
    /// What the prices are per (`bbl`), or empty when unknown.
    pub unit: String,
    pub market_value: String,
    pub pnl: Pnl,
    pub fetched: When,
}

pub fn position_row(p: &PositionView) -> PositionRowView {
    // A local symbol names an option fully (`LOG7 P6500`); a bare symbol needs its strike.
    let name = match (&p.local_symbol, &p.symbol, p.strike, &p.right) {
        (Some(local), _, _, _) => local.clone(),
        (None, Some(symbol), Some(k), Some(r)) => format!("{symbol} {} {r}", number(k, 2)),
        (None, Some(symbol), _, _) => symbol.clone(),
        (None, None, _, _) => p.con_id.to_string(),
    };
    let (symbol, sec_type) = (p.symbol.as_deref(), p.sec_type.as_deref());
    let units = p.units_per_contract();
    PositionRowView {
        account: p.account_alias.clone(),
        name,
        sec_type: p.sec_type.clone().unwrap_or_default(),
        expiry: p.last_trade_date.clone().unwrap_or_default(),
        position: quantity(Some(p.position)),
        avg_cost: money(Some(p.avg_cost)),
        multiplier: units.map_or_else(
            || "–".into(),
            |m| number(m, if m.fract() == 0.0 { 0 } else { 2 }),
        ),
        // IBKR's avgCost is per contract, multiplier included: CL's 72,026.67 is 72.03 $/bbl.
        avg_price: instrument_price(units.map(|m| p.avg_cost / m), symbol, sec_type),
        market_price: instrument_price(p.market_price, symbol, sec_type),
        unit: price_unit(symbol.unwrap_or(""), sec_type.unwrap_or(""))
            .unwrap_or_default()
            .to_owned(),
        market_value: money(p.market_value),
        pnl: pnl(p.unrealized_pnl),
        fetched: when(p.fetched_at),
    }
}

#[derive(Template)]
#[template(path = "positions.html")]
struct PositionsPage {
    frame: Frame,
    positions: Vec<PositionRowView>,
}

async fn positions_page(State(state): State<AppState>) -> Response {
    let filter = PositionFilter {
        limit: 10_000,
        ..PositionFilter::default()
    };
    match store::positions::list(&state.pool, &filter).await {
        Ok(rows) => render(PositionsPage {
            frame: frame(&state, "positions").await,
            positions: rows.iter().map(position_row).collect(),
        }),
        Err(e) => error_page(e.into()),
    }
}

// ---- status and jobs -------------------------------------------------------------------

pub struct JobRowView {
    pub id: i32,
    pub job_type: String,
    pub status: String,
    pub attempts: String,
    pub created: When,
    pub finished: Option<When>,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    frame: Frame,
    facts: Vec<FactRow>,
    alerts: Vec<AlertRow>,
    left_out: Vec<String>,
    jobs: Vec<JobRowView>,
    enqueued: Option<String>,
}

/// A status fact with its time, if it names one, as a `<time>` between the rest of its text.
struct FactRow {
    label: &'static str,
    before: String,
    at: Option<When>,
    after: String,
}

impl From<status::Fact> for FactRow {
    fn from(f: status::Fact) -> FactRow {
        // The value writes its instant as `utc_text`, which is exactly a `When`'s text.
        let split = f.at.map(when).and_then(|at| {
            let (before, after) = f.value.split_once(&at.text)?;
            Some((before.to_owned(), at, after.to_owned()))
        });
        match split {
            Some((before, at, after)) => FactRow {
                label: f.label,
                before,
                at: Some(at),
                after,
            },
            None => FactRow {
                label: f.label,
                before: f.value,
                at: None,
                after: String::new(),
            },
        }
    }
}

/// One alert on the status page: active ones first, then the ones that cleared lately.
struct AlertRow {
    severity: &'static str,
    kind: String,
    title: String,
    text: String,
    action: String,
    started: When,
    resolved: Option<When>,
    /// Whether the targets were told (the rate limits may hold a notice back for a while).
    told: bool,
}

impl From<&crate::alerts::policy::AlertView> for AlertRow {
    fn from(a: &crate::alerts::policy::AlertView) -> AlertRow {
        AlertRow {
            severity: a.severity.as_str(),
            kind: a.kind.to_string(),
            title: a.title.clone(),
            text: a.text.clone(),
            action: a.action.clone(),
            started: when(a.started_at),
            resolved: a.resolved_at.map(when),
            told: a.told,
        }
    }
}

/// Where "Sync now" sends the browser back to.
#[derive(Debug, Deserialize, IntoParams)]
struct StatusPageQuery {
    /// The job "Sync now" enqueued or found.
    #[param(inline)]
    enqueued: Option<Id>,
    /// Whether it was new.
    created: Option<bool>,
}

async fn status_page(
    State(state): State<AppState>,
    query: Result<FormQuery<StatusPageQuery>, ApiError>,
) -> Response {
    let q = match query {
        Ok(FormQuery(q)) => q,
        Err(e) => return error_page(e),
    };
    // Like the status, and alongside it, the list waits for PostgreSQL only so long.
    let recent = tokio::time::timeout(
        super::STATUS_DB_BOUND,
        store::jobs::list(&state.pool, None, None, 20),
    );
    let (s, recent) = tokio::join!(status::snapshot(&state), recent);
    let facts = s.facts().into_iter().map(FactRow::from).collect();
    let alerts = s
        .alerts
        .active
        .iter()
        .chain(&s.alerts.recent)
        .map(AlertRow::from)
        .collect();
    let left_out = s.left_out_lines();
    let jobs = recent
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
        .into_iter()
        .map(|j| JobRowView {
            id: j.id,
            job_type: j.job_type,
            status: j.status,
            attempts: format!("{}/{}", j.attempts, j.max_attempts),
            created: when(j.created_at),
            finished: j.completed_at.map(when),
            detail: j
                .last_error
                .or_else(|| j.result.map(|r| r.to_string()))
                .unwrap_or_default(),
        })
        .collect();
    let enqueued = q.enqueued.map(Id::get).map(|id| match q.created {
        Some(false) => format!("combo_positions.sync was already queued or running as job {id}"),
        _ => format!("Job {id} enqueued: combo_positions.sync"),
    });
    render(StatusPage {
        frame: Frame {
            active: "status",
            attention: s.attention,
            signed_in: state.auth.required(),
        },
        facts,
        alerts,
        left_out,
        jobs,
        enqueued,
    })
}

/// "Sync now": enqueues `combo_positions.sync`, then back to the status page.
async fn sync_now(State(state): State<AppState>) -> Response {
    match api::enqueue(&state, COMBO_POSITIONS_SYNC, false, "web").await {
        Ok(done) => Redirect::to(&format!(
            "/status?enqueued={}&created={}",
            done.job.id, done.created
        ))
        .into_response(),
        Err(e) => error_page(e),
    }
}

// ---- sign-in ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    failed: Option<String>,
}

async fn login_form(Query(raw): Raw) -> Response {
    render(LoginPage {
        next: auth::safe_next(raw.get("next").map(String::as_str)),
        failed: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

/// The browser's address, when the server knows it.
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn peer_addr(peer: Peer) -> Option<SocketAddr> {
    peer.map(|Extension(ConnectInfo(addr))| addr)
}

async fn login(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = auth::safe_next(form.next.as_deref());
    let peer = peer_addr(peer);
    let client = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip());
    let failed = |status: StatusCode, message: String| {
        let page = render(LoginPage {
            next: next.clone(),
            failed: Some(message),
        });
        (status, page).into_response()
    };
    match state
        .auth
        .sign_in(form.token.trim(), client, Instant::now())
    {
        Ok(SignIn::Opened(id)) => {
            let cookie = auth::session_cookie(&id, auth::over_tls(&headers, peer));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Ok(SignIn::Refused) => failed(StatusCode::UNAUTHORIZED, "That is not the token.".into()),
        Ok(SignIn::Throttled(wait)) => {
            let seconds = wait.as_secs().max(1);
            let mut page = failed(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many wrong tokens from here: try again in {seconds} s."),
            );
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            page
        }
        Err(e) => error_page(ApiError::Internal(format!("cannot open a session: {e}"))),
    }
}

async fn logout(State(state): State<AppState>, peer: Peer, headers: HeaderMap) -> Response {
    if let Some(id) = auth::cookie(&headers, COOKIE) {
        state.auth.close_session(id);
    }
    let expired = auth::expired_cookie(auth::over_tls(&headers, peer_addr(peer)));
    ([(header::SET_COOKIE, expired)], Redirect::to("/login")).into_response()
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
