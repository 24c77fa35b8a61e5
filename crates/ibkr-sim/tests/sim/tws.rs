//! The TWS side through the real `ibapi` 5.5 async client.

use std::collections::BTreeMap;

use ibapi::market_data::MarketDataType;
use ibapi::prelude::*;
use ibkr_sim::scenario::SecType;

use crate::helpers::{config, connect, next_data, start, start_with, within};

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Every position the client reports until `PositionEnd`, by (account, conid).
async fn positions(client: &Client) -> BTreeMap<(String, i32), (f64, f64, Contract)> {
    let mut sub = within("positions", client.positions())
        .await
        .expect("positions");
    let mut out = BTreeMap::new();
    loop {
        match next_data(&mut sub).await {
            PositionUpdate::Position(p) => {
                out.insert(
                    (p.account.clone(), p.contract.contract_id),
                    (p.position, p.average_cost, p.contract),
                );
            }
            PositionUpdate::PositionEnd => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_gives_accounts_and_server_version() {
    let sim = start().await;
    let client = connect(&sim, 17).await;
    assert_eq!(
        client.handshake_managed_accounts(),
        ["DU1234567", "DU7654321"]
    );
    assert_eq!(client.server_version(), 226);
    let accounts = within("managed accounts", client.managed_accounts())
        .await
        .expect("accounts");
    assert_eq!(accounts, ["DU1234567", "DU7654321"]);
    let time = within("server time", client.server_time())
        .await
        .expect("time");
    assert!((time.unix_timestamp() - now().as_second()).abs() < 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_match_the_world() {
    let sim = start().await;
    let client = connect(&sim, 1).await;
    let got = positions(&client).await;
    let world = sim.control().world();
    let legs = world.all_legs(now());
    assert_eq!(got.len(), legs.len());
    for leg in &legs {
        let (qty, avg_cost, contract) = &got[&(leg.account.clone(), leg.instrument.conid)];
        assert_eq!(*qty, leg.quantity, "{}", leg.instrument.local_symbol);
        assert!((avg_cost - leg.avg_cost()).abs() < 1e-6);
        assert_eq!(contract.local_symbol, leg.instrument.local_symbol);
        assert_eq!(
            contract.security_type.to_string(),
            leg.instrument.sec_type.as_str()
        );
        if leg.instrument.sec_type != SecType::Stock {
            assert_eq!(
                contract.multiplier.parse::<f64>().expect("multiplier"),
                leg.instrument.multiplier
            );
        }
    }
    // The partly covered leg: combos hold -2 of CL month 1, the account -3 in all.
    assert_eq!(got[&("DU1234567".to_owned(), 810000001)].0, -3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_stream_follows_opens_and_closes() {
    let sim = start().await;
    let client = connect(&sim, 2).await;
    let mut sub = within("positions", client.positions())
        .await
        .expect("positions");
    while !matches!(next_data(&mut sub).await, PositionUpdate::PositionEnd) {}

    let world = sim.control().world();
    world
        .set_position("DU7654321", 830000001, -2.0, 6000.0)
        .expect("open ES");
    match next_data(&mut sub).await {
        PositionUpdate::Position(p) => {
            assert_eq!(
                (p.account.as_str(), p.contract.contract_id, p.position),
                ("DU7654321", 830000001, -2.0)
            );
        }
        other => panic!("expected a position, got {other:?}"),
    }
    world
        .set_position("DU7654321", 830000001, 0.0, 0.0)
        .expect("close ES");
    match next_data(&mut sub).await {
        PositionUpdate::Position(p) => {
            assert_eq!((p.contract.contract_id, p.position), (830000001, 0.0))
        }
        other => panic!("expected a position, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_updates_give_values_then_portfolio_then_end() {
    let sim = start().await;
    let client = connect(&sim, 3).await;
    let account = AccountId::from("DU1234567");
    let mut sub = within("account updates", client.account_updates(&account))
        .await
        .expect("updates");
    let mut values = BTreeMap::new();
    let mut portfolio = BTreeMap::new();
    loop {
        match next_data(&mut sub).await {
            AccountUpdate::AccountValue(v) => {
                values.insert(v.key, v.value);
            }
            AccountUpdate::PortfolioValue(p) => {
                portfolio.insert(p.contract.contract_id, p);
            }
            AccountUpdate::UpdateTime(_) => {}
            AccountUpdate::End => break,
        }
    }
    assert!(values.contains_key("NetLiquidation") && values.contains_key("UnrealizedPnL"));
    let legs = sim.control().world().legs("DU1234567", now());
    assert_eq!(portfolio.len(), legs.len());
    for leg in legs {
        let p = &portfolio[&leg.instrument.conid];
        assert_eq!(p.position, leg.quantity);
        assert_eq!(p.market_price, leg.market_price);
        let m = leg.instrument.multiplier;
        assert!((p.market_value - p.position * m * p.market_price).abs() < 0.01);
        assert!((p.unrealized_pnl - (p.market_value - p.position * p.average_cost)).abs() < 0.02);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pnl_and_single_position_pnl() {
    let sim = start().await;
    let client = connect(&sim, 4).await;
    let account = AccountId::from("DU1234567");
    let mut pnl = within("pnl", client.pnl(&account, None))
        .await
        .expect("pnl");
    let first = next_data(&mut pnl).await;
    let summary = sim
        .control()
        .world()
        .account_summary("DU1234567", now())
        .expect("summary");
    assert!((first.unrealized_pnl.expect("unrealized") - summary.unrealized_pnl).abs() < 0.01);

    let mut single = within(
        "pnl single",
        client.pnl_single(&account, ContractId(810000001), None),
    )
    .await
    .expect("pnl single");
    let s = next_data(&mut single).await;
    assert_eq!(s.position, -3.0);
    let leg = sim
        .control()
        .world()
        .legs("DU1234567", now())
        .into_iter()
        .find(|l| l.instrument.conid == 810000001)
        .expect("leg");
    assert!((s.value - leg.market_value).abs() < 0.01);
    assert!((s.unrealized_pnl - leg.unrealized_pnl).abs() < 0.01);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_details_carry_multiplier_underlying_and_month() {
    let sim = start().await;
    let client = connect(&sim, 5).await;
    let fop = Contract {
        contract_id: 820000001,
        ..Default::default()
    };
    let details = within("details", client.contract_details(&fop))
        .await
        .expect("details");
    assert_eq!(details.len(), 1);
    let d = &details[0];
    assert_eq!(d.contract.multiplier, "1000");
    assert_eq!(
        d.under_contract_id, 810000002,
        "an option on a future names the future"
    );
    let expected = &sim
        .control()
        .world()
        .instrument(820000001)
        .expect("the call")
        .local_symbol;
    assert_eq!(&d.contract.local_symbol, expected);
    assert!(
        expected.starts_with("LO") && expected.ends_with(" C7500"),
        "{expected}"
    );
    let fut_month = sim
        .control()
        .world()
        .instrument(810000002)
        .and_then(|i| i.contract_month)
        .expect("month");
    assert_eq!(d.contract_month, fut_month.yyyymm());

    // By description instead of conid: the local symbol.
    let local = sim
        .control()
        .world()
        .instrument(810000001)
        .expect("CL1")
        .local_symbol
        .clone();
    let by_symbol = Contract {
        symbol: Symbol::from("CL"),
        security_type: SecurityType::Future,
        local_symbol: local.clone(),
        ..Default::default()
    };
    let found = within("details", client.contract_details(&by_symbol))
        .await
        .expect("details");
    assert_eq!(
        found
            .iter()
            .map(|d| d.contract.contract_id)
            .collect::<Vec<_>>(),
        [810000001]
    );

    let unknown = Contract {
        contract_id: 42,
        ..Default::default()
    };
    let err = within("details", client.contract_details(&unknown))
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("200"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_greeks_arrive_after_a_not_yet_computed_tick() {
    let sim = start().await;
    let client = connect(&sim, 6).await;
    let world = sim.control().world().clone();
    let contract = Contract {
        contract_id: 820000001,
        exchange: Exchange::from("NYMEX"),
        ..Default::default()
    };
    let mut ticks = within("market data", client.market_data(&contract).subscribe())
        .await
        .expect("subscribe");

    let mut quote = Quote::default();
    // The first computation carries IB's "not computed" sentinels: greeks are missing.
    loop {
        let tick = next_data(&mut ticks).await;
        quote.apply(&tick);
        if let TickTypes::OptionComputation(c) = tick {
            assert_eq!(c.delta, None);
            assert_eq!(c.gamma, None);
            assert!(c.underlying_price.is_some());
            break;
        }
    }
    assert!(quote.bid.is_some() && quote.ask.is_some() && quote.last.is_some());

    world.advance(1);
    let model = loop {
        if let TickTypes::OptionComputation(c) = next_data(&mut ticks).await {
            break c;
        }
    };
    let expected = world
        .quote(820000001, now())
        .expect("quote")
        .model
        .expect("model");
    assert!((model.delta.expect("delta") - expected.greeks.delta).abs() < 1e-3);
    assert!((model.gamma.expect("gamma") - expected.greeks.gamma).abs() < 1e-3);
    assert!((model.vega.expect("vega") - expected.greeks.vega).abs() < 1e-3);
    assert!((model.theta.expect("theta") - expected.greeks.theta).abs() < 1e-3);
    assert_eq!(model.underlying_price, Some(expected.underlying_price));
    assert_eq!(sim.control().tws().status().market_data_lines, 1);
    drop(ticks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_and_stocks_get_prices_and_a_stock_needs_an_exchange() {
    let sim = start().await;
    let client = connect(&sim, 7).await;
    let fut = Contract {
        contract_id: 810000001,
        exchange: Exchange::from("NYMEX"),
        ..Default::default()
    };
    let mut ticks = within("subscribe", client.market_data(&fut).subscribe())
        .await
        .expect("subscribe");
    let mut quote = Quote::default();
    while quote.last.is_none() || quote.close.is_none() {
        quote.apply(&next_data(&mut ticks).await);
    }
    assert_eq!(
        quote.last,
        Some(
            sim.control()
                .world()
                .quote(810000001, now())
                .expect("q")
                .last
        )
    );

    // A position's stock contract has no exchange (ibapi's default is SMART); TWS wants one.
    let stock = Contract {
        contract_id: 265598,
        exchange: Exchange::from(""),
        ..Default::default()
    };
    let mut sub = within("subscribe", client.market_data(&stock).subscribe())
        .await
        .expect("subscribe");
    let err = within("error", sub.next())
        .await
        .expect("an item")
        .expect_err("321");
    assert!(err.to_string().contains("321"), "{err}");
    let stock = Contract {
        contract_id: 265598,
        exchange: Exchange::from("SMART"),
        ..Default::default()
    };
    let mut ok = within("subscribe", client.market_data(&stock).subscribe())
        .await
        .expect("subscribe");
    assert!(matches!(
        next_data(&mut ok).await,
        TickTypes::RequestParameters(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_only_data_needs_the_delayed_market_data_type() {
    let mut cfg = config();
    cfg.scenario
        .instruments
        .get_mut(&265598)
        .expect("AAPL")
        .delayed_only = true;
    let sim = start_with(cfg).await;
    let client = connect(&sim, 8).await;
    let stock = Contract {
        contract_id: 265598,
        exchange: Exchange::from("SMART"),
        ..Default::default()
    };

    let mut live = within("subscribe", client.market_data(&stock).subscribe())
        .await
        .expect("subscribe");
    let err = within("error", live.next())
        .await
        .expect("an item")
        .expect_err("354");
    assert!(err.to_string().contains("354"), "{err}");

    within(
        "switch",
        client.switch_market_data_type(MarketDataType::Delayed),
    )
    .await
    .expect("switch");
    let mut delayed = within("subscribe", client.market_data(&stock).subscribe())
        .await
        .expect("subscribe");
    let mut saw_type = false;
    let mut quote = Quote::default();
    while quote.last.is_none() {
        let tick = next_data(&mut delayed).await;
        if let TickTypes::MarketDataType(t) = &tick {
            assert_eq!(*t, MarketDataType::Delayed);
            saw_type = true;
        }
        quote.apply(&tick);
    }
    assert!(saw_type, "the subscription says its data is delayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_data_lines_are_limited_and_cancels_free_them() {
    let mut cfg = config();
    cfg.scenario.market.market_data_lines = 2;
    let sim = start_with(cfg).await;
    let client = connect(&sim, 9).await;
    let c = |id: i32, ex: &str| Contract {
        contract_id: id,
        exchange: Exchange::from(ex),
        ..Default::default()
    };
    let (a, b, x) = (
        c(810000001, "NYMEX"),
        c(810000002, "NYMEX"),
        c(830000001, "CME"),
    );
    let mut first = within("a", client.market_data(&a).subscribe())
        .await
        .expect("a");
    let mut second = within("b", client.market_data(&b).subscribe())
        .await
        .expect("b");
    next_data(&mut first).await;
    next_data(&mut second).await;
    let mut third = within("x", client.market_data(&x).subscribe())
        .await
        .expect("x");
    let err = within("error", third.next())
        .await
        .expect("an item")
        .expect_err("101");
    assert!(err.to_string().contains("101"), "{err}");
    assert_eq!(sim.control().tws().status().market_data_lines, 2);
    first.cancel().await;
    drop(first);
    within("the line is freed", async {
        while sim.control().tws().status().market_data_lines != 1 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_streams_option_computations_without_price_moves() {
    // No timer of the session's own fires within the test's patience: only setting the rate
    // can start the firehose.
    let mut config = config();
    config.scenario.market.pnl_seconds = 3600.0;
    config.scenario.market.account_update_seconds = 3600.0;
    let sim = start_with(config).await;
    let client = connect(&sim, 10).await;
    let opt = Contract {
        contract_id: 820000002,
        exchange: Exchange::from("NYMEX"),
        ..Default::default()
    };
    let mut ticks = within("subscribe", client.market_data(&opt).subscribe())
        .await
        .expect("subscribe");
    sim.control().tws().set_firehose(2000);
    let mut computations = 0;
    while computations < 50 {
        if let TickTypes::OptionComputation(_) = next_data(&mut ticks).await {
            computations += 1;
        }
    }
    assert!(
        sim.control().world().is_frozen(),
        "the prices never moved: these came from the firehose"
    );
}
