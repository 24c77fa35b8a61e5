use ibapi::contracts::OptionComputation;
use ibapi::market_data::realtime::TickPrice;

use super::*;

fn price(t: TickType, p: f64) -> TickTypes {
    TickTypes::Price(TickPrice {
        tick_type: t,
        price: p,
        ..TickPrice::default()
    })
}

#[test]
fn last_then_midpoint_then_close() {
    let mut s = TickState::default();
    assert_eq!(
        s.apply(&price(TickType::Close, 70.0)),
        Some(Update::Price(70.0, DataKind::Live))
    );
    s.apply(&price(TickType::Bid, 71.0));
    assert_eq!(
        s.apply(&price(TickType::Ask, 71.2)),
        Some(Update::Price(71.1, DataKind::Live))
    );
    assert_eq!(
        s.apply(&price(TickType::Last, 71.15)),
        Some(Update::Price(71.15, DataKind::Live))
    );
    // IB's -1 means "no bid": the last price stands.
    assert_eq!(
        s.apply(&price(TickType::Bid, -1.0)),
        Some(Update::Price(71.15, DataKind::Live))
    );
}

#[test]
fn delayed_ticks_say_so() {
    let mut s = TickState::default();
    assert_eq!(
        s.apply(&price(TickType::DelayedLast, 5.0)),
        Some(Update::Price(5.0, DataKind::Delayed))
    );
    let mut told = TickState::default();
    assert_eq!(
        told.apply(&TickTypes::MarketDataType(MarketDataType::Delayed)),
        None
    );
    assert_eq!(
        told.apply(&price(TickType::Last, 5.0)),
        Some(Update::Price(5.0, DataKind::Delayed))
    );
}

#[test]
fn model_greeks_keep_uncomputed_fields_missing() {
    let mut s = TickState::default();
    let c = OptionComputation {
        field: TickType::ModelOption,
        delta: Some(0.42),
        gamma: None,
        vega: Some(0.09),
        theta: Some(-0.02),
        implied_volatility: Some(0.36),
        underlying_price: Some(72.1),
        ..OptionComputation::default()
    };
    let update = s.apply(&TickTypes::OptionComputation(c));
    let Some(Update::Greeks(g, DataKind::Live)) = update else {
        panic!("{update:?}")
    };
    assert_eq!(
        (g.delta, g.gamma, g.underlying_price),
        (Some(0.42), None, Some(72.1))
    );
    let bid = OptionComputation {
        field: TickType::BidOption,
        delta: Some(0.5),
        ..OptionComputation::default()
    };
    assert_eq!(
        s.apply(&TickTypes::OptionComputation(bid)),
        None,
        "only the model computation counts"
    );
}
