//! Runtime: what `portfolio-bridge run` starts — the database and its migrations, the
//! `api_logs` writer, the shared portfolio, and the IBKR sources the configuration asks for
//! — and how it stops: on the shutdown signal every task ends and the writer flushes.
//!
//! It owns no logic of its own; it only wires the modules together.

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::Shutdown;
use crate::api_log::{self, ApiLog};
use crate::config::{ApiMode, Config};
use crate::domain::portfolio::SharedPortfolio;
use crate::ibkr::portal::{PortalClient, PortalSource, SessionKeeper};
use crate::store;

/// How long `run` waits for PostgreSQL between attempts at startup.
const DB_RETRY: Duration = Duration::from_secs(5);
const DB_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    tasks.spawn(api_log::run_writer(log_rx, pool.clone(), shutdown.clone()));
    let portfolio = SharedPortfolio::new();

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
    Ok(())
}
