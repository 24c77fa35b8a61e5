use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::domain::contract::SecType;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).expect("valid")
}

fn conid(n: i64) -> ConId {
    ConId::new(n).expect("valid")
}

fn acct(s: &str) -> AccountCode {
    AccountCode::parse(s).expect("valid")
}

fn option(n: i64, und: i64) -> Contract {
    let mut c = Contract::new(conid(n), "CL", SecType::FutureOption);
    c.underlying_conid = Some(conid(und));
    c.multiplier = Some(1000.0);
    c
}

const AGE: Duration = Duration::from_secs(30);

#[test]
fn positions_come_and_go() {
    let mut p = Portfolio::new();
    let a = acct("DU1");
    let fut = Contract::new(conid(10), "CL", SecType::Future);
    p.set_position(&a, &fut, -3.0, Some(71_000.0), t(0));
    assert_eq!(p.legs().count(), 1);
    p.set_leg_values(
        &a,
        &fut,
        -3.0,
        LegValues {
            market_price: Some(71.5),
            ..LegValues::default()
        },
        t(1),
    );
    let leg = p.legs().next().expect("leg");
    assert_eq!(
        (leg.quantity, leg.avg_cost, leg.market_price),
        (-3.0, Some(71_000.0), Some(71.5))
    );
    p.set_position(&a, &fut, 0.0, None, t(2));
    assert_eq!(p.legs().count(), 0);
}

#[test]
fn an_account_snapshot_replaces_only_that_account() {
    let mut p = Portfolio::new();
    let (a, b) = (acct("DU1"), acct("DU2"));
    let c = |n| Contract::new(conid(n), "CL", SecType::Future);
    p.set_position(&a, &c(1), 1.0, None, t(0));
    p.set_position(&a, &c(2), 1.0, None, t(0));
    p.set_position(&b, &c(1), 5.0, None, t(0));
    p.replace_account(
        &a,
        vec![
            (c(2), 2.0, LegValues::default(), None),
            (c(3), 0.0, LegValues::default(), None),
        ],
        t(1),
    );
    let mut held: Vec<(String, i32, f64)> = p
        .legs()
        .map(|l| (l.account.to_string(), l.conid.get(), l.quantity))
        .collect();
    held.sort_by(|x, y| x.partial_cmp(y).expect("comparable"));
    assert_eq!(held, vec![("DU1".into(), 2, 2.0), ("DU2".into(), 1, 5.0)]);
}

#[test]
fn a_completed_positions_pass_drops_what_it_did_not_report_until_the_feed_drops() {
    let mut p = Portfolio::new();
    let a = acct("DU1");
    let c = |n| Contract::new(conid(n), "CL", SecType::Future);
    p.set_accounts([a.clone(), acct("DU2")]);
    p.set_position(&a, &c(1), 1.0, Some(1.0), t(0));
    p.set_position(&a, &c(2), 1.0, Some(1.0), t(0));
    assert_eq!(p.positions_complete(), None, "not known complete yet");

    // Reconnected: this pass reports only conid 2 (conid 1 was closed meanwhile).
    p.positions_loaded(&[(a.clone(), conid(2))].into_iter().collect(), t(1));
    assert_eq!(p.positions_complete(), Some(t(1)));
    let held: Vec<i32> = p.legs().map(|l| l.conid.get()).collect();
    assert_eq!(held, [2]);
    assert_eq!(
        p.accounts().len(),
        2,
        "an account without legs is still served"
    );

    p.merge_raw(
        &a,
        conid(2),
        "position",
        serde_json::json!({"position": 1.0}),
    );
    p.merge_raw(
        &a,
        conid(2),
        "portfolio_value",
        serde_json::json!({"marketPrice": 7.0}),
    );
    let raw = p
        .legs()
        .next()
        .and_then(|l| l.raw.clone())
        .expect("raw")
        .value();
    assert_eq!(raw["position"]["position"], 1.0);
    assert_eq!(raw["portfolio_value"]["marketPrice"], 7.0);

    p.disconnected(t(2), "gone");
    assert_eq!(
        p.positions_complete(),
        None,
        "incomplete again once the feed drops"
    );
}

#[test]
fn greeks_are_fresh_only_within_age_and_epoch() {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    p.upsert_contract(&option(20, 10));
    let g = ModelGreeks {
        delta: Some(0.4),
        gamma: Some(0.1),
        vega: Some(0.2),
        theta: Some(-0.05),
        implied_vol: Some(0.35),
        underlying_price: Some(72.0),
    };
    p.set_greeks(conid(20), g, DataKind::Live, t(0));
    assert_eq!(p.greeks(conid(20), t(30), AGE).map(|o| o.value), Ok(g));
    assert_eq!(p.greeks(conid(20), t(31), AGE), Err(Staleness::TooOld));
    assert_eq!(p.greeks(conid(99), t(1), AGE), Err(Staleness::Missing));
    // The option computation carried the underlying's price.
    assert_eq!(p.price(conid(10), t(1), AGE).map(|o| o.value), Ok(72.0));
    // The underlying's own price wins over the computations' from then on.
    p.set_price(conid(10), 72.5, DataKind::Delayed, t(2));
    p.set_greeks(conid(20), g, DataKind::Live, t(3));
    let own = p.price(conid(10), t(3), AGE).expect("fresh");
    assert_eq!((own.value, own.kind), (72.5, DataKind::Delayed));

    p.disconnected(t(5), "socket closed");
    assert_eq!(p.greeks(conid(20), t(6), AGE), Err(Staleness::Disconnected));
    p.connected(t(7), "back");
    assert_eq!(
        p.greeks(conid(20), t(8), AGE),
        Err(Staleness::BeforeReconnect),
        "from before the disconnect"
    );
    p.set_greeks(conid(20), g, DataKind::Delayed, t(9));
    let fresh = p.greeks(conid(20), t(10), AGE).expect("fresh again");
    assert_eq!(fresh.kind, DataKind::Delayed);

    p.data_lost("1101");
    assert_eq!(
        p.greeks(conid(20), t(11), AGE),
        Err(Staleness::BeforeReconnect)
    );
    assert!(p.health().connected);
}

#[test]
fn uncomputed_greeks_stay_missing() {
    let g = ModelGreeks {
        delta: Some(0.5),
        ..ModelGreeks::default()
    };
    assert!(!g.is_complete());
    assert_eq!(g.gamma, None);
}

#[test]
fn health_reports_the_feed() {
    let mut p = Portfolio::new();
    assert!(!p.health().connected);
    assert_eq!(p.health().message, NOT_CONNECTED_YET, "down, and why");
    p.connected(t(0), "connected to 127.0.0.1:4001");
    p.disconnected(t(3), "reset");
    p.disconnected(t(9), "still down");
    let h = p.health();
    assert_eq!((h.connected, h.since, h.epoch), (false, Some(t(3)), 2));
    assert_eq!(h.message, "still down");
}

#[test]
fn shared_snapshots_are_copies() {
    let shared = SharedPortfolio::new();
    shared.write(|p| p.connected(t(0), "up"));
    let snap = shared.snapshot();
    shared.write(|p| p.disconnected(t(1), "down"));
    assert!(snap.health().connected);
    assert!(!shared.read(|p| p.health().connected));
}

#[test]
fn a_feed_down_always_has_a_reason() {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    p.disconnected(t(1), "  ");
    let message = p.health().message;
    assert!(message.contains("gave no reason"), "{message:?}");
}
