//! Net greeks: the portfolio's delta, gamma, vega and theta, summed straight across every
//! position, and the same per underlying — the rows the 5-second series stores.
//!
//! Per position: signed quantity × multiplier × per-unit greek (IB's model greeks are per unit
//! of the underlying, vega per volatility point, theta per calendar day). A future counts delta
//! 1 per unit, a stock delta 1 per share; neither has gamma, vega or theta. A position whose
//! greeks are missing, incomplete or stale — or whose multiplier is unknown — is left out of
//! the sums and listed with the reason, never counted as zero. Pure: the portfolio and `now`
//! come in, rows come out.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::contract::{Contract, SecType};
use super::ids::{AccountCode, ConId};
use super::portfolio::{Portfolio, Staleness};

/// The row of the whole portfolio.
pub const PORTFOLIO: &str = "PORTFOLIO";

/// One row of `portfolio_greeks` before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GreeksRow {
    /// `PORTFOLIO`, or an underlying's symbol such as `CL`.
    pub contract: String,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub underlying_price: Option<f64>,
}

/// Why a position is not in the sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeftOutReason {
    /// No contract facts yet (details not received).
    UnknownContract,
    /// The multiplier is not known.
    UnknownMultiplier,
    /// No greeks, or greeks IB has not computed (some are missing).
    MissingGreeks,
    /// Greeks older than allowed, or from before the feed reconnected.
    StaleGreeks,
    /// A security type the bridge does not value (bonds, cash, …).
    NotValued,
}

impl LeftOutReason {
    /// The reason for people.
    pub fn describe(self) -> &'static str {
        match self {
            LeftOutReason::UnknownContract => "no contract details yet",
            LeftOutReason::UnknownMultiplier => "multiplier unknown",
            LeftOutReason::MissingGreeks => "greeks missing",
            LeftOutReason::StaleGreeks => "greeks stale",
            LeftOutReason::NotValued => "security type not valued",
        }
    }
}

/// A position left out of one tick's sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub account: AccountCode,
    pub conid: ConId,
    pub symbol: Option<String>,
    pub reason: LeftOutReason,
}

/// One tick's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetGreeks {
    /// `PORTFOLIO` first, then one row per underlying, by symbol.
    pub rows: Vec<GreeksRow>,
    /// Positions in the sums.
    pub counted: usize,
    pub left_out: Vec<LeftOut>,
}

#[derive(Default)]
struct Sums {
    delta: f64,
    gamma: f64,
    vega: f64,
    theta: f64,
}

impl Sums {
    fn add(&mut self, d: f64, g: f64, v: f64, t: f64) {
        self.delta += d;
        self.gamma += g;
        self.vega += v;
        self.theta += t;
    }

    fn row(&self, contract: &str, underlying_price: Option<f64>) -> GreeksRow {
        GreeksRow {
            contract: contract.to_owned(),
            delta: self.delta,
            gamma: self.gamma,
            vega: self.vega,
            theta: self.theta,
            underlying_price,
        }
    }
}

/// The symbol a position's risk belongs to: an option's underlying, else its own.
fn underlying_symbol(p: &Portfolio, c: &Contract) -> String {
    if c.sec_type.is_option() {
        let from_contract = c
            .underlying_conid
            .and_then(|u| p.contract(u))
            .map(|u| u.symbol.clone());
        if let Some(symbol) = from_contract.or_else(|| c.underlying_symbol.clone()) {
            return symbol;
        }
    }
    c.symbol.clone()
}

/// The price quoted for an underlying: of the futures and stocks with that symbol the bridge
/// has a fresh price for, the one that expires first (the front month; a stock never does).
fn underlying_price(p: &Portfolio, symbol: &str, now: Timestamp, max_age: Duration) -> Option<f64> {
    let mut candidates: Vec<&Contract> = p
        .contracts()
        .filter(|c| c.symbol == symbol && matches!(c.sec_type, SecType::Future | SecType::Stock))
        .filter(|c| p.price(c.conid, now, max_age).is_ok())
        .collect();
    candidates.sort_by_key(|c| (c.last_trade_date.is_some(), c.last_trade_date));
    candidates
        .first()
        .and_then(|c| p.price(c.conid, now, max_age).ok())
        .map(|o| o.value)
}

/// The net greeks of `p` at `now`, greeks older than `max_age` counting as stale.
pub fn net_greeks(p: &Portfolio, now: Timestamp, max_age: Duration) -> NetGreeks {
    let mut total = Sums::default();
    let mut by_underlying: BTreeMap<String, Sums> = BTreeMap::new();
    let mut counted = 0;
    let mut left_out = Vec::new();
    for leg in p.legs() {
        let contract = p.contract(leg.conid);
        let leave = |reason| LeftOut {
            account: leg.account.clone(),
            conid: leg.conid,
            symbol: contract.map(|c| c.local_symbol.clone().unwrap_or_else(|| c.symbol.clone())),
            reason,
        };
        let Some(c) = contract else {
            left_out.push(leave(LeftOutReason::UnknownContract));
            continue;
        };
        let Some(m) = c.effective_multiplier() else {
            left_out.push(leave(LeftOutReason::UnknownMultiplier));
            continue;
        };
        let units = leg.quantity * m;
        let (d, g, v, t) = match &c.sec_type {
            SecType::Stock | SecType::Future => (units, 0.0, 0.0, 0.0),
            SecType::Option | SecType::FutureOption => match p.greeks(leg.conid, now, max_age) {
                Ok(obs) => match (
                    obs.value.delta,
                    obs.value.gamma,
                    obs.value.vega,
                    obs.value.theta,
                ) {
                    (Some(d), Some(g), Some(v), Some(t)) => {
                        (units * d, units * g, units * v, units * t)
                    }
                    _ => {
                        left_out.push(leave(LeftOutReason::MissingGreeks));
                        continue;
                    }
                },
                Err(Staleness::Missing) => {
                    left_out.push(leave(LeftOutReason::MissingGreeks));
                    continue;
                }
                Err(_) => {
                    left_out.push(leave(LeftOutReason::StaleGreeks));
                    continue;
                }
            },
            SecType::Other(_) => {
                left_out.push(leave(LeftOutReason::NotValued));
                continue;
            }
        };
        counted += 1;
        total.add(d, g, v, t);
        by_underlying
            .entry(underlying_symbol(p, c))
            .or_default()
            .add(d, g, v, t);
    }
    let prices: BTreeMap<&String, Option<f64>> = by_underlying
        .keys()
        .map(|s| (s, underlying_price(p, s, now, max_age)))
        .collect();
    let single = (prices.len() == 1)
        .then(|| prices.values().next().copied().flatten())
        .flatten();
    let mut rows = vec![total.row(PORTFOLIO, single)];
    rows.extend(
        by_underlying
            .iter()
            .map(|(symbol, sums)| sums.row(symbol, prices[symbol])),
    );
    NetGreeks {
        rows,
        counted,
        left_out,
    }
}

#[cfg(test)]
#[path = "net_greeks_tests.rs"]
mod tests;
