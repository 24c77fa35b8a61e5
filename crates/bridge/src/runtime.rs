//! Runtime: what `portfolio-bridge run` starts — the database and its migrations, the
//! `api_logs` writer, the shared portfolio, and the IBKR sources the configuration asks for
//! — and how it stops: on the shutdown signal every task ends and the writer flushes.
//!
//! It owns no logic of its own; it only wires the modules together.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::Shutdown;
use crate::api_log::{self, ApiLog};
use crate::clock::SystemClock;
use crate::config::{ApiMode, Config};
use crate::domain::portfolio::SharedPortfolio;
use crate::ibkr::portal::{PortalClient, PortalSource, SessionKeeper};
use crate::ibkr::socket::{SocketSettings, SocketSource};
use crate::store;
use crate::watchdog::{self, WatchdogSettings};

/// How long `run` waits for PostgreSQL between attempts at startup.
const DB_RETRY: Duration = Duration::from_secs(5);
const DB_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a quiet TWS connection may take to answer the watchdog's probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the bridge until `shutdown`.
pub async fn run(config: Config, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let url = config.database_url()?.clone();
    let pool = loop {
        match store::connect(&url, DB_CONNECT_TIMEOUT).await {
            Ok(pool) => break pool,
            Err(e) => {
                warn!("{e}; trying again in {} s", DB_RETRY.as_secs());
                tokio::select! {
                    _ = tokio::time::sleep(DB_RETRY) => {}
                    _ = shutdown.wait() => return Ok(()),
                }
            }
        }
    };
    let report = store::migrate(&pool).await?;
    info!(
        version = report.current,
        applied = report.applied.len(),
        "schema ready"
    );

    let mut tasks = JoinSet::new();
    let (log, log_rx) = ApiLog::channel();
    // Not in `tasks`: it ends after them, when the last handle of `log` is dropped.
    let writer = tokio::spawn(api_log::run_writer(log_rx, pool.clone()));
    let portfolio = SharedPortfolio::new();

    if config.api_mode == ApiMode::Socket {
        let settings = SocketSettings {
            addr: config.socket.addr.to_string(),
            client_id: config.socket.client_id,
            connect_timeout: config.socket.connect_timeout,
        };
        let source = SocketSource::new(settings, portfolio.clone());
        let watchdog = WatchdogSettings {
            interval: config.watchdog_interval,
            backoff: Duration::from_secs(1),
            quiet_after: config.watchdog_interval,
            probe_timeout: config.watchdog_interval.min(PROBE_TIMEOUT),
            clock: Arc::new(SystemClock),
        };
        tasks.spawn(watchdog::run(
            source,
            watchdog,
            log.clone(),
            shutdown.clone(),
        ));
    }

    let portal_needed = config.portal.enabled || config.api_mode == ApiMode::Portal;
    if portal_needed {
        let client = PortalClient::new(&config.portal).context("Client Portal")?;
        let (keeper, session) =
            SessionKeeper::new(client.clone(), config.portal.tickle_interval, log.clone());
        tasks.spawn(keeper.run(shutdown.clone()));
        if config.api_mode == ApiMode::Portal {
            let source = PortalSource::new(client, portfolio.clone(), session, log.clone());
            tasks.spawn(source.run(config.greeks_interval, shutdown.clone()));
        }
    }
    info!(mode = %config.api_mode, client_portal = portal_needed, "portfolio-bridge running");

    shutdown.wait().await;
    info!("stopping");
    drop(log);
    while tasks.join_next().await.is_some() {}
    let _ = writer.await;
    Ok(())
}
