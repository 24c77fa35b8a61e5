//! Runtime: what `portfolio-bridge run` starts — the database and its migrations, the
//! greeks and `api_logs` writer, the shared portfolio, the IBKR sources the configuration asks
//! for, the job scheduler and a worker — and what `portfolio-bridge worker` starts; and how
//! they stop: on the shutdown signal every task ends and the writer flushes.
//!
//! It owns no logic of its own; it only wires the modules together.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::Shutdown;
use crate::alerts::deliver::{self, DeliverySettings};
use crate::alerts::{self, AlertSettings, AlertsView};
use crate::api_log::ApiLog;
use crate::clock::SystemClock;
use crate::config::{ApiMode, Config, DatabaseUrl};
use crate::domain::ids::BridgeName;
use crate::domain::portfolio::SharedPortfolio;
use crate::greeks::sink::PgSink;
use crate::greeks::spool::{Opened, Spool};
use crate::greeks::ticker::{self, TickStatus, TickerSettings};
use crate::greeks::writer::{self, Breaker, Writer, WriterSettings};
use crate::ibkr::portal::{PortalClient, PortalSource, SessionKeeper};
use crate::ibkr::socket::{SocketSettings, SocketSource};
use crate::jobs::Handler;
use crate::jobs::combo_sync::ComboSync;
use crate::jobs::greeks_history::GreeksHistory;
use crate::jobs::positions_sync::{LegSource, PositionsSync};
use crate::jobs::scheduler;
use crate::jobs::worker::{Streaks, Worker, WorkerSettings, worker_name};
use crate::store::{self, SchemaState, StoreError};
use crate::watchdog::{self, WatchdogSettings};
use crate::{heartbeat, http};

/// How long `worker` waits for PostgreSQL to accept its first connection.
const DB_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `run` waits for PostgreSQL between attempts at startup.
const DB_RETRY: Duration = Duration::from_secs(5);
/// How long a database call waits for a connection before counting as failed.
const DB_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one write may take before the writer opens its breaker.
const DB_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the tasks get to stop after the signal before they are ended (systemd waits 60 s
/// in all; the writer's flush comes after, bounded by its own write timeout).
const TASKS_STOP_WITHIN: Duration = Duration::from_secs(15);
/// How often the alert rules look at the bridge's state.
const ALERTS_EVERY: Duration = Duration::from_secs(1);
/// The longest a quiet TWS connection may take to answer the watchdog's probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the bridge until `shutdown`. Nothing waits for PostgreSQL: the schema is applied as
/// soon as it answers, and until then greeks rows and `api_logs` entries go to the spool.
/// `spool` is the opened `BRIDGE_BUFFER_PATH` ([`Spool::prepare`]).
pub async fn run(
    config: Config,
    spool: (Spool, Opened),
    mut outer: Shutdown,
) -> anyhow::Result<()> {
    let url = config.database_url()?.clone();
    // First, so that a taken port stops the bridge before it connects to anything.
    let addr = config.http.addr;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on BRIDGE_HTTP_ADDR={addr} for the read API and web page: is another \
             bridge (or another program) using it? Stop it, or set BRIDGE_HTTP_ADDR to a free port"
        )
    })?;
    // The tasks' own signal: fired by the caller's, or by the bridge itself.
    let (stop_all, shutdown) = Shutdown::new();
    let pool = store::lazy_pool(&url, DB_ACQUIRE_TIMEOUT);

    let (records, records_rx) = writer::channel();
    let (schema_tx, mut schema) = tokio::sync::watch::channel(SchemaState::Pending(
        "PostgreSQL has not been asked yet".into(),
    ));
    let sink = Arc::new(PgSink {
        pool: pool.clone(),
        timeout: DB_WRITE_TIMEOUT,
        schema: Some(schema.clone()),
    });
    let settings = WriterSettings {
        flush_interval: config.buffer_flush_interval,
        bridge: config.bridge_name.clone(),
        ..WriterSettings::default()
    };
    let (writer, writer_status) = Writer::new(sink, spool, settings)?;
    let drain_now = writer.drain_trigger();
    // Not in `tasks`: it ends after them, once the last record sender is dropped.
    let writer = tokio::spawn(writer.run(records_rx));
    let log = ApiLog::new(records.clone(), config.bridge_name.clone());

    let mut tasks = JoinSet::new();
    let me = heartbeat::Holder::me(crate::host_name(), jiff::Timestamp::now());
    tasks.spawn(migrate_when_up(
        pool.clone(),
        url.clone(),
        schema_tx,
        (config.bridge_name.clone(), me),
        shutdown.clone(),
    ));
    // Records kept while the schema was not there yet are stored as soon as it is (a closed
    // breaker has nothing waiting: a stored notification would make it drain at once the next
    // time it opens).
    let mut ready = schema.clone();
    let breaker = writer_status.clone();
    tokio::spawn(async move {
        if ready.wait_for(|s| *s == SchemaState::Ready).await.is_ok()
            && breaker.borrow().breaker == Breaker::Open
        {
            drain_now.notify_one();
        }
    });
    let portfolio = SharedPortfolio::new();

    if config.api_mode == ApiMode::Socket {
        let settings = SocketSettings {
            addr: config.socket.addr.to_string(),
            client_id: config.socket.client_id,
            market_data_client_id: config.socket.market_data_client_id,
            connect_timeout: config.socket.connect_timeout,
        };
        let source = SocketSource::new(settings, portfolio.clone());
        let watchdog = WatchdogSettings {
            interval: config.watchdog_interval,
            backoff: Duration::from_secs(1),
            quiet_after: config.watchdog_interval,
            probe_timeout: config.watchdog_interval.min(PROBE_TIMEOUT),
            reset: config.socket.reset_window.clone(),
            clock: Arc::new(SystemClock),
        };
        tasks.spawn(watchdog::run(
            source,
            watchdog,
            log.clone(),
            shutdown.clone(),
        ));
    }

    let mut handlers: Vec<Arc<dyn Handler>> = vec![Arc::new(PositionsSync {
        pool: pool.clone(),
        legs: LegSource::Live {
            portfolio: portfolio.clone(),
            source: match config.api_mode {
                ApiMode::Socket => "tws",
                ApiMode::Portal => "cpapi",
            },
        },
        then_combos: config.portal.enabled.then(|| config.bridge_name.clone()),
    })];
    handlers.push(greeks_history(&pool, &config));
    let portal_needed = config.portal.enabled || config.api_mode == ApiMode::Portal;
    let mut portal_session = None;
    if portal_needed {
        let client = PortalClient::new(&config.portal).context("Client Portal")?;
        // While a login is awaited the keeper looks every poll interval: a login is seen, and
        // PORTAL data flows, within one poll of it.
        let (keeper, session) = SessionKeeper::new(
            client.clone(),
            config.portal.tickle_interval,
            config.greeks_interval,
            log.clone(),
        );
        portal_session = Some(session.clone());
        tasks.spawn(keeper.run(shutdown.clone()));
        handlers.push(Arc::new(ComboSync {
            pool: pool.clone(),
            client: client.clone(),
        }));
        if config.api_mode == ApiMode::Portal {
            let source = PortalSource::new(client, portfolio.clone(), session, log.clone());
            tasks.spawn(source.run(config.greeks_interval, shutdown.clone()));
        }
    }
    let (streaks_tx, streaks) = tokio::sync::watch::channel(Streaks::new());
    // The queue's tables exist once the schema is ready: only then do jobs start.
    tasks.spawn(when_ready(schema.clone(), shutdown.clone(), {
        let (pool, portfolio, shutdown) = (pool.clone(), portfolio.clone(), shutdown.clone());
        let (interval, bridge) = (config.positions_sync_interval, config.bridge_name.clone());
        async move {
            let worker = Worker::new(
                pool.clone(),
                worker_name(1),
                handlers,
                WorkerSettings {
                    bridge: bridge.clone(),
                    ..WorkerSettings::default()
                },
            )
            .with_streaks(streaks_tx);
            tokio::join!(
                scheduler::run(
                    pool.clone(),
                    portfolio,
                    bridge.clone(),
                    interval,
                    shutdown.clone()
                ),
                scheduler::history(pool, bridge, shutdown.clone()),
                worker.run(shutdown),
            );
        }
    }));

    let (tick_status, ticks) = tokio::sync::watch::channel(TickStatus::default());
    let ticker = TickerSettings {
        bridge: config.bridge_name.clone(),
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
    let alerts = spawn_alerts(
        &config,
        alerts::Inputs {
            portfolio: portfolio.clone(),
            portal: portal_session.clone(),
            ticks: ticks.clone(),
            writer: writer_status.clone(),
            schema: schema.clone(),
            jobs: streaks,
        },
        &mut tasks,
        &shutdown,
    )?;
    // Read once more after everything stopped, for the closing account.
    let (ticks_at_stop, writer_at_stop) = (ticks.clone(), writer_status.clone());
    let live = http::Live {
        portfolio: portfolio.clone(),
        portal: portal_session,
        ticks,
        writer: writer_status,
        schema: schema.clone(),
        alerts,
    };
    let http_settings = http::Settings {
        bridge: config.bridge_name.clone(),
        greeks_interval: config.greeks_interval,
        greeks_max_age: config.greeks_max_age,
        expiry_warning_days: config.alerts.thresholds.expiry_business_days,
        ..http::Settings::new(
            config.api_mode,
            config.positions_sync_interval,
            http::edge::AllowedHosts::new(addr.ip(), config.http.allowed_hosts.clone()),
        )
    };
    let serving = listener.local_addr().unwrap_or(addr);
    let state = http::AppState::new(
        pool.clone(),
        live,
        http_settings,
        config.http.api_token.clone(),
    );
    {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = http::run(listener, state, shutdown).await {
                tracing::error!("the read API and web page stopped: {e}");
            }
        });
    }
    info!(
        mode = %config.api_mode,
        client_portal = portal_needed,
        "portfolio-bridge running; read API and web page at http://{serving}/"
    );

    let unusable = tokio::select! {
        _ = outer.wait() => false,
        // Once the schema is ready its sender is gone: then only the outer signal stops us.
        _ = async {
            if schema.wait_for(|s| matches!(s, SchemaState::Unusable(_))).await.is_err() {
                std::future::pending::<()>().await;
            }
        } => true,
    };
    info!("stopping");
    // The tasks watch the same signal; a schema that cannot serve stops them too.
    stop_all.send_replace(true);
    drop(log);
    drop(records);
    // Whatever a task is waiting on — a database that does not answer, a lock held elsewhere —
    // the bridge stops within its bound; the writer then keeps what it holds.
    let stopped = tokio::time::timeout(TASKS_STOP_WITHIN, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if stopped.is_err() {
        warn!(
            "{} tasks did not stop within {} s: ending them",
            tasks.len(),
            TASKS_STOP_WITHIN.as_secs()
        );
        tasks.shutdown().await;
    }
    let _ = writer.await;
    let rows = ticks_at_stop.borrow().rows;
    let w = writer_at_stop.borrow().clone();
    info!(
        "stopped: {rows} greeks rows made since start; {} records stored in PostgreSQL, {} wait \
         in the spool {} (stored once PostgreSQL takes them), {} lost",
        w.stored,
        w.spooled,
        config.buffer_path.display(),
        w.dropped + w.in_memory as u64
    );
    if unusable {
        let why = match &*schema.borrow() {
            SchemaState::Unusable(why) => why.clone(),
            _ => "the database cannot serve the bridge".to_owned(),
        };
        anyhow::bail!("{why}; portfolio-bridge stopped");
    }
    Ok(())
}

/// Starts the alert loop and the delivery to `ALERT_WEBHOOK_URL` / `ALERT_COMMAND`; the
/// alerts' view for the status.
fn spawn_alerts(
    config: &Config,
    inputs: alerts::Inputs,
    tasks: &mut JoinSet<()>,
    shutdown: &Shutdown,
) -> anyhow::Result<tokio::sync::watch::Receiver<AlertsView>> {
    let targets = config.alerts.targets.clone();
    // Only a bridge with somewhere to send alerts needs the HTTP client (and a CA store).
    let outbox = match targets.is_empty() {
        true => {
            info!(
                "no ALERT_WEBHOOK_URL or ALERT_COMMAND: alerts show on the status page and in \
                 the log only"
            );
            deliver::nowhere()
        }
        false => {
            let shown: Vec<String> = targets.iter().map(ToString::to_string).collect();
            info!("alerts go to {}", shown.join(", "));
            let client = deliver::http_client().context("alert delivery")?;
            let (outbox, delivery) = deliver::channel(client, targets, DeliverySettings::default());
            tasks.spawn(delivery.run(shutdown.clone()));
            outbox
        }
    };
    let (view_tx, view) = tokio::sync::watch::channel(AlertsView::default());
    let base = &config.portal.base_url;
    let settings = AlertSettings {
        mode: config.api_mode,
        reset: config.socket.reset_window.clone(),
        gateway_addr: config.socket.addr.to_string(),
        portal_login_url: format!("{}/", base.origin().ascii_serialization()),
        thresholds: config.alerts.thresholds.clone(),
        repeat: config.alerts.repeat,
        host: crate::host_name(),
        every: ALERTS_EVERY,
        clock: Arc::new(SystemClock),
    };
    tasks.spawn(alerts::run(
        inputs,
        settings,
        outbox,
        view_tx,
        shutdown.clone(),
    ));
    Ok(view)
}

/// Runs `task` once the schema is ready, unless the bridge stops first.
async fn when_ready(
    mut schema: tokio::sync::watch::Receiver<SchemaState>,
    mut shutdown: Shutdown,
    task: impl Future<Output = ()> + Send,
) {
    let ready = tokio::select! {
        ready = schema.wait_for(|s| *s == SchemaState::Ready) => ready.is_ok(),
        _ = shutdown.wait() => false,
    };
    if ready {
        task.await;
    }
}

/// The `greeks.history` handler, which any worker can run.
fn greeks_history(pool: &sqlx::PgPool, config: &Config) -> Arc<dyn Handler> {
    Arc::new(GreeksHistory {
        pool: pool.clone(),
        raw_retention: config.greeks_raw_retention,
    })
}

/// Runs `portfolio-bridge worker` until `shutdown`: the job types this configuration can run
/// without the live feed — `combo_positions.sync` with the Client Portal, and `positions.sync`
/// in PORTAL mode (read from the Client Portal). In SOCKET mode `positions.sync` needs the
/// live TWS feed, which only `portfolio-bridge run` holds.
pub async fn worker(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let url = config.database_url()?.clone();
    let pool = store::connect(&url, DB_CONNECT_TIMEOUT).await?;
    store::migrate(&pool).await?;
    let mut handlers: Vec<Arc<dyn Handler>> = vec![greeks_history(&pool, &config)];
    if config.portal.enabled || config.api_mode == ApiMode::Portal {
        let client = PortalClient::new(&config.portal).context("Client Portal")?;
        if config.api_mode == ApiMode::Portal {
            handlers.push(Arc::new(PositionsSync {
                pool: pool.clone(),
                legs: LegSource::Portal(client.clone()),
                then_combos: config.portal.enabled.then(|| config.bridge_name.clone()),
            }));
        }
        handlers.push(Arc::new(ComboSync {
            pool: pool.clone(),
            client,
        }));
    }
    let types: Vec<&str> = handlers.iter().map(|h| h.job_type()).collect();
    info!(
        "this worker runs {}; positions.sync in SOCKET mode needs the live TWS feed, which only \
         `portfolio-bridge run` holds, and combo_positions.sync the Client Portal \
         (IBKR_CP_ENABLED=true, or IB_API_MODE=PORTAL)",
        types.join(", ")
    );
    let settings = WorkerSettings {
        bridge: config.bridge_name.clone(),
        ..WorkerSettings::default()
    };
    let worker = Worker::new(pool, worker_name(1), handlers, settings);
    worker.run(shutdown).await;
    Ok(())
}

/// Applies the schema once PostgreSQL answers, trying again while it does not, and says why
/// each time the reason changes (the cause itself — a refused connection, a wrong password —
/// not the pool's timeout). A schema that cannot serve the bridge is not retried: the state
/// becomes unusable for good and the bridge stops. Then claims the bridge's name
/// ([`heartbeat`]) before anything is stored — a name another live bridge holds makes the
/// state unusable too — and keeps the claim fresh until the bridge stops.
async fn migrate_when_up(
    pool: sqlx::PgPool,
    url: DatabaseUrl,
    state: tokio::sync::watch::Sender<SchemaState>,
    (name, me): (BridgeName, heartbeat::Holder),
    mut shutdown: Shutdown,
) {
    let mut said: Option<String> = None;
    loop {
        let attempt = tokio::select! {
            attempt = async {
                let report = store::migrate(&pool).await?;
                let verdict = heartbeat::claim(&pool, &name, &me).await.map_err(StoreError::from)?;
                Ok::<_, StoreError>((report, verdict))
            } => attempt,
            _ = shutdown.wait() => return,
        };
        match attempt {
            Ok((_, heartbeat::Verdict::Refuse { holder, age })) => {
                let why = heartbeat::refusal(&name, holder.as_ref(), age);
                tracing::error!("{why}");
                state.send_replace(SchemaState::Unusable(why));
                return;
            }
            Ok((report, heartbeat::Verdict::Take)) => {
                if said.is_some() {
                    info!("PostgreSQL answers again");
                }
                info!(
                    version = report.current,
                    applied = report.applied.len(),
                    bridge = %name,
                    "schema ready"
                );
                if let Some(advice) = report.greeks_advice() {
                    warn!("{advice}");
                }
                state.send_replace(SchemaState::Ready);
                keep_name(&pool, &name, &me, &state, shutdown).await;
                return;
            }
            Err(e) if store::is_permanent(&e) => {
                tracing::error!("{e}");
                state.send_replace(SchemaState::Unusable(e.to_string()));
                return;
            }
            Err(e) => {
                let why = tokio::select! {
                    why = store::why_unavailable(&url, &e, DB_ACQUIRE_TIMEOUT) => why,
                    _ = shutdown.wait() => return,
                };
                if said.as_deref() != Some(why.as_str()) {
                    warn!(
                        "{why}; trying again every {} s until it works (greeks rows wait in the \
                         spool meanwhile)",
                        DB_RETRY.as_secs()
                    );
                    said = Some(why.clone());
                }
                state.send_replace(SchemaState::Pending(why));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(DB_RETRY) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Marks the bridge's name as held every [`heartbeat::EVERY`] until `shutdown`, then gives it
/// up. A database that does not answer is the writer's to report; a name another bridge has
/// taken meanwhile (this one was silent too long) makes the state unusable: the bridge stops.
async fn keep_name(
    pool: &sqlx::PgPool,
    name: &BridgeName,
    me: &heartbeat::Holder,
    state: &tokio::sync::watch::Sender<SchemaState>,
    mut shutdown: Shutdown,
) {
    // The claim itself was the first mark: the cadence starts one period later.
    let start = tokio::time::Instant::now() + heartbeat::EVERY;
    let mut every = tokio::time::interval_at(start, heartbeat::EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait() => break,
        }
        match heartbeat::beat(pool, name, me).await {
            Ok(true) => {}
            Ok(false) => {
                let why = format!(
                    "another bridge took the name {name} while this one could not reach the \
                     database for {} s: give each bridge its own BRIDGE_NAME",
                    heartbeat::STALE_AFTER.as_secs()
                );
                tracing::error!("{why}");
                state.send_replace(SchemaState::Unusable(why));
                return;
            }
            Err(e) => tracing::debug!("heartbeat not written: {e}"),
        }
    }
    let released = tokio::time::timeout(DB_ACQUIRE_TIMEOUT, heartbeat::release(pool, name, me));
    if !matches!(released.await, Ok(Ok(()))) {
        warn!(
            "could not give up the name {name} at stop: a restart elsewhere waits {} s for it",
            heartbeat::STALE_AFTER.as_secs()
        );
    }
}
