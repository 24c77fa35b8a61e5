//! Scenarios for ibkr-sim, generated at the sizes the benchmarks need.

use ibkr_sim::scenario::{
    AccountSpec, ComboLegSpec, ComboSpec, InstrumentSpec, MarketSettings, PositionSpec,
    ScenarioFile, SecType, UnderlyingSpec,
};

const FUTURE: i32 = 810_000_001;

fn account(i: usize) -> String {
    format!("DU{:07}", 1_000_000 + i)
}

fn base(accounts: usize) -> ScenarioFile {
    ScenarioFile {
        market: MarketSettings {
            market_data_lines: 10_000,
            ..MarketSettings::default()
        },
        underlyings: vec![UnderlyingSpec {
            symbol: "CL".into(),
            price: 71.40,
            volatility: 0.38,
            carry_per_month: 0.004,
            tick: 0.01,
            delayed_only: false,
            index_conid: None,
        }],
        accounts: (0..accounts)
            .map(|i| AccountSpec {
                id: account(i),
                title: None,
                currency: "USD".into(),
                cash: 100_000.0,
            })
            .collect(),
        instruments: vec![InstrumentSpec {
            conid: FUTURE,
            symbol: "CL".into(),
            sec_type: SecType::Future,
            month: Some(2),
            contract_month: None,
            underlying_conid: None,
            expiry: None,
            days_to_expiry: None,
            strike: None,
            right: None,
            multiplier: Some(1000.0),
            exchange: "NYMEX".into(),
            primary_exchange: None,
            currency: "USD".into(),
            trading_class: None,
            local_symbol: None,
            long_name: Some("Light Sweet Crude Oil".into()),
            volatility: None,
            industry: None,
        }],
        positions: Vec::new(),
        combos: Vec::new(),
    }
}

/// `n` CL options on the future, conids from 900_000_000: strikes 20.00 up by 0.25, calls
/// then puts.
fn options(n: usize) -> Vec<InstrumentSpec> {
    let template = base(0).instruments.remove(0);
    (0..n)
        .map(|i| InstrumentSpec {
            conid: 900_000_000 + i as i32,
            sec_type: SecType::FutureOption,
            month: None,
            underlying_conid: Some(FUTURE),
            strike: Some(20.0 + 0.25 * (i / 2) as f64),
            right: Some(if i.is_multiple_of(2) { "C" } else { "P" }.into()),
            trading_class: Some("LO".into()),
            long_name: None,
            multiplier: None,
            ..template.clone()
        })
        .collect()
}

/// `combos` two-leg CL option spreads over `accounts` accounts, each a distinct pair of legs
/// within its account: `2 × combos` legs.
pub fn combos(accounts: usize, combos: usize) -> String {
    let per_account = combos.div_ceil(accounts);
    // Enough options that one account's spreads are all different pairs.
    let mut n = 2;
    while n * (n - 1) / 2 < per_account {
        n += 1;
    }
    let mut file = base(accounts);
    file.instruments.extend(options(n));
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    for c in 0..combos {
        let (i, j) = pairs[c % per_account];
        file.combos.push(ComboSpec {
            account: account(c / per_account),
            name: None,
            quantity: 1.0,
            legs: vec![
                ComboLegSpec {
                    conid: 900_000_000 + i as i32,
                    ratio: -1,
                    avg_price: 1.10,
                },
                ComboLegSpec {
                    conid: 900_000_000 + j as i32,
                    ratio: 1,
                    avg_price: 1.35,
                },
            ],
        });
    }
    toml::to_string(&file).expect("a scenario serialises")
}

/// `positions` positions in distinct CL options over `accounts` accounts: one streaming
/// subscription each.
pub fn streaming(accounts: usize, positions: usize) -> String {
    let mut file = base(accounts);
    file.instruments.extend(options(positions));
    let per_account = positions.div_ceil(accounts);
    file.positions = (0..positions)
        .map(|i| PositionSpec {
            account: account(i / per_account),
            conid: 900_000_000 + i as i32,
            quantity: if i.is_multiple_of(3) { -2.0 } else { 1.0 },
            avg_price: 1.25,
            realized_pnl: 0.0,
        })
        .collect();
    toml::to_string(&file).expect("a scenario serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ibkr_sim::scenario::Scenario {
        let date = jiff::civil::date(2026, 11, 21);
        ibkr_sim::scenario::Scenario::from_toml(text, date).expect("the simulator accepts it")
    }

    #[test]
    fn generated_scenarios_are_ones_the_simulator_accepts() {
        let s = parse(&combos(5, 100));
        assert_eq!(s.combos.len(), 100);
        let s = parse(&streaming(5, 50));
        assert_eq!(s.positions.len(), 50);
    }
}
