//! The ticker path in-process, with `criterion`: what one market-data tick costs the socket
//! reader (decoding it into an update and applying it to the shared portfolio), and what one
//! 5-second tick costs (snapshot of the portfolio, net greeks, rows). The book is the
//! streaming benchmark's: 2,000 CL option legs over 5 accounts, each with the raw payloads
//! the socket source keeps. `cargo bench -p portfolio-bridge --bench ticker`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ibapi::contracts::tick_types::TickType;
use ibapi::contracts::{Contract as IbContract, OptionComputation};
use ibapi::prelude::TickTypes;
use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;
use portfolio_bridge::domain::contract::{Contract, Right, SecType};
use portfolio_bridge::domain::expiry::EXCHANGE_ZONE;
use portfolio_bridge::domain::ids::{AccountCode, BridgeName, ConId};
use portfolio_bridge::domain::net_greeks::net_greeks;
use portfolio_bridge::domain::portfolio::{DataKind, ModelGreeks, SharedPortfolio};
use portfolio_bridge::greeks::record::Record;
use portfolio_bridge::ibkr::socket::ticks::{TickState, Update};

const LEGS: i64 = 2000;
const FUTURE: i64 = 1;

fn id(n: i64) -> ConId {
    ConId::new(n).expect("positive")
}

fn option(n: i64) -> Contract {
    let mut c = Contract::new(id(n), "CL", SecType::FutureOption);
    c.local_symbol = Some(format!("LOZ7 C{n}"));
    c.multiplier = Some(1000.0);
    c.underlying_conid = Some(id(FUTURE));
    c.right = Some(Right::Call);
    c.strike = Some(50.0 + n as f64 * 0.01);
    c.last_trade_date = Some(date(2027, 11, 16));
    c
}

fn greeks(x: f64) -> ModelGreeks {
    ModelGreeks {
        delta: Some(0.4 + x),
        gamma: Some(0.05),
        vega: Some(0.12),
        theta: Some(-0.03),
        implied_vol: Some(0.3),
        underlying_price: Some(71.4),
    }
}

/// The streaming book, greeks fresh at `now`.
fn book(now: Timestamp) -> SharedPortfolio {
    let portfolio = SharedPortfolio::new();
    portfolio.write(|p| {
        p.connected(now, "benchmark");
        let mut future = Contract::new(id(FUTURE), "CL", SecType::Future);
        future.multiplier = Some(1000.0);
        p.upsert_contract(&future);
        p.set_price(id(FUTURE), 71.4, DataKind::Live, now);
        for n in 0..LEGS {
            let conid = 10 + n;
            let account = AccountCode::parse(&format!("DU100000{}", n % 5)).expect("valid");
            let contract = option(conid);
            p.set_position(&account, &contract, 2.0, Some(250.0), now);
            // What the socket source keeps of the position message, as JSON.
            let raw = ibapi::accounts::Position {
                account: account.to_string(),
                contract: IbContract {
                    contract_id: conid as i32,
                    symbol: "CL".into(),
                    local_symbol: format!("LOZ7 C{conid}"),
                    multiplier: "1000".into(),
                    ..IbContract::default()
                },
                position: 2.0,
                average_cost: 250.0,
            };
            let raw = serde_json::to_value(&raw).expect("serialisable");
            p.merge_raw(&account, id(conid), "position", raw.clone());
            p.merge_raw(&account, id(conid), "portfolio_value", raw);
            p.set_greeks(id(conid), greeks(0.0), DataKind::Live, now);
        }
    });
    portfolio
}

fn computation(x: f64) -> TickTypes {
    TickTypes::OptionComputation(OptionComputation {
        field: TickType::ModelOption,
        tick_attribute: Some(0),
        implied_volatility: Some(0.3),
        delta: Some(0.4 + x),
        option_price: Some(0.26),
        present_value_dividend: Some(0.0),
        gamma: Some(0.05),
        vega: Some(0.12),
        theta: Some(-0.03),
        underlying_price: Some(71.4),
    })
}

fn ticks(c: &mut Criterion) {
    let now = Timestamp::from_second(1_790_000_000).expect("valid");
    let portfolio = book(now);
    let tick = computation(0.001);

    c.bench_function("market-data tick: decode and apply", |b| {
        let mut state = TickState::default();
        b.iter(|| {
            if let Some(Update::Greeks(g, kind)) = state.apply(black_box(&tick)) {
                portfolio.write(|p| p.set_greeks(id(10), g, kind, now));
            }
        })
    });

    let max_age = Duration::from_secs(60);
    let today = now
        .to_zoned(TimeZone::get(EXCHANGE_ZONE).expect("the bundled tzdb has Chicago"))
        .date();
    c.bench_function("5-second tick: snapshot of 2,000 legs", |b| {
        b.iter(|| black_box(portfolio.snapshot()))
    });
    let snapshot = portfolio.snapshot();
    c.bench_function("5-second tick: net greeks of 2,000 legs", |b| {
        b.iter(|| black_box(net_greeks(black_box(&snapshot), now, today, max_age)))
    });
    let bridge = BridgeName::parse("bench").expect("a valid name");
    c.bench_function("5-second tick: whole (snapshot, net greeks, rows)", |b| {
        b.iter(|| {
            let snapshot = portfolio.snapshot();
            let net = net_greeks(&snapshot, now, today, max_age);
            let rows: Vec<Record> = net
                .rows
                .iter()
                .map(|r| Record::greeks(now, &bridge, r))
                .collect();
            black_box(rows)
        })
    });
}

criterion_group!(benches, ticks);
criterion_main!(benches);
