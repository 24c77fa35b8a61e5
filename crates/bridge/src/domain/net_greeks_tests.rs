use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, date};

use super::*;
use crate::domain::contract::{Contract, Right, SecType};
use crate::domain::portfolio::{DataKind, ModelGreeks, Portfolio};

const AGE: Duration = Duration::from_secs(60);

/// The tick's date at the exchange.
const TODAY: Date = date(2027, 1, 5);

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).expect("valid")
}

fn id(n: i64) -> ConId {
    ConId::new(n).expect("valid")
}

fn acct() -> AccountCode {
    AccountCode::parse("DU1").expect("valid")
}

fn acct2() -> AccountCode {
    AccountCode::parse("DU2").expect("valid")
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

/// The all-accounts row of `contract`.
fn row<'a>(n: &'a NetGreeks, contract: &str) -> &'a GreeksRow {
    n.rows
        .iter()
        .find(|r| r.account.is_none() && r.contract == contract)
        .unwrap_or_else(|| panic!("no {contract} row"))
}

/// `account`'s row of `contract`.
fn account_row<'a>(n: &'a NetGreeks, account: &AccountCode, contract: &str) -> &'a GreeksRow {
    n.rows
        .iter()
        .find(|r| r.account.as_ref() == Some(account) && r.contract == contract)
        .unwrap_or_else(|| panic!("no {contract} row of {account:?}"))
}

fn net(p: &Portfolio, now: Timestamp) -> NetGreeks {
    net_greeks(p, now, TODAY, AGE)
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
    let n = net(&book(), t(2));
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
            .map(|r| (
                r.account.as_ref().map(AccountCode::as_str),
                r.contract.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            (None, "PORTFOLIO"),
            (None, "AAPL"),
            (None, "CL"),
            (Some("DU1"), "PORTFOLIO"),
            (Some("DU1"), "AAPL"),
            (Some("DU1"), "CL"),
        ],
        "every account together first, then each account"
    );
}

#[test]
fn one_underlying_gives_the_portfolio_row_its_price() {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    p.set_position(&acct(), &future(10, 1), 3.0, None, t(0));
    p.set_price(id(10), 71.5, DataKind::Live, t(1));
    let n = net(&p, t(2));
    assert_eq!(n.rows.len(), 4, "PORTFOLIO and CL, all accounts and DU1's");
    assert!(close(n.rows[0].delta, 3000.0));
    assert_eq!(n.rows[0].underlying_price, Some(71.5));
    assert_eq!(
        account_row(&n, &acct(), PORTFOLIO).underlying_price,
        Some(71.5)
    );
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
    let n = net(&p, t(2));
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
    let later = net(&book(), t(62));
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
    let n = net(&p, t(4));
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
    let n = net(&Portfolio::new(), t(0));
    assert_eq!(
        n.rows,
        vec![GreeksRow {
            account: None,
            contract: "PORTFOLIO".into(),
            delta: 0.0,
            gamma: 0.0,
            vega: 0.0,
            theta: 0.0,
            underlying_price: None,
            delta_dollars: Some(0.0),
            gamma_dollars: Some(0.0),
            vega_by_expiry: ByExpiry::default(),
            theta_by_expiry: ByExpiry::default(),
        }]
    );
}

#[test]
fn dollar_delta_and_gamma_by_hand() {
    // 2 CL futures × 1000 barrels × $72.
    assert!(close(dollar_delta(2.0 * 1000.0, 72.0), 144_000.0));
    // 2 CL calls × 1000 × gamma 0.05 = 100 barrels per $1; a 1 % move ($0.72) adds 72
    // barrels, worth 72 × $72.
    assert!(close(dollar_gamma(100.0, 72.0), 5_184.0));
    assert!(close(dollar_gamma(-6.0, 230.0), -3_174.0), "short gamma");
}

#[test]
fn two_futures_are_a_hundred_and_forty_four_thousand_dollars_of_delta() {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    p.set_position(&acct(), &future(10, 1), 2.0, None, t(0));
    p.set_price(id(10), 72.0, DataKind::Live, t(1));
    let n = net(&p, t(2));
    for r in [row(&n, "CL"), row(&n, PORTFOLIO)] {
        assert!(close(r.delta, 2000.0), "{r:?}");
        assert_eq!(r.delta_dollars, Some(144_000.0), "{r:?}");
        assert_eq!(r.gamma_dollars, Some(0.0), "a future has no gamma");
    }
}

#[test]
fn each_position_is_valued_at_its_own_underlyings_price_and_the_portfolio_sums_the_dollars() {
    let n = net(&book(), t(2));
    // CL: the calls' 800 barrels move with their own future (month 2, $72), the short future's
    // −1,000 with month 1 ($71.5): 57,600 − 71,500. Gamma 100 at $72: 100 × 72² × 0.01. The
    // front month's price for all would say −14,300 and 5,112.25.
    let cl = row(&n, "CL");
    assert!(
        close(cl.delta_dollars.expect("priced"), -13_900.0),
        "{cl:?}"
    );
    assert!(close(cl.gamma_dollars.expect("priced"), 5_184.0), "{cl:?}");
    // AAPL: 190 shares at $230; gamma -6 → -6 × 230² × 0.01.
    let aapl = row(&n, "AAPL");
    assert!(
        close(aapl.delta_dollars.expect("priced"), 43_700.0),
        "{aapl:?}"
    );
    assert!(
        close(aapl.gamma_dollars.expect("priced"), -3_174.0),
        "{aapl:?}"
    );
    let total = row(&n, PORTFOLIO);
    assert!(
        close(total.delta_dollars.expect("all priced"), 29_800.0),
        "{total:?}"
    );
    assert!(
        close(total.gamma_dollars.expect("all priced"), 2_010.0),
        "{total:?}"
    );
}

#[test]
fn without_an_underlyings_price_its_dollars_and_the_portfolios_are_unknown() {
    let mut p = book();
    // AAPL's price is a minute old at t(62); CL's front month is fresh.
    p.set_greeks(
        id(20),
        greeks(0.4, 0.05, 0.12, -0.03),
        DataKind::Live,
        t(61),
    );
    p.set_greeks(
        id(51),
        greeks(-0.3, 0.02, 0.2, -0.05),
        DataKind::Live,
        t(61),
    );
    p.set_price(id(10), 71.5, DataKind::Live, t(61));
    let n = net(&p, t(62));
    assert_eq!(row(&n, "AAPL").underlying_price, None);
    assert_eq!(row(&n, "AAPL").delta_dollars, None);
    assert_eq!(row(&n, "AAPL").gamma_dollars, None);
    assert!(close(
        row(&n, "CL").delta_dollars.expect("priced"),
        -14_300.0
    ));
    let total = row(&n, PORTFOLIO);
    assert_eq!(
        (total.delta_dollars, total.gamma_dollars),
        (None, None),
        "a sum without AAPL would understate the risk"
    );
    // Its greeks still add up: only the dollars need the price.
    assert!(close(total.delta, -10.0));
}

#[test]
fn expiry_buckets_meet_at_30_and_90_days() {
    let today = date(2027, 1, 1);
    let in_days = |n: i64| today.checked_add(jiff::Span::new().days(n)).expect("valid");
    assert_eq!(ExpiryBucket::of(today, in_days(29)), ExpiryBucket::Under30);
    assert_eq!(
        ExpiryBucket::of(today, in_days(30)),
        ExpiryBucket::From30To90
    );
    assert_eq!(
        ExpiryBucket::of(today, in_days(90)),
        ExpiryBucket::From30To90
    );
    assert_eq!(ExpiryBucket::of(today, in_days(91)), ExpiryBucket::Over90);
    assert_eq!(ExpiryBucket::of(today, today), ExpiryBucket::Under30);
    assert_eq!(
        ExpiryBucket::of(today, in_days(-1)),
        ExpiryBucket::Under30,
        "past its date, still held"
    );
    // Calendar days, across a month and a year end.
    assert_eq!(
        ExpiryBucket::of(date(2026, 12, 2), date(2027, 1, 1)),
        ExpiryBucket::From30To90
    );
}

#[test]
fn vega_and_theta_are_bucketed_by_days_to_expiry_and_unknown_expiries_by_none() {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    let a = acct();
    // Calls 29, 30, 90 and 91 days out, and one whose expiry is unknown.
    for (n, days) in [
        (21, Some(29)),
        (22, Some(30)),
        (23, Some(90)),
        (24, Some(91)),
        (25, None),
    ] {
        let mut c = fop(n, 11);
        c.last_trade_date =
            days.map(|d| TODAY.checked_add(jiff::Span::new().days(d)).expect("valid"));
        p.set_position(&a, &c, 1.0, None, t(0));
        p.set_greeks(id(n), greeks(0.5, 0.01, 0.1, -0.02), DataKind::Live, t(1));
    }
    // A future: no vega or theta, and in no bucket.
    p.set_position(&a, &future(11, 2), 1.0, None, t(0));
    let n = net(&p, t(2));
    for r in [row(&n, "CL"), row(&n, PORTFOLIO), account_row(&n, &a, "CL")] {
        // Each call: 1000 × (0.1 vega, -0.02 theta).
        let v = r.vega_by_expiry;
        assert!(
            close(v.under_30, 100.0) && close(v.from_30_to_90, 200.0) && close(v.over_90, 100.0),
            "{v:?}"
        );
        let th = r.theta_by_expiry;
        assert!(
            close(th.under_30, -20.0) && close(th.from_30_to_90, -40.0) && close(th.over_90, -20.0),
            "{th:?}"
        );
        // The call without an expiry is in the totals but in no bucket.
        assert!(close(r.vega, 500.0) && close(r.theta, -100.0), "{r:?}");
    }
}

/// Reads one figure of a row.
type Figure = fn(&GreeksRow) -> f64;

/// Two accounts: DU1 holds the book, DU2 more CL and AAPL, and DU3 is served but holds
/// nothing.
fn two_accounts() -> Portfolio {
    let mut p = book();
    let b = acct2();
    let mut call = fop(26, 11);
    call.last_trade_date = Some(date(2027, 3, 20));
    p.set_position(&b, &call, -4.0, None, t(0));
    p.set_greeks(
        id(26),
        greeks(0.25, 0.03, 0.15, -0.04),
        DataKind::Live,
        t(1),
    );
    p.set_position(&b, &future(11, 2), 3.0, None, t(0));
    p.set_position(&b, &stock(), -50.0, None, t(0));
    p.set_accounts([acct(), b, AccountCode::parse("DU3").expect("valid")]);
    p
}

#[test]
fn each_account_has_its_rows_and_they_add_up_to_the_all_accounts_rows() {
    let n = net(&two_accounts(), t(2));
    let accounts = [acct(), acct2()];
    let all: Vec<&GreeksRow> = n.rows.iter().filter(|r| r.account.is_none()).collect();
    assert_eq!(all.len(), 3, "PORTFOLIO, AAPL, CL");
    for total in all {
        let parts: Vec<&GreeksRow> = accounts
            .iter()
            .map(|a| account_row(&n, a, &total.contract))
            .collect();
        let sum = |f: Figure| parts.iter().map(|r| f(r)).sum::<f64>();
        let fields: [(&str, Figure); 12] = [
            ("delta", |r| r.delta),
            ("gamma", |r| r.gamma),
            ("vega", |r| r.vega),
            ("theta", |r| r.theta),
            ("delta_dollars", |r| r.delta_dollars.expect("priced")),
            ("gamma_dollars", |r| r.gamma_dollars.expect("priced")),
            ("vega_lt30", |r| r.vega_by_expiry.under_30),
            ("vega_30_90", |r| r.vega_by_expiry.from_30_to_90),
            ("vega_gt90", |r| r.vega_by_expiry.over_90),
            ("theta_lt30", |r| r.theta_by_expiry.under_30),
            ("theta_30_90", |r| r.theta_by_expiry.from_30_to_90),
            ("theta_gt90", |r| r.theta_by_expiry.over_90),
        ];
        for (name, f) in fields {
            assert!(
                close(f(total), sum(f)),
                "{} {name}: {} all together, {} summed",
                total.contract,
                f(total),
                sum(f)
            );
        }
        assert!(
            parts.iter().all(
                |r| r.underlying_price == total.underlying_price || total.contract == PORTFOLIO
            ),
            "an underlying's price is the same for every account"
        );
    }
    // DU2's CL: short 4 calls × 1000 × 0.25 and 3 futures = 2000 barrels; 3000 + (-1000).
    let cl = account_row(&n, &acct2(), "CL");
    assert!(close(cl.delta, 2000.0), "{cl:?}");
    assert!(
        close(cl.vega_by_expiry.from_30_to_90, -600.0),
        "74 days out: {cl:?}"
    );
    // DU3 holds nothing: its PORTFOLIO row is zero, and it has no underlying rows.
    let du3 = AccountCode::parse("DU3").expect("valid");
    let empty: Vec<&GreeksRow> = n
        .rows
        .iter()
        .filter(|r| r.account.as_ref() == Some(&du3))
        .collect();
    assert_eq!(empty.len(), 1);
    assert_eq!(
        (
            empty[0].contract.as_str(),
            empty[0].delta,
            empty[0].delta_dollars
        ),
        (PORTFOLIO, 0.0, Some(0.0))
    );
}

#[test]
fn an_accounts_portfolio_dollars_are_unknown_only_when_its_own_underlying_has_no_price() {
    let mut p = Portfolio::new();
    p.connected(t(0), "up");
    // DU1 holds CL, which has a price; DU2 holds CL and AAPL, which has none.
    p.set_position(&acct(), &future(10, 1), 1.0, None, t(0));
    p.set_position(&acct2(), &future(10, 1), 1.0, None, t(0));
    p.set_position(&acct2(), &stock(), 100.0, None, t(0));
    p.set_price(id(10), 72.0, DataKind::Live, t(1));
    let n = net(&p, t(2));
    assert_eq!(
        account_row(&n, &acct(), PORTFOLIO).delta_dollars,
        Some(72_000.0)
    );
    assert_eq!(account_row(&n, &acct2(), PORTFOLIO).delta_dollars, None);
    assert_eq!(
        account_row(&n, &acct2(), "CL").delta_dollars,
        Some(72_000.0)
    );
    assert_eq!(row(&n, PORTFOLIO).delta_dollars, None);
}
