//! `spawn_app()`: the simulator, a fresh database filled by the real syncs, and the read API
//! and page on a port of their own — what the API and browser tests run against.

use std::net::SocketAddr;
use std::time::Duration;

use ibkr_sim::Simulator;
use portfolio_bridge::Shutdown;
use portfolio_bridge::api_log::ApiLog;
use portfolio_bridge::config::{ApiMode, Secret};
use portfolio_bridge::domain::portfolio::SharedPortfolio;
use portfolio_bridge::greeks::ticker::TickStatus;
use portfolio_bridge::greeks::writer::WriterStatus;
use portfolio_bridge::http::edge::AllowedHosts;
use portfolio_bridge::http::{self, AppState, Live, Settings};
use portfolio_bridge::ibkr::portal::{PortalClient, PortalSession, PortalSource, SessionKeeper};
use portfolio_bridge::jobs::combo_sync::ComboSync;
use portfolio_bridge::jobs::positions_sync::{LegSource, PositionsSync};
use portfolio_bridge::jobs::{Handler, JobError};
use portfolio_bridge::store::SchemaState;
use portfolio_bridge::store::jobs::Claimed;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::helpers::{client, sim_config, start_sim};

pub const TOKEN: &str = "test-token-0123456789abcdef";

pub struct TestApp {
    pub addr: SocketAddr,
    pub pool: PgPool,
    pub sim: Simulator,
    pub http: reqwest::Client,
    /// The session keeper's view, as the app shows it.
    pub session: watch::Receiver<PortalSession>,
    /// One client for everything, as in the bridge: its pacing is shared.
    client: PortalClient,
    stop: watch::Sender<bool>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GETs `path` (with the token when given); status and body.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the app answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    /// GETs `path` and reads its JSON; panics unless it is a 200.
    pub async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// Runs the real combo sync against the simulator again.
    pub async fn sync_combos(&self) {
        let sync = ComboSync {
            pool: self.pool.clone(),
            client: self.client.clone(),
        };
        sync.sync().await.expect("combo sync");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Options of [`spawn_app`].
#[derive(Default)]
pub struct AppOptions {
    /// Serve with `BRIDGE_API_TOKEN` set to [`TOKEN`].
    pub token: bool,
    /// `BRIDGE_ALLOWED_HOSTS`.
    pub allowed_hosts: Vec<&'static str>,
    /// The day the simulator lists its contracts for and the app counts business days from
    /// (noon in Chicago); today when unset.
    pub date: Option<jiff::civil::Date>,
}

/// A clock that always reads one instant: "today" pinned for the pages' business days.
struct Pinned(jiff::Timestamp);

impl portfolio_bridge::clock::Clock for Pinned {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }

    fn sleep(&self, duration: Duration) -> portfolio_bridge::clock::Wait<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The simulator's default scenario with its prices frozen; the Client Portal source read
/// once into the portfolio, `positions.sync` and `combo_positions.sync` run for real into
/// `pool`; a session keeper ticking every 200 ms; the app on `127.0.0.1:0`.
pub async fn spawn_app(pool: PgPool, options: AppOptions) -> TestApp {
    let mut config = sim_config();
    if let Some(date) = options.date {
        config.scenario = ibkr_sim::scenario::Scenario::default_for(date);
    }
    let sim = start_sim(config).await;
    sim.control().world().freeze(true);
    let (stop, shutdown) = Shutdown::new();

    let (log, _records) = ApiLog::channel();
    let client = client(&sim).await;
    let (keeper, session) = SessionKeeper::new(
        client.clone(),
        Duration::from_millis(200),
        Duration::from_millis(200),
        log.clone(),
    );
    keeper.check().await;
    tokio::spawn(keeper.run(shutdown.clone()));

    let portfolio = SharedPortfolio::new();
    let mut source = PortalSource::new(client.clone(), portfolio.clone(), session.clone(), log);
    source
        .poll()
        .await
        .expect("the Client Portal source reads the sim");
    let positions = PositionsSync {
        pool: pool.clone(),
        legs: LegSource::Live {
            portfolio: portfolio.clone(),
            source: "cpapi",
        },
        then_combos: None,
    };
    run(&positions, "positions.sync")
        .await
        .expect("positions sync");
    ComboSync {
        pool: pool.clone(),
        client: client.clone(),
    }
    .sync()
    .await
    .expect("combo sync");

    let live = live_at_rest(portfolio, Some(session.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("its address");
    let mut settings = Settings::new(
        ApiMode::Portal,
        Duration::from_secs(60),
        AllowedHosts::new(
            addr.ip(),
            options
                .allowed_hosts
                .iter()
                .map(|h| h.parse().expect("a host name"))
                .collect(),
        ),
    );
    if let Some(date) = options.date {
        let noon = date
            .at(12, 0, 0, 0)
            .in_tz(portfolio_bridge::domain::expiry::EXCHANGE_ZONE)
            .expect("a date in Chicago")
            .timestamp();
        settings.clock = std::sync::Arc::new(Pinned(noon));
    }
    let token = options.token.then(|| Secret::new(TOKEN));
    let state = AppState::new(pool.clone(), live, settings, token);
    tokio::spawn(http::run(listener, state, shutdown));
    TestApp {
        addr,
        pool,
        sim,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        session,
        client,
        stop,
    }
}

/// Runs a handler once, as a worker would.
async fn run(handler: &dyn Handler, job_type: &str) -> Result<Value, JobError> {
    let job = Claimed {
        id: 0,
        job_type: job_type.into(),
        payload: Value::Null,
        attempts: 1,
        max_attempts: 1,
    };
    handler.run(&job).await
}

/// What a bridge holds in memory, with no ticker or writer running: a fresh writer's status,
/// no ticks, the schema ready. (A receiver keeps the last value after its sender is gone: the
/// status and the pages read these.)
pub fn live_at_rest(
    portfolio: SharedPortfolio,
    portal: Option<watch::Receiver<PortalSession>>,
) -> Live {
    let (_, ticks) = watch::channel(TickStatus::default());
    let (_, writer) = watch::channel(WriterStatus::default());
    let (_, schema) = watch::channel(SchemaState::Ready);
    let (_, alerts) = watch::channel(portfolio_bridge::alerts::AlertsView::default());
    Live {
        portfolio,
        portal,
        ticks,
        writer,
        schema,
        alerts,
    }
}
