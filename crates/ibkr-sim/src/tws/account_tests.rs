use jiff::civil::date;

use super::*;
use crate::scenario::Scenario;
use crate::world::World;

fn now() -> Timestamp {
    "2026-11-21T15:00:00Z".parse().expect("timestamp")
}

fn figures() -> AccountSummary {
    let w = World::new(Scenario::default_for(date(2026, 11, 21)));
    w.account_summary("DU1234567", now()).expect("known")
}

fn amount(rows: &[AccountValue], key: &str, currency: &str) -> f64 {
    let found: Vec<&AccountValue> = rows
        .iter()
        .filter(|r| r.key == key && r.currency == currency)
        .collect();
    assert_eq!(found.len(), 1, "one {key} in {currency}: {found:?}");
    found[0].value.parse().expect("a number")
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

#[test]
fn update_values_split_the_account_by_segment() {
    let rows = update_values("DU1234567", "USD", &figures(), now());
    for key in [
        "NetLiquidation",
        "InitMarginReq",
        "MaintMarginReq",
        "AvailableFunds",
    ] {
        let whole = amount(&rows, key, "USD");
        let parts =
            amount(&rows, &format!("{key}-C"), "USD") + amount(&rows, &format!("{key}-S"), "USD");
        assert!((whole - parts).abs() < 0.02, "{key}: {whole} vs {parts}");
    }
    assert!(
        amount(&rows, "MaintMarginReq-C", "USD") > 0.0,
        "CL futures ask margin"
    );
    assert_eq!(
        amount(&rows, "TotalCashValue-C", "USD"),
        0.0,
        "cash is kept with securities"
    );
    assert!(rows.iter().any(|r| r.key == "GrossPositionValue-S"));
    assert!(
        !rows.iter().any(|r| r.key == "GrossPositionValue-C"),
        "a securities-only key"
    );
    assert!(
        rows.iter()
            .any(|r| r.key == "AccountReady" && r.value == "true")
    );
}

#[test]
fn the_ledger_adds_up_to_net_liquidation_in_base_and_in_the_currency() {
    let s = figures();
    let rows = update_values("DU1234567", "USD", &s, now());
    for currency in ["BASE", "USD"] {
        let held = amount(&rows, "TotalCashBalance", currency)
            + amount(&rows, "StockMarketValue", currency)
            + amount(&rows, "OptionMarketValue", currency)
            + amount(&rows, "FutureOptionValue", currency)
            + amount(&rows, "FuturesPNL", currency);
        let nlv = amount(&rows, "NetLiquidationByCurrency", currency);
        assert!((held - nlv).abs() < 0.1, "{currency}: {held} vs {nlv}");
        assert!((nlv - amount(&rows, "NetLiquidation", "USD")).abs() < 0.02);
        assert_eq!(
            amount(&rows, "CashBalance", currency),
            amount(&rows, "TotalCashValue", "USD")
        );
    }
    assert!(s.stock_value > 0.0 && s.future_option_value != 0.0, "{s:?}");
}

#[test]
fn an_account_summary_answers_the_tags_asked_for_and_the_ledger_groups() {
    let s = figures();
    let asked = tags(&[
        "NetLiquidation",
        "BuyingPower",
        "Leverage",
        "NoSuchTag",
        "NetLiquidation-C",
    ]);
    let rows = summary_rows("USD", &s, now(), &asked);
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["NetLiquidation", "BuyingPower", "Leverage"]);

    let currencies = |tag: &str| -> Vec<String> {
        let mut found: Vec<String> = summary_rows("USD", &s, now(), &tags(&[tag]))
            .into_iter()
            .filter(|r| r.key == "CashBalance")
            .map(|r| r.currency)
            .collect();
        found.sort();
        found
    };
    assert_eq!(currencies("$LEDGER"), ["BASE"]);
    assert_eq!(currencies("$LEDGER:ALL"), ["BASE", "USD"]);
    assert_eq!(currencies("$LEDGER:USD"), ["USD"]);
    assert!(
        currencies("$LEDGER:EUR").is_empty(),
        "a currency the account has none of"
    );
}
