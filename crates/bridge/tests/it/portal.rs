//! The Client Portal source against ibkr-sim over HTTPS with its self-signed certificate.

use std::time::{Duration, Instant};

use ibkr_sim::SimConfig;
use ibkr_sim::cp::{Fault, FaultKind, Unauthenticated};
use ibkr_sim::scenario::Scenario;
use jiff::Timestamp;
use portfolio_bridge::Shutdown;
use portfolio_bridge::api_log::ApiLog;
use portfolio_bridge::domain::ids::{AccountCode, ConId};
use portfolio_bridge::domain::portfolio::SharedPortfolio;
use portfolio_bridge::ibkr::portal::{
    PortalClient, PortalError, PortalSource, SessionKeeper, SessionState,
};
use sqlx::PgPool;

use crate::helpers::{checked_session, client, portal_config, sim_config, start_sim, within};

fn acct(code: &str) -> AccountCode {
    AccountCode::parse(code).expect("account")
}

fn conid(id: i64) -> ConId {
    ConId::new(id).expect("conid")
}

/// How many requests to `path` the gateway has answered.
fn calls_to(sim: &ibkr_sim::Simulator, path: &str) -> usize {
    let requests = sim.control().cp().requests();
    requests.iter().filter(|r| r.path == path).count()
}

/// Every request to `path` answered 503, after `millis`.
fn always_503(sim: &ibkr_sim::Simulator, path: &str, millis: u64) {
    sim.control().cp().add_fault(Fault {
        path: path.into(),
        kind: FaultKind::Status {
            status: 503,
            millis: Some(millis),
        },
        count: None,
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_returns_the_scenarios_data() {
    let sim = start_sim(sim_config()).await;
    let c = client(&sim).await;
    assert!(c.tickle().await.expect("tickle").authenticated);
    let accounts = c.accounts().await.expect("accounts");
    assert_eq!(
        accounts.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
        ["DU1234567", "DU7654321"]
    );

    let world = sim.control().world();
    let positions = c
        .positions(&acct("DU1234567"), true)
        .await
        .expect("positions");
    let legs = world.legs("DU1234567", Timestamp::now());
    assert_eq!(positions.len(), legs.len());
    for p in &positions {
        let leg = legs
            .iter()
            .find(|l| i64::from(l.instrument.conid) == i64::from(p.contract.conid))
            .expect("a leg");
        assert_eq!(p.quantity, leg.quantity);
        assert!(p.raw.is_object(), "the raw row is kept");
    }

    let summary = c.summary(&acct("DU1234567")).await.expect("summary");
    assert!(summary.net_liquidation.is_some());

    let combos = c.combo_positions(&acct("DU1234567")).await.expect("combos");
    assert_eq!(combos.len(), 2);
    assert!(
        combos
            .iter()
            .all(|combo| combo.legs.len() == 2 && combo.legs.iter().all(|l| l.ratio.is_some()))
    );

    let codes = c.iserver_accounts().await.expect("iserver accounts");
    assert_eq!(codes.len(), 2);
    // A future streams only after a search for its root; the stock needs none.
    assert!(c.search("CL").await.expect("search") > 0);
    // The first call for a conid returns nothing; the client asks again at once.
    let snaps = c
        .snapshots(&[conid(810000001), conid(265598)])
        .await
        .expect("snapshots");
    assert!(
        snaps.iter().all(|s| s.has_data() && s.price().is_some()),
        "{snaps:?}"
    );
    let snapshot_calls = calls_to(&sim, "/iserver/marketdata/snapshot");
    assert_eq!(snapshot_calls, 2, "the empty first answer was asked again");

    let facts = c.secdefs(&[conid(820000001)]).await.expect("secdef");
    assert_eq!(facts[0].multiplier, Some(1000.0));
    assert_eq!(facts[0].underlying_conid, Some(conid(810000002)));
    let info = c.contract_info(conid(810000001)).await.expect("info");
    assert_eq!(
        info.local_symbol.as_deref(),
        Some(
            world
                .instrument(810000001)
                .expect("CL1")
                .local_symbol
                .as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_read_across_pages() {
    // 150 stocks in one account: two pages of up to 100.
    let mut toml = String::from(
        "[[underlyings]]\nsymbol = \"S\"\nprice = 10.0\nvolatility = 0.2\n[[accounts]]\nid = \"U7777777\"\n",
    );
    for i in 1..=150 {
        toml.push_str(&format!(
            "[[instruments]]\nconid = {i}\nsymbol = \"S\"\nsec_type = \"STK\"\nexchange = \"SMART\"\nlocal_symbol = \"S{i}\"\n\
             [[positions]]\naccount = \"U7777777\"\nconid = {i}\nquantity = {i}\navg_price = 9.5\n"
        ));
    }
    let scenario = Scenario::from_toml(&toml, crate::helpers::today()).expect("scenario");
    let mut cfg = SimConfig::for_tests(scenario);
    cfg.cp.tls = true;
    let sim = start_sim(cfg).await;
    let c = client(&sim).await;
    c.accounts().await.expect("accounts");
    let rows = c
        .positions(&acct("U7777777"), false)
        .await
        .expect("positions");
    assert_eq!(rows.len(), 150);
    let pages: Vec<String> = sim
        .control()
        .cp()
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.contains("/positions/"))
        .collect();
    assert_eq!(
        pages,
        [
            "/portfolio/U7777777/positions/0",
            "/portfolio/U7777777/positions/1"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_source_fills_the_portfolio_with_legs_contracts_and_greeks() {
    let sim = start_sim(sim_config()).await;
    let (_keeper, session) = checked_session(&sim).await;
    assert_eq!(session.borrow().state, SessionState::Authenticated);
    let portfolio = SharedPortfolio::new();
    let (log, _rx) = ApiLog::channel();
    let mut source = PortalSource::new(client(&sim).await, portfolio.clone(), session, log);

    let first = source.poll().await.expect("first poll");
    assert_eq!(first.accounts, 2);
    let world = sim.control().world();
    assert_eq!(first.legs, world.all_legs(Timestamp::now()).len());
    // IBKR computes greeks a few polls after a conid starts streaming (the simulator: on a
    // snapshot poll between the third and the sixth).
    let mut polls = 1;
    loop {
        let next = source.poll().await.expect("another poll");
        polls += 1;
        if next.greeks >= 4 {
            break;
        }
        assert!(polls < 6, "no greeks after {polls} polls: {next:?}");
    }

    let now = Timestamp::now();
    let max_age = Duration::from_secs(30);
    portfolio.read(|p| {
        assert!(p.health().connected);
        let cl1 = p.contract(conid(810000001)).expect("CL month 1");
        assert_eq!(
            cl1.multiplier,
            Some(1000.0),
            "looked up: positions left it out"
        );
        assert_eq!(
            cl1.local_symbol.as_deref(),
            Some(
                world
                    .instrument(810000001)
                    .expect("CL1")
                    .local_symbol
                    .as_str()
            )
        );
        let call = p.contract(conid(820000001)).expect("the call");
        assert_eq!(call.underlying_conid, Some(conid(810000002)));
        let greeks = p
            .greeks(conid(820000001), now, max_age)
            .expect("fresh greeks")
            .value;
        let model = world
            .quote(820000001, now)
            .expect("quote")
            .model
            .expect("model");
        assert!((greeks.delta.expect("delta") - model.greeks.delta).abs() < 1e-3);
        assert_eq!(greeks.underlying_price, Some(model.underlying_price));
        let und = p
            .price(conid(810000002), now, max_age)
            .expect("underlying price")
            .value;
        assert_eq!(und, model.underlying_price);
        let account = acct("DU1234567");
        let leg = p
            .account_legs(&account)
            .find(|l| l.conid == conid(810000001))
            .expect("leg");
        assert_eq!(leg.quantity, -3.0);
        assert!(leg.raw.is_some());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_payload_is_a_typed_error_with_the_raw_body_and_changes_nothing() {
    let sim = start_sim(sim_config()).await;
    let (_keeper, session) = checked_session(&sim).await;
    let portfolio = SharedPortfolio::new();
    let (log, mut entries) = ApiLog::channel();
    let mut source = PortalSource::new(client(&sim).await, portfolio.clone(), session, log);
    source.poll().await.expect("first poll");
    let before: Vec<(String, i32, f64)> = portfolio.read(|p| {
        p.legs()
            .map(|l| (l.account.to_string(), l.conid.get(), l.quantity))
            .collect()
    });

    // The first account reads fine and has changed; the second answers garbage.
    sim.control()
        .world()
        .set_position("DU1234567", 830000001, 5.0, 6000.0)
        .expect("change");
    sim.control().cp().add_fault(Fault {
        path: "/portfolio/DU7654321/positions/0".into(),
        kind: FaultKind::Malformed,
        count: Some(1),
    });
    let err = source.poll_and_report().await.expect_err("malformed");
    match &err {
        PortalError::UnexpectedPayload { path, raw, .. } => {
            assert_eq!(path, "/portfolio/DU…321/positions/0", "the account masked");
            assert!(
                !raw.is_empty() && serde_json::from_str::<serde_json::Value>(raw).is_err(),
                "the raw body: {raw}"
            );
        }
        other => panic!("expected an unexpected payload, got {other:?}"),
    }
    let after: Vec<(String, i32, f64)> = portfolio.read(|p| {
        p.legs()
            .map(|l| (l.account.to_string(), l.conid.get(), l.quantity))
            .collect()
    });
    assert_eq!(
        after, before,
        "nothing half-written: the first account's change waits for a whole poll"
    );
    assert!(!portfolio.read(|p| p.health().connected));
    let lines = crate::helpers::log_lines(&mut entries);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("unexpected answer from /portfolio/DU…321/positions/0")),
        "{lines:?}"
    );

    source
        .poll_and_report()
        .await
        .expect("the next poll is whole");
    assert!(portfolio.read(|p| {
        p.legs()
            .any(|l| l.conid == conid(830000001) && l.quantity == 5.0)
    }));
    let lines = crate::helpers::log_lines(&mut entries);
    assert!(lines.iter().any(|l| l.contains("flows again")), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_slows_the_bridge_down_and_loses_nothing() {
    let sim = start_sim(sim_config()).await;
    let c = client(&sim).await;
    c.accounts().await.expect("accounts");
    let path = "/portfolio/DU1234567/positions/0";
    sim.control().cp().add_fault(Fault {
        path: path.into(),
        kind: FaultKind::Status {
            status: 429,
            millis: None,
        },
        count: Some(3),
    });
    let started = Instant::now();
    let rows = c
        .positions(&acct("DU1234567"), false)
        .await
        .expect("read after the storm");
    assert_eq!(
        rows.len(),
        sim.control()
            .world()
            .legs("DU1234567", Timestamp::now())
            .len()
    );
    // Each 429 said Retry-After: 1, and the client held back that long every time.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let calls: Vec<u16> = sim
        .control()
        .cp()
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect();
    assert_eq!(
        calls,
        [429, 429, 429, 200],
        "three refusals, one success, no storm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_that_took_the_gateway_its_time_is_tried_once_more_not_thrice() {
    let sim = start_sim(sim_config()).await;
    // IBKR's gateway gives up after 10 s and answers 503; scaled down here: a 2 s request
    // timeout against a gateway that takes 1.2 s to say 503.
    let mut config = portal_config(&sim);
    config.timeout = Duration::from_secs(2);
    let c = PortalClient::new(&config).expect("client");
    always_503(&sim, "/iserver/accounts", 1200);
    let err = c.iserver_accounts().await.expect_err("503 every time");
    assert!(
        matches!(err, PortalError::Refused { status: 503, .. }),
        "{err:?}"
    );
    let calls = calls_to(&sim, "/iserver/accounts");
    assert_eq!(calls, 2, "retried while within one request timeout in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_429s_end_in_a_rate_limited_error() {
    let sim = start_sim(sim_config()).await;
    let c = client(&sim).await;
    // At once: this test is about retries, not the gateway's 10 s before a 503.
    always_503(&sim, "/iserver/accounts", 0);
    let err = c.iserver_accounts().await.expect_err("503 every time");
    assert!(
        matches!(err, PortalError::Refused { status: 503, .. }),
        "{err:?}"
    );
    let calls = calls_to(&sim, "/iserver/accounts");
    assert_eq!(calls, 4, "a read is tried four times, then reported");
    // A POST is never retried.
    sim.control().cp().add_fault(Fault {
        path: "/tickle".into(),
        kind: FaultKind::Status {
            status: 500,
            millis: None,
        },
        count: None,
    });
    assert!(c.tickle().await.is_err());
    assert_eq!(calls_to(&sim, "/tickle"), 1);
}

#[sqlx::test]
async fn session_expiry_becomes_reauth_required_and_recovers_after_a_login(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let (stop, shutdown) = Shutdown::new();
    let dir = tempfile::tempdir().expect("dir");
    let log = crate::helpers::db_log(&pool, dir.path());
    let (keeper, mut session) = SessionKeeper::new(
        client(&sim).await,
        Duration::from_millis(200),
        Duration::from_millis(200),
        log,
    );
    tokio::spawn(keeper.run(shutdown));

    within(
        "authenticated",
        session.wait_for(|s| s.state == SessionState::Authenticated),
    )
    .await
    .expect("state");
    sim.control().cp().expire();
    let reauth = within(
        "re-auth required",
        session.wait_for(|s| s.state == SessionState::ReauthRequired),
    )
    .await
    .expect("state")
    .clone();
    assert!(
        reauth
            .message
            .starts_with("Re-auth required: log in to the Client Portal Gateway at https://"),
        "{}",
        reauth.message
    );
    assert!(!reauth.authenticated);
    sim.control().cp().login();
    within(
        "authenticated again",
        session.wait_for(|s| s.state == SessionState::Authenticated),
    )
    .await
    .expect("state");

    // Three state changes, three rows; the tickles in between wrote nothing.
    let rows = within("api_logs rows", async {
        loop {
            let rows = portfolio_bridge::store::api_logs::recent(&pool, 10)
                .await
                .expect("rows");
            if rows.len() >= 3 {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let messages: Vec<(&str, &str, &str)> = rows
        .iter()
        .rev()
        .map(|(_, mode, status, msg)| (mode.as_str(), status.as_str(), msg.as_str()))
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!((messages[0].0, messages[0].1), ("PORTAL", "ok"));
    assert!(messages[1].2.contains("Re-auth required"), "{messages:?}");
    assert_eq!(messages[1].1, "error");
    assert_eq!(messages[2].1, "ok");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_timeout_is_recovered_with_ssodh_init() {
    let sim = start_sim(sim_config()).await;
    let (keeper, session) = checked_session(&sim).await;
    sim.control().cp().idle_out();
    keeper.check().await;
    assert_eq!(session.borrow().state, SessionState::Authenticated);
    let paths: Vec<String> = sim
        .control()
        .cp()
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        paths.ends_with(&[
            "/tickle".into(),
            "/iserver/auth/status".into(),
            "/iserver/auth/ssodh/init".into()
        ]),
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_competing_session_is_reported_and_not_taken_over() {
    let sim = start_sim(sim_config()).await;
    let (keeper, session) = checked_session(&sim).await;
    sim.control().cp().compete();
    keeper.check().await;
    let s = session.borrow().clone();
    assert_eq!(s.state, SessionState::Competing);
    assert!(s.message.contains("does not take it over"));
    assert!(
        sim.control().cp().status().competing,
        "the other login keeps its session"
    );
    assert!(s.can_read_portfolio());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_the_login_page_means_not_authenticated() {
    let mut cfg = sim_config();
    cfg.cp.logged_in = false;
    cfg.cp.unauthenticated = Unauthenticated::Redirect;
    let sim = start_sim(cfg).await;
    let c = client(&sim).await;
    let err = c.auth_status().await.expect_err("redirected");
    assert!(err.needs_login(), "{err:?}");
    // The keeper shares the client, and so its pacing: one tickle a second.
    let (log, _rx) = ApiLog::channel();
    let (keeper, session) = SessionKeeper::new(
        c,
        Duration::from_millis(100),
        Duration::from_millis(100),
        log,
    );
    keeper.check().await;
    assert_eq!(session.borrow().state, SessionState::ReauthRequired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_tls_refuses_the_gateways_self_signed_certificate() {
    let sim = start_sim(sim_config()).await;
    let mut cfg = portal_config(&sim);
    cfg.verify_tls = true;
    let err = PortalClient::new(&cfg)
        .expect("client")
        .tickle()
        .await
        .expect_err("untrusted");
    match err {
        PortalError::Unreachable { reason, .. } => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

/// The `api_logs` entries the keeper and the source report, read as they come.
type Entries = tokio::sync::mpsc::UnboundedReceiver<Vec<portfolio_bridge::greeks::record::Record>>;

/// Reads `entries` until one starts with `prefix` (`"<status> <message>"`).
async fn logged(entries: &mut Entries, prefix: &str) {
    loop {
        let records = entries.recv().await.expect("the keeper and source run");
        if crate::helpers::log_lines_of(records)
            .iter()
            .any(|l| l.starts_with(prefix))
        {
            return;
        }
    }
}

/// Until the PORTAL source reports that its data flows; the portfolio, written first, then
/// holds connected legs.
async fn flowing(entries: &mut Entries, portfolio: &SharedPortfolio) {
    logged(entries, "ok Client Portal data flows").await;
    assert!(portfolio.read(|p| p.health().connected && p.legs().next().is_some()));
}

/// Until the PORTAL source reports its data unavailable; the feed, marked first, is down.
async fn down(entries: &mut Entries, portfolio: &SharedPortfolio) {
    logged(entries, "error Client Portal data unavailable").await;
    assert!(!portfolio.read(|p| p.health().connected));
}

/// A keeper and a PORTAL source running through `c` until shutdown (sent, or its sender
/// dropped when the test ends or fails).
fn run_portal(
    c: PortalClient,
    tickle: Duration,
    recheck: Duration,
    poll: Duration,
    shutdown: Shutdown,
) -> (
    tokio::sync::watch::Receiver<portfolio_bridge::ibkr::portal::PortalSession>,
    SharedPortfolio,
    Entries,
) {
    let (log, entries) = ApiLog::channel();
    let (keeper, session) = SessionKeeper::new(c.clone(), tickle, recheck, log.clone());
    tokio::spawn(keeper.run(shutdown.clone()));
    let portfolio = SharedPortfolio::new();
    let source = PortalSource::new(c, portfolio.clone(), session.clone(), log);
    tokio::spawn(source.run(poll, shutdown));
    (session, portfolio, entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_seen_within_a_poll_interval_not_a_tickle_interval() {
    let mut cfg = sim_config();
    cfg.cp.logged_in = false;
    let sim = start_sim(cfg).await;
    let (stop, shutdown) = Shutdown::new();
    // An hour between tickles and between polls: only the keeper's recheck while it waits for
    // a login can see it, and only the source's poll on a new session can bring the data.
    let (mut session, portfolio, mut entries) = run_portal(
        client(&sim).await,
        Duration::from_secs(3600),
        Duration::from_millis(200),
        Duration::from_secs(3600),
        shutdown,
    );
    within(
        "re-auth required",
        session.wait_for(|s| s.state == SessionState::ReauthRequired),
    )
    .await
    .expect("state");
    sim.control().cp().login();
    within(
        "the login seen",
        session.wait_for(|s| s.state == SessionState::Authenticated),
    )
    .await
    .expect("state");
    within("positions flow", flowing(&mut entries, &portfolio)).await;
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_re_auth_the_sessions_first_calls_come_before_any_read() {
    let sim = start_sim(sim_config()).await;
    let (stop, shutdown) = Shutdown::new();
    let (mut session, portfolio, mut entries) = run_portal(
        client(&sim).await,
        Duration::from_millis(200),
        Duration::from_millis(200),
        Duration::from_millis(200),
        shutdown,
    );
    within("positions flow", flowing(&mut entries, &portfolio)).await;
    let gen_before = session.borrow().generation;

    sim.control().cp().expire();
    within(
        "re-auth required",
        session.wait_for(|s| s.state == SessionState::ReauthRequired),
    )
    .await
    .expect("state");
    within("the feed marked down", down(&mut entries, &portfolio)).await;
    let from = sim.control().cp().requests().len();
    sim.control().cp().login();
    within(
        "the login seen",
        session.wait_for(|s| s.state == SessionState::Authenticated),
    )
    .await
    .expect("state");
    assert!(session.borrow().generation > gen_before);
    // Flowing again without waiting for the five-minute re-read of the accounts.
    within("positions flow again", flowing(&mut entries, &portfolio)).await;

    let after: Vec<(String, u16)> = sim.control().cp().requests()[from..]
        .iter()
        .map(|r| (r.path.clone(), r.status))
        .collect();
    // (A poll begun before the keeper saw the expiry may still meet a 401.)
    let first_read = after
        .iter()
        .position(|(p, s)| p.starts_with("/portfolio/DU") && *s != 401)
        .expect("positions read");
    assert!(
        after[..first_read]
            .iter()
            .any(|(p, s)| p == "/portfolio/accounts" && *s == 200),
        "the new session's first call comes first: {after:?}"
    );
    let snapshot = after
        .iter()
        .position(|(p, _)| p == "/iserver/marketdata/snapshot")
        .expect("snapshots read");
    assert!(
        after[..snapshot]
            .iter()
            .any(|(p, s)| p == "/iserver/accounts" && *s == 200),
        "{after:?}"
    );
    assert!(
        after.iter().all(|(_, s)| *s != 400),
        "nothing refused for a missing first call: {after:?}"
    );
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_the_keeper_has_not_seen_is_met_with_the_first_calls_and_one_more_read() {
    let sim = start_sim(sim_config()).await;
    let (_keeper, session) = checked_session(&sim).await;
    let portfolio = SharedPortfolio::new();
    let (log, _rx) = ApiLog::channel();
    let mut source = PortalSource::new(client(&sim).await, portfolio.clone(), session, log);
    source.poll().await.expect("first poll");

    // Logged out and in again between two of the keeper's checks: a new gateway session, which
    // refuses positions until its first call.
    sim.control().cp().expire();
    sim.control().cp().login();
    let from = sim.control().cp().requests().len();
    let report = source.poll().await.expect("read after the first calls");
    assert_eq!(report.accounts, 2);
    let after: Vec<(String, u16)> = sim.control().cp().requests()[from..]
        .iter()
        .map(|r| (r.path.clone(), r.status))
        .collect();
    let refused = after
        .iter()
        .position(|(_, s)| *s == 400)
        .expect("the gateway refused once");
    assert!(
        after[refused + 1..].contains(&("/portfolio/accounts".to_owned(), 200)),
        "{after:?}"
    );
    assert_eq!(
        after.iter().filter(|(_, s)| *s == 400).count(),
        1,
        "one refusal, then the first calls: {after:?}"
    );
    assert!(
        after[refused + 1..].contains(&("/iserver/secdef/search".to_owned(), 200)),
        "the new session searches the derivatives' roots again: {after:?}"
    );
}
