//! The TWS socket source and the watchdog against ibkr-sim, through the real `ibapi` client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ibkr_sim::Simulator;
use ibkr_sim::tws::Restore;
use jiff::Timestamp;
use portfolio_bridge::Shutdown;
use portfolio_bridge::api_log::ApiLog;
use portfolio_bridge::clock::{Clock, SystemClock, Wait};
use portfolio_bridge::config::default_market_data_client_id;
use portfolio_bridge::domain::ids::{AccountCode, ConId};
use portfolio_bridge::domain::portfolio::{SharedPortfolio, Staleness};
use portfolio_bridge::domain::reset_window::ResetWindow;
use portfolio_bridge::ibkr::socket::{SocketError, SocketSettings, SocketSource};
use portfolio_bridge::watchdog::{self, WatchdogSettings};
use sqlx::PgPool;

use crate::helpers::{eventually, sim_config, start_sim, within};

const MAX_AGE: Duration = Duration::from_secs(30);

fn conid(id: i64) -> ConId {
    ConId::new(id).expect("conid")
}

fn source(sim: &Simulator, client_id: i32) -> (SocketSource, SharedPortfolio) {
    let portfolio = SharedPortfolio::new();
    let settings = SocketSettings {
        addr: sim.tws_addr().to_string(),
        client_id,
        market_data_client_id: default_market_data_client_id(client_id),
        connect_timeout: Duration::from_secs(2),
    };
    (SocketSource::new(settings, portfolio.clone()), portfolio)
}

fn fast_watchdog(clock: Arc<dyn Clock>) -> WatchdogSettings {
    WatchdogSettings {
        interval: Duration::from_millis(200),
        backoff: Duration::from_millis(100),
        quiet_after: Duration::from_secs(600),
        probe_timeout: Duration::from_millis(300),
        // Pinned: these tests must not depend on the time of day they run at.
        reset: ResetWindow::none(),
        clock,
    }
}

/// Waits until `check` holds for the portfolio, prodding the simulator's prices so ticks flow.
async fn until(
    sim: &Simulator,
    portfolio: &SharedPortfolio,
    what: &str,
    check: impl Fn(&portfolio_bridge::domain::portfolio::Portfolio) -> bool,
) {
    within(what, async {
        while !portfolio.read(&check) {
            sim.control().world().advance(1);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// The next 1100, 1101 or 1102 the connection reports, past the farm notices (2103–2106)
/// a gateway sends around them.
async fn next_connectivity_notice(
    conn: &mut portfolio_bridge::ibkr::socket::SocketConnection,
) -> i32 {
    loop {
        match within("a connectivity notice", conn.next_event()).await {
            portfolio_bridge::ibkr::socket::SocketEvent::Notice { code, .. }
                if (1100..=1102).contains(&code) =>
            {
                return code;
            }
            portfolio_bridge::ibkr::socket::SocketEvent::Notice { .. } => {}
            other => panic!("the connection was lost: {other:?}"),
        }
    }
}

fn fresh_greeks(p: &portfolio_bridge::domain::portfolio::Portfolio) -> bool {
    let now = Timestamp::now();
    [820000001, 820000002, 820000003, 840000001]
        .iter()
        .all(|c| {
            p.greeks(conid(*c), now, MAX_AGE)
                .is_ok_and(|g| g.value.is_complete())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_multipliers_and_greeks_reach_the_state() {
    let sim = start_sim(sim_config()).await;
    let (source, portfolio) = source(&sim, 40);
    let _conn = within("connect", source.connect())
        .await
        .expect("connected");
    let world = sim.control().world().clone();
    let legs = world.all_legs(Timestamp::now()).len();
    until(&sim, &portfolio, "legs, contracts and greeks", |p| {
        p.legs().count() == legs
            && p.legs().all(|l| {
                p.contract(l.conid)
                    .is_some_and(|c| c.effective_multiplier().is_some())
            })
            && fresh_greeks(p)
    })
    .await;

    let now = Timestamp::now();
    portfolio.read(|p| {
        assert!(p.health().connected);
        let account = AccountCode::parse("DU1234567").expect("account");
        let cl1 = p
            .account_legs(&account)
            .find(|l| l.conid == conid(810000001))
            .expect("CL month 1");
        assert_eq!(cl1.quantity, -3.0);
        let call = p.contract(conid(820000001)).expect("the call");
        assert_eq!(call.multiplier, Some(1000.0));
        assert_eq!(
            call.underlying_conid,
            Some(conid(810000002)),
            "from contract details"
        );
        assert!(
            call.local_symbol
                .as_deref()
                .is_some_and(|s| s.starts_with("LO"))
        );
        let greeks = p
            .greeks(conid(820000001), now, MAX_AGE)
            .expect("fresh")
            .value;
        let model = world
            .quote(820000001, now)
            .expect("q")
            .model
            .expect("model");
        assert!((greeks.delta.expect("delta") - model.greeks.delta).abs() < 0.05);
        // The future under the options has a price of its own (from its market data, or the
        // option computations' underlying price).
        assert!(p.price(conid(810000002), now, MAX_AGE).is_ok());
        assert!(
            p.price(conid(265598), now, MAX_AGE).is_ok(),
            "AAPL needs SMART, which the source fills in"
        );
    });
    // Account updates, visiting both accounts in turn, brought portfolio values.
    until(&sim, &portfolio, "portfolio values", |p| {
        p.legs().all(|l| l.market_value.is_some())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_data_is_used_and_recorded_where_live_is_not_permitted() {
    let mut cfg = sim_config();
    // No live AAPL permission: the stock and its option are delayed alike. (A live option's
    // computations carry a live underlying price, which would race the stock's own delayed one.)
    for instrument in cfg.scenario.instruments.values_mut() {
        if instrument.symbol == "AAPL" {
            instrument.delayed_only = true;
        }
    }
    let sim = start_sim(cfg).await;
    let (source, portfolio) = source(&sim, 41);
    let _conn = within("connect", source.connect())
        .await
        .expect("connected");
    until(&sim, &portfolio, "AAPL's delayed price", |p| {
        p.price(conid(265598), Timestamp::now(), MAX_AGE).is_ok()
    })
    .await;
    portfolio.read(|p| {
        let now = Timestamp::now();
        let aapl = p.price(conid(265598), now, MAX_AGE).expect("price");
        assert_eq!(
            aapl.kind,
            portfolio_bridge::domain::portfolio::DataKind::Delayed
        );
    });
    until(&sim, &portfolio, "CL's live price", |p| {
        p.price(conid(810000001), Timestamp::now(), MAX_AGE)
            .is_ok_and(|o| o.kind == portfolio_bridge::domain::portfolio::DataKind::Live)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_in_use_is_reported_clearly() {
    let sim = start_sim(sim_config()).await;
    let (first, _) = source(&sim, 42);
    let _held = within("connect", first.connect()).await.expect("connected");
    let (second, _) = source(&sim, 42);
    let err = within("connect", second.connect())
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, SocketError::ClientIdInUse { client_id: 42, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("IB_CLIENT_ID=42 is already in use"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_data_has_its_own_client_and_a_clash_on_it_names_its_variable() {
    let sim = start_sim(sim_config()).await;
    let (first, portfolio) = source(&sim, 42);
    let _held = within("connect", first.connect()).await.expect("connected");
    assert_eq!(sim.control().tws().status().client_ids, [42, 43]);
    // Market data arrives on the second client: every option gets its greeks.
    until(&sim, &portfolio, "greeks of every option", fresh_greeks).await;

    // A second bridge whose market-data id is the first one's: refused, its first client closed.
    let portfolio = SharedPortfolio::new();
    let settings = SocketSettings {
        addr: sim.tws_addr().to_string(),
        client_id: 50,
        market_data_client_id: 43,
        connect_timeout: Duration::from_secs(2),
    };
    let err = within("connect", SocketSource::new(settings, portfolio).connect())
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .starts_with("IB_MARKET_DATA_CLIENT_ID=43 is already in use"),
        "{err}"
    );
    eventually("the refused bridge's first client closed", || async {
        sim.control().tws().status().client_ids == [42, 43]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_1100_then_1102_and_1100_then_1101_with_a_resubscribe() {
    let sim = start_sim(sim_config()).await;
    let (source, portfolio) = source(&sim, 43);
    let mut conn = within("connect", source.connect())
        .await
        .expect("connected");
    until(&sim, &portfolio, "fresh greeks", fresh_greeks).await;
    let tws = sim.control().tws().clone();
    let lines = tws.status().market_data_lines;
    assert!(
        lines >= 8,
        "options, futures, stocks and underlyings: {lines}"
    );

    tws.lose_connectivity();
    let event = within("1100", conn.next_event()).await;
    assert!(
        matches!(
            &event,
            portfolio_bridge::ibkr::socket::SocketEvent::Notice { code: 1100, .. }
        ),
        "{event:?}"
    );
    let stale = portfolio.read(|p| p.greeks(conid(820000001), Timestamp::now(), MAX_AGE));
    assert_eq!(
        stale.err(),
        Some(Staleness::BeforeReconnect),
        "1100 makes what was seen stale"
    );
    tws.restore_connectivity(Restore::DataMaintained);
    assert_eq!(next_connectivity_notice(&mut conn).await, 1102);
    until(
        &sim,
        &portfolio,
        "fresh again on the same subscriptions",
        fresh_greeks,
    )
    .await;
    assert_eq!(tws.status().market_data_lines, lines);

    tws.lose_connectivity();
    assert_eq!(next_connectivity_notice(&mut conn).await, 1100);
    tws.restore_connectivity(Restore::DataLost);
    assert_eq!(next_connectivity_notice(&mut conn).await, 1101);
    // The simulator forgot every subscription; the source opens them again.
    within("resubscribed", async {
        while tws.status().market_data_lines != lines {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    until(
        &sim,
        &portfolio,
        "fresh after the resubscribe",
        fresh_greeks,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_window_is_ridden_out_and_greeks_flow_again() {
    let sim = start_sim(sim_config()).await;
    let (source, portfolio) = source(&sim, 44);
    let (log, mut entries) = ApiLog::channel();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(watchdog::run(
        source,
        fast_watchdog(Arc::new(SystemClock)),
        log,
        shutdown,
    ));
    until(&sim, &portfolio, "fresh greeks", fresh_greeks).await;

    sim.control().tws().restart(Duration::from_millis(800));
    // The watchdog's own account, as it happens: the loss, the refused attempts, the reconnect.
    let mut log = Vec::new();
    within("the bridge notices and reconnects", async {
        while log
            .iter()
            .filter(|e: &&String| e.starts_with("ok connected to TWS API"))
            .count()
            < 2
        {
            let records = entries.recv().await.expect("the watchdog runs");
            log.extend(crate::helpers::log_lines_of(records));
        }
    })
    .await;
    until(&sim, &portfolio, "reconnected with fresh greeks", |p| {
        p.health().connected && fresh_greeks(p)
    })
    .await;
    let _ = stop.send(true);

    log.extend(crate::helpers::log_lines(&mut entries));
    assert!(
        log.iter()
            .any(|e| e.starts_with("error TWS API connection lost")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|e| e.contains("failed: cannot connect") || e.contains("failed: IB Gateway")),
        "refused during the window: {log:#?}"
    );
    let connects = log
        .iter()
        .filter(|e| e.starts_with("ok connected to TWS API"))
        .count();
    assert_eq!(connects, 2, "the first connect and the reconnect: {log:#?}");
    assert!(portfolio.read(|p| p.health().epoch) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_is_detected_and_the_connection_rebuilt() {
    let sim = start_sim(sim_config()).await;
    let (source, portfolio) = source(&sim, 45);
    let (log, mut entries) = ApiLog::channel();
    let (stop, shutdown) = Shutdown::new();
    let mut settings = fast_watchdog(Arc::new(SystemClock));
    settings.quiet_after = Duration::from_millis(300);
    tokio::spawn(watchdog::run(source, settings, log, shutdown));
    until(&sim, &portfolio, "connected", |p| p.health().connected).await;

    sim.control().tws().stall();
    within("the stall is detected", async {
        while portfolio.read(|p| p.health().connected) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    sim.control().tws().resume();
    until(&sim, &portfolio, "connected again", |p| {
        p.health().connected && fresh_greeks(p)
    })
    .await;
    let _ = stop.send(true);
    let log = crate::helpers::log_lines(&mut entries);
    assert!(
        log.iter().any(|e| e.contains("the connection has stalled")),
        "{log:#?}"
    );
}

/// A clock at a chosen time that never really waits for long: `sleep` and `sleep_until` move
/// the time on at once and yield for a moment of real time, so other tasks run.
struct ManualClock {
    now: Mutex<Timestamp>,
    /// Every `sleep_until` asked for, in order, as a channel a test can await.
    waits: tokio::sync::watch::Sender<Vec<Timestamp>>,
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("lock")
    }

    fn sleep(&self, duration: Duration) -> Wait<'_> {
        let mut now = self.now.lock().expect("lock");
        *now = now.checked_add(duration).expect("in range");
        Box::pin(tokio::time::sleep(Duration::from_millis(5)))
    }

    fn sleep_until(&self, at: Timestamp) -> Wait<'_> {
        self.waits.send_modify(|w| w.push(at));
        *self.now.lock().expect("lock") = at;
        Box::pin(tokio::time::sleep(Duration::from_millis(5)))
    }
}

#[sqlx::test]
async fn a_connection_lost_inside_the_reset_window_waits_for_0005_and_logs_every_attempt(
    pool: PgPool,
) {
    let sim = start_sim(sim_config()).await;
    let (source, portfolio) = source(&sim, 46);
    // 23:41 in New York (EST), with no real waiting: the periodic checks move this clock on
    // 200 ms at each, so the window leaves some 20 minutes of it for the test.
    let clock = Arc::new(ManualClock {
        now: Mutex::new("2026-11-21T04:41:00Z".parse().expect("ts")),
        waits: tokio::sync::watch::channel(Vec::new()).0,
    });
    let dir = tempfile::tempdir().expect("dir");
    let log = crate::helpers::db_log(&pool, dir.path());
    let (stop, shutdown) = Shutdown::new();
    let mut settings = fast_watchdog(clock.clone());
    settings.reset = ResetWindow::default_new_york();
    tokio::spawn(watchdog::run(source, settings, log, shutdown));
    // Started inside the window, it connects at once.
    until(&sim, &portfolio, "connected", |p| p.health().connected).await;
    let resume: Timestamp = "2026-11-21T05:05:00Z".parse().expect("00:05 EST");
    assert!(
        !clock.waits.borrow().contains(&resume),
        "the first connect waited for the window's end"
    );

    // Lost inside the window, and refused for a while: it waits for 00:05, then retries.
    let mut waits = clock.waits.subscribe();
    sim.control().tws().restart(Duration::from_millis(700));
    within(
        "the watchdog waits for the window's end",
        waits.wait_for(|w| w.contains(&resume)),
    )
    .await
    .expect("the clock lives");
    until(&sim, &portfolio, "connected again", |p| {
        p.health().connected
    })
    .await;
    let _ = stop.send(true);
    assert!(clock.waits.borrow().contains(&resume), "no wait for 00:05");

    let rows = within("api_logs rows", async {
        loop {
            let rows = portfolio_bridge::store::api_logs::recent(&pool, 10_000)
                .await
                .expect("rows");
            let connects = rows
                .iter()
                .filter(|(_, _, status, m)| status == "ok" && m.starts_with("connected"))
                .count();
            if connects == 2 {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let rows: Vec<String> = rows
        .iter()
        .rev()
        .map(|(_, mode, status, m)| format!("{mode} {status} {m}"))
        .collect();
    assert!(rows.iter().all(|r| r.starts_with("SOCKET ")), "{rows:#?}");
    assert!(rows[0].contains("(attempt 1 of 3)"), "{rows:#?}");
    let waiting = rows
        .iter()
        .position(|r| r.starts_with("SOCKET warning disconnected during IBKR's daily reset"))
        .unwrap_or_else(|| panic!("no wait for the window's end: {rows:#?}"));
    assert!(
        rows[waiting].contains("waiting until 2026-11-21 00:05 America/New_York"),
        "{rows:#?}"
    );
    // Right after the loss, however the watchdog learnt of it (the stream's end, or its own
    // check finding the socket closed).
    assert!(
        rows[waiting - 1].starts_with("SOCKET error TWS API connection"),
        "{rows:#?}"
    );
    let after: Vec<&String> = rows[waiting + 1..].iter().collect();
    let attempts = after.iter().filter(|r| r.contains("(attempt ")).count();
    let failures = after
        .iter()
        .filter(|r| r.starts_with("SOCKET error attempt"))
        .count();
    assert!(
        failures >= 1 && attempts == failures + 1,
        "every attempt and failure is a row: {rows:#?}"
    );
    assert!(
        rows.last()
            .expect("rows")
            .starts_with("SOCKET ok connected to TWS API"),
        "{rows:#?}"
    );
}
