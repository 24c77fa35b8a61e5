//! HTTP: the read API under `/api/v1` (JSON), the web page (HTML rendered on the server),
//! `/healthz`, `/metrics` and `/api/openapi.json`.
//!
//! - [`api`]: the JSON handlers; [`pages`]: the HTML pages and their view models.
//! - [`status`]: the bridge's health, from what the running sources hold in memory.
//! - [`edge`]: the `Host` and `Origin` checks every request passes first (DNS rebinding,
//!   cross-site forms).
//! - [`auth`]: `BRIDGE_API_TOKEN` — a bearer header for the API, a sign-in form and cookie for
//!   the pages.
//! - [`error`]: the API's one error type; [`params`]: strict parameters and bodies, parsed
//!   and documented by the same types.
//! - [`metrics`]: Prometheus text; [`openapi`]: the API's description, derived from the
//!   handlers [`api::router`] registers.
//! - [`cache`]: the spreads list kept for a second, so many clients cost one read.
//!
//! It reads through the store and the in-memory state the sources keep; it never talks to
//! IBKR, and never shows a raw account code: accounts appear by alias. It never waits on
//! PostgreSQL for more than [`DB_BOUND`]: its reads go through a pool of its own whose
//! statements the server cancels after that, and every request answers within
//! [`REQUEST_DEADLINE`] — the status from memory when the database is slow or gone.

pub mod api;
pub mod auth;
pub mod cache;
pub mod edge;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Shutdown;
use crate::config::{ApiMode, Secret};
use crate::domain::ids::BridgeName;
use crate::domain::portfolio::SharedPortfolio;
use crate::greeks::ticker::TickStatus;
use crate::greeks::writer::WriterStatus;
use crate::ibkr::portal::PortalSession;
use crate::store::{self, SchemaState};

/// The longest the read API waits for PostgreSQL: per statement (the server cancels it) and
/// for a connection.
pub const DB_BOUND: Duration = Duration::from_secs(2);
/// Every request is answered within this: a 503 when the database held it up.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// What the status waits for its database parts before it answers from memory alone.
pub const STATUS_DB_BOUND: Duration = Duration::from_secs(1);

/// What the running bridge holds in memory, for the status API and the page.
#[derive(Clone)]
pub struct Live {
    pub portfolio: SharedPortfolio,
    /// `None` when the Client Portal is not used.
    pub portal: Option<watch::Receiver<PortalSession>>,
    pub ticks: watch::Receiver<TickStatus>,
    pub writer: watch::Receiver<WriterStatus>,
    /// Whether the schema is applied (and why not), so the status tells a database that does
    /// not answer from one whose schema is not ready.
    pub schema: watch::Receiver<SchemaState>,
    /// What the alert loop last saw and told.
    pub alerts: watch::Receiver<crate::alerts::AlertsView>,
}

/// How the bridge runs: what the status shows, and the names it answers to.
#[derive(Clone)]
pub struct Settings {
    /// This bridge's name, which the status and the page show.
    pub bridge: BridgeName,
    pub api_mode: ApiMode,
    /// Combos older than a few of these count as stale on the page.
    pub positions_sync_interval: Duration,
    /// How often a greeks row is written: the charts break their line at longer silences.
    pub greeks_interval: Duration,
    pub hosts: edge::AllowedHosts,
    /// Live greeks and prices older than this are not shown as current (`GREEKS_MAX_AGE_SECONDS`).
    pub greeks_max_age: Duration,
    /// A spread whose front leg is this many business days from its last trade date, or
    /// fewer, is marked (`ALERT_EXPIRY_BUSINESS_DAYS`).
    pub expiry_warning_days: i32,
    /// Where "today" comes from for business days left: tests pin it.
    pub clock: Arc<dyn crate::clock::Clock>,
}

impl Settings {
    /// Settings with the configuration's defaults for the rest: named after the host, greeks
    /// every 5 s, older than 60 s not current, a front leg within 5 business days marked,
    /// today the system's.
    pub fn new(
        api_mode: ApiMode,
        positions_sync_interval: Duration,
        hosts: edge::AllowedHosts,
    ) -> Settings {
        Settings {
            bridge: BridgeName::from_host(&crate::host_name()),
            api_mode,
            positions_sync_interval,
            hosts,
            greeks_interval: Duration::from_secs(5),
            greeks_max_age: Duration::from_secs(60),
            expiry_warning_days: 5,
            clock: Arc::new(crate::clock::SystemClock),
        }
    }
}

pub struct Shared {
    /// The read API's own pool, bounded by [`DB_BOUND`].
    pub pool: PgPool,
    pub live: Live,
    pub settings: Settings,
    pub auth: auth::Auth,
    pub metrics: metrics::HttpMetrics,
    pub spreads: cache::Cache<api::SpreadList>,
}

/// The handlers' state: cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl AppState {
    /// The state for a bridge on `pool`'s database (the read API opens a pool of its own).
    pub fn new(pool: PgPool, live: Live, settings: Settings, token: Option<Secret>) -> AppState {
        AppState(Arc::new(Shared {
            pool: store::bounded(&pool, DB_BOUND),
            live,
            settings,
            auth: auth::Auth::new(token),
            metrics: metrics::HttpMetrics::default(),
            spreads: cache::Cache::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Whether `path` is the API's (JSON errors), not a page's (HTML).
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics" || path == "/healthz"
}

/// Answers for a request whose handler did not finish within [`REQUEST_DEADLINE`]: the only
/// thing a handler waits for is PostgreSQL.
async fn deadline(req: Request, next: Next) -> Response {
    let api = is_api(req.uri().path());
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(req)).await {
        Ok(response) => response,
        Err(_) if api => error::ApiError::DatabaseUnavailable.into_response(),
        Err(_) => pages::error_page(error::ApiError::DatabaseUnavailable),
    }
}

/// Every route, behind (outermost first) the latency metrics, the `Host` and `Origin` checks,
/// the token check and the deadline.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(api::router().split_for_parts().0)
        .merge(pages::routes())
        .layer(middleware::from_fn(deadline))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn_with_state(state.clone(), edge::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown`, then lets requests in flight finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}
