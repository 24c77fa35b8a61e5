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
use crate::api_log::ApiLog;
use crate::clock::SystemClock;
use crate::config::{ApiMode, Config};
use crate::domain::portfolio::SharedPortfolio;
use crate::greeks::sink::PgSink;
use crate::greeks::ticker::{self, TickStatus, TickerSettings};
use crate::greeks::writer::{self, Writer, WriterSettings};
use crate::ibkr::portal::{PortalClient, PortalSource, SessionKeeper};
use crate::ibkr::socket::{SocketSettings, SocketSource};
use crate::store;
use crate::watchdog::{self, WatchdogSettings};

/// How long `run` waits for PostgreSQL between attempts at startup.
const DB_RETRY: Duration = Duration::from_secs(5);
/// How long a database call waits for a connection before counting as failed.
const DB_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one write may take before the writer opens its breaker.
const DB_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a quiet TWS connection may take to answer the watchdog's probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the bridge until `shutdown`. Nothing waits for PostgreSQL: the schema is applied as
/// soon as it answers, and until then greeks rows and `api_logs` entries go to the spool.
pub async fn run(config: Config, mut outer: Shutdown) -> anyhow::Result<()> {
    let url = config.database_url()?.clone();
    // The tasks' own signal: fired by the caller's, or by the bridge itself.
    let (stop_all, shutdown) = Shutdown::new();
    let pool = store::lazy_pool(&url, DB_ACQUIRE_TIMEOUT);

    let (records, records_rx) = writer::channel();
    let sink = Arc::new(PgSink {
        pool: pool.clone(),
        timeout: DB_WRITE_TIMEOUT,
    });
    let settings = WriterSettings {
        flush_interval: config.buffer_flush_interval,
        ..WriterSettings::default()
    };
    let (writer, _writer_status) = Writer::new(sink, config.buffer_path.clone(), settings);
    let drain_now = writer.drain_trigger();
    // Not in `tasks`: it ends after them, once the last record sender is dropped.
    let writer = tokio::spawn(writer.run(records_rx));
    let log = ApiLog::new(records.clone());

    let mut tasks = JoinSet::new();
    let (schema_tx, mut schema) = tokio::sync::watch::channel(Schema::Pending);
    tasks.spawn(migrate_when_up(pool.clone(), schema_tx, shutdown.clone()));
    // Records kept while the schema was not there yet are stored as soon as it is.
    let mut ready = schema.clone();
    tokio::spawn(async move {
        if ready.wait_for(|s| *s == Schema::Ready).await.is_ok() {
            drain_now.notify_one();
        }
    });
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

    let (tick_status, _tick_rx) = tokio::sync::watch::channel(TickStatus::default());
    let ticker = TickerSettings {
        interval: config.greeks_interval,
        max_age: config.greeks_max_age,
        clock: Arc::new(SystemClock),
    };
    tasks.spawn(ticker::run(
        portfolio.clone(),
        ticker,
        records.clone(),
        tick_status,
        shutdown.clone(),
    ));
    info!(mode = %config.api_mode, client_portal = portal_needed, "portfolio-bridge running");

    let unusable = tokio::select! {
        _ = outer.wait() => false,
        // Once the schema is ready its sender is gone: then only the outer signal stops us.
        _ = async {
            if schema.wait_for(|s| *s == Schema::Unusable).await.is_err() {
                std::future::pending::<()>().await;
            }
        } => true,
    };
    info!("stopping");
    // The tasks watch the same signal; a schema that cannot serve stops them too.
    stop_all.send_replace(true);
    drop(log);
    drop(records);
    while tasks.join_next().await.is_some() {}
    let _ = writer.await;
    if unusable {
        anyhow::bail!(
            "the database schema cannot serve the bridge (see above); portfolio-bridge stopped"
        );
    }
    Ok(())
}

/// Where the schema stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    Pending,
    Ready,
    Unusable,
}

/// Applies the schema once PostgreSQL answers, trying again while it does not. A schema that
/// cannot serve the bridge is not retried: `ready` becomes false for good and the bridge stops.
async fn migrate_when_up(
    pool: sqlx::PgPool,
    ready: tokio::sync::watch::Sender<Schema>,
    mut shutdown: Shutdown,
) {
    loop {
        match store::migrate(&pool).await {
            Ok(report) => {
                info!(
                    version = report.current,
                    applied = report.applied.len(),
                    "schema ready"
                );
                let _ = ready.send(Schema::Ready);
                return;
            }
            Err(e @ (store::StoreError::Schema(_) | store::StoreError::NewerSchema { .. })) => {
                tracing::error!("{e}");
                let _ = ready.send(Schema::Unusable);
                return;
            }
            Err(e) => warn!(
                "{e}; trying again in {} s (greeks rows wait in the spool)",
                DB_RETRY.as_secs()
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(DB_RETRY) => {}
            _ = shutdown.wait() => return,
        }
    }
}
