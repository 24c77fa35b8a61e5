use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::date;

use super::*;
use crate::domain::contract::{Contract, Right, SecType};
use crate::domain::portfolio::{DataKind, ModelGreeks, Portfolio};

const AGE: Duration = Duration::from_secs(60);

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).expect("valid")
}

fn id(n: i64) -> ConId {
    ConId::new(n).expect("valid")
}

fn acct() -> AccountCode {
    AccountCode::parse("DU1").expect("valid")
}

fn future(n: i64, month: i8) -> Contract {
    let mut c = Contract::new(id(n), "CL", SecType::Future);
    c.multiplier = Some(1000.0);
    c.last_trade_date = Some(date(2027, month, 20));
    c
}

fn fop(n: i64, und: i64) -> Contract {
    let mut c = Contract::new(id(n), "CL", SecType::FutureOption);
    c.multiplier = Some(1000.0);
    c.underlying_conid = Some(id(und));
    c.right = Some(Right::Call);
    c
}

fn stock() -> Contract {
    Contract::new(id(50), "AAPL", SecType::Stock)
}

fn put() -> Contract {
    let mut c = Contract::new(id(51), "AAPL", SecType::Option);
    c.multiplier = Some(100.0);
    c.underlying_conid = Some(id(50));
    c.right = Some(Right::Put);
    c
}

fn greeks(d: f64, g: f64, v: f64, th: f64) -> ModelGreeks {
    ModelGreeks {
        delta: Some(d),
        gamma: Some(g),
        vega: Some(v),
        theta: Some(th),
        implied_vol: Some(0.3),
        underlying_price: None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn row<'a>(n: &'a NetGreeks, contract: &str) -> &'a GreeksRow {
    n.rows
        .iter()
        .find(|r| r.contract == contract)
        .unwrap_or_else(|| panic!("no {contract} row"))
}

/// Long 2 CL calls, short 1 CL future (front), 100 AAPL, short 3 AAPL puts.
fn book() -> Portfolio {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    let a = acct();
    p.set_position(&a, &fop(20, 11), 2.0, None, t(0));
    p.set_position(&a, &future(10, 1), -1.0, None, t(0));
    p.upsert_contract(&future(11, 2));
    p.set_position(&a, &stock(), 100.0, None, t(0));
    p.set_position(&a, &put(), -3.0, None, t(0));
    p.set_greeks(id(20), greeks(0.4, 0.05, 0.12, -0.03), DataKind::Live, t(1));
    p.set_greeks(id(51), greeks(-0.3, 0.02, 0.2, -0.05), DataKind::Live, t(1));
    p.set_price(id(10), 71.5, DataKind::Live, t(1));
    p.set_price(id(11), 72.0, DataKind::Live, t(1));
    p.set_price(id(50), 230.0, DataKind::Live, t(1));
    p
}

#[test]
fn hand_computed_book_of_options_futures_and_stocks() {
    let n = net_greeks(&book(), t(2), AGE);
    assert_eq!(n.counted, 4);
    assert!(n.left_out.is_empty());
    // CL: calls 2 × 1000 × (0.4, 0.05, 0.12, -0.03) = (800, 100, 240, -60); the short future -1000.
    let cl = row(&n, "CL");
    assert!(
        close(cl.delta, -200.0)
            && close(cl.gamma, 100.0)
            && close(cl.vega, 240.0)
            && close(cl.theta, -60.0),
        "{cl:?}"
    );
    assert_eq!(cl.underlying_price, Some(71.5), "the front month's price");
    // AAPL: 100 shares; short 3 puts × 100 × (-0.3, 0.02, 0.2, -0.05) = (90, -6, -60, 15).
    let aapl = row(&n, "AAPL");
    assert!(
        close(aapl.delta, 190.0)
            && close(aapl.gamma, -6.0)
            && close(aapl.vega, -60.0)
            && close(aapl.theta, 15.0),
        "{aapl:?}"
    );
    assert_eq!(aapl.underlying_price, Some(230.0));
    // Straight sums; no single underlying, so no underlying price.
    let total = &n.rows[0];
    assert_eq!(total.contract, "PORTFOLIO");
    assert!(
        close(total.delta, -10.0)
            && close(total.gamma, 94.0)
            && close(total.vega, 180.0)
            && close(total.theta, -45.0),
        "{total:?}"
    );
    assert_eq!(total.underlying_price, None);
    assert_eq!(
        n.rows
            .iter()
            .map(|r| r.contract.as_str())
            .collect::<Vec<_>>(),
        ["PORTFOLIO", "AAPL", "CL"]
    );
}

#[test]
fn one_underlying_gives_the_portfolio_row_its_price() {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    p.set_position(&acct(), &future(10, 1), 3.0, None, t(0));
    p.set_price(id(10), 71.5, DataKind::Live, t(1));
    let n = net_greeks(&p, t(2), AGE);
    assert_eq!(n.rows.len(), 2);
    assert!(close(n.rows[0].delta, 3000.0));
    assert_eq!(n.rows[0].underlying_price, Some(71.5));
}

#[test]
fn missing_incomplete_or_stale_greeks_are_left_out_not_zero() {
    let mut p = book();
    let a = acct();
    // A call with greeks IB has not computed (gamma missing), one with none at all.
    p.set_position(&a, &fop(21, 11), 1.0, None, t(0));
    p.set_greeks(
        id(21),
        ModelGreeks {
            delta: Some(0.5),
            ..ModelGreeks::default()
        },
        DataKind::Live,
        t(1),
    );
    p.set_position(&a, &fop(22, 11), 1.0, None, t(0));
    // A future whose multiplier is unknown, and a conid without details.
    let mut unknown_mult = future(12, 3);
    unknown_mult.multiplier = None;
    p.set_position(&a, &unknown_mult, 1.0, None, t(0));
    let n = net_greeks(&p, t(2), AGE);
    assert_eq!(n.counted, 4, "only the original four");
    let reasons: Vec<(i32, LeftOutReason)> = n
        .left_out
        .iter()
        .map(|l| (l.conid.get(), l.reason))
        .collect();
    assert!(reasons.contains(&(21, LeftOutReason::MissingGreeks)));
    assert!(reasons.contains(&(22, LeftOutReason::MissingGreeks)));
    assert!(reasons.contains(&(12, LeftOutReason::UnknownMultiplier)));
    assert!(
        close(row(&n, "CL").delta, -200.0),
        "left-out positions add nothing"
    );

    // A minute later every greek is stale: options drop out, futures and stocks stay.
    let later = net_greeks(&book(), t(62), AGE);
    assert_eq!(later.counted, 2);
    assert!(
        later
            .left_out
            .iter()
            .all(|l| l.reason == LeftOutReason::StaleGreeks)
    );
    assert!(close(later.rows[0].delta, -1000.0 + 100.0));
}

#[test]
fn greeks_from_before_a_disconnect_are_stale() {
    let mut p = book();
    p.disconnected(t(2), "reset");
    p.connected(t(3), "back");
    let n = net_greeks(&p, t(4), AGE);
    assert_eq!(
        n.left_out
            .iter()
            .filter(|l| l.reason == LeftOutReason::StaleGreeks)
            .count(),
        2
    );
    // No fresh price either: the underlying price is unknown rather than old.
    assert_eq!(row(&n, "CL").underlying_price, None);
}

#[test]
fn an_empty_portfolio_still_writes_its_row() {
    let n = net_greeks(&Portfolio::new(), t(0), AGE);
    assert_eq!(
        n.rows,
        vec![GreeksRow {
            contract: "PORTFOLIO".into(),
            delta: 0.0,
            gamma: 0.0,
            vega: 0.0,
            theta: 0.0,
            underlying_price: None
        }]
    );
}
