use super::*;

fn position(symbol: &str, sec_type: &str, multiplier: Option<&str>) -> PositionView {
    PositionView {
        id: 1,
        account_alias: "Spreads".into(),
        con_id: 810000001,
        symbol: Some(symbol.into()),
        sec_type: Some(sec_type.into()),
        exchange: None,
        primary_exchange: None,
        currency: Some("USD".into()),
        local_symbol: None,
        trading_class: None,
        last_trade_date: None,
        strike: None,
        right: None,
        multiplier: multiplier.map(Into::into),
        position: -3.0,
        avg_cost: 72026.666,
        fetched_at: "2026-11-21T14:05:05Z".parse().unwrap(),
        account_id: 1,
        market_price: Some(71.685),
        market_value: Some(-215055.0),
        unrealized_pnl: Some(1025.0),
        realized_pnl: None,
        underlying_con_id: None,
        source: None,
    }
}

#[test]
fn a_position_shows_its_cost_per_contract_and_per_unit() {
    let row = position_row(&position("CL", "FUT", Some("1000")));
    assert_eq!(row.position, "−3");
    assert_eq!(row.avg_cost, "72,026.67", "IBKR's, per contract");
    assert_eq!(row.multiplier, "1,000");
    assert_eq!(
        row.avg_price, "72.03",
        "per barrel, beside the market price"
    );
    assert_eq!(row.market_price, "71.69");
    assert_eq!(row.unit, "bbl");
    assert_eq!(row.market_value, "−215,055.00");
    assert_eq!(row.fetched.text, "2026-11-21 14:05:05 UTC");
}

#[test]
fn a_stock_is_its_own_unit_and_an_unknown_multiplier_has_no_unit_price() {
    let mut stock = position("AAPL", "STK", None);
    stock.avg_cost = 221.3;
    let row = position_row(&stock);
    assert_eq!(
        (row.avg_cost.as_str(), row.avg_price.as_str()),
        ("221.30", "221.30")
    );
    assert_eq!((row.multiplier.as_str(), row.unit.as_str()), ("1", "share"));
    let unknown = position_row(&position("ZZZ", "FUT", Some("")));
    assert_eq!(
        (unknown.multiplier.as_str(), unknown.avg_price.as_str()),
        ("–", "–")
    );
    assert_eq!(unknown.unit, "");
}

#[test]
fn a_facts_time_becomes_a_time_element_between_its_words() {
    let at: Timestamp = "2026-11-21T14:05:05Z".parse().unwrap();
    let row = FactRow::from(status::Fact {
        label: "Last job",
        value: format!("positions.sync completed at {} ok", status::utc_text(at)),
        at: Some(at),
    });
    assert_eq!(row.before, "positions.sync completed at ");
    assert_eq!(row.at, Some(when(at)));
    assert_eq!(row.after, " ok");
    let plain = FactRow::from(status::Fact {
        label: "Spool",
        value: "breaker closed".into(),
        at: None,
    });
    assert_eq!(
        (plain.before.as_str(), plain.at, plain.after.as_str()),
        ("breaker closed", None, "")
    );
}
