//! Net greeks: the portfolio's delta, gamma, vega and theta per underlying and summed straight
//! across underlyings, with their dollar figures and vega and theta by time to expiry — for
//! every account together and for each account on its own: the rows the 5-second series
//! stores.
//!
//! Per position: signed quantity × multiplier × per-unit greek (IB's model greeks are per unit
//! of the underlying, vega per volatility point, theta per calendar day). A future counts delta
//! 1 per unit, a stock delta 1 per share; neither has gamma, vega or theta. A position whose
//! greeks are missing, incomplete or stale — or whose multiplier is unknown — is left out of
//! the sums and listed with the reason, never counted as zero.
//!
//! Delta and gamma are in the underlying's units, so only their dollar figures may be added
//! across underlyings (`reference/tws.md` §5): an underlying's dollar figures use its own
//! price, and the `PORTFOLIO` row's are unknown when any underlying in it has no price, never
//! a partial sum. Pure: the portfolio, `now` and the tick's exchange date come in, rows come
//! out.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::contract::{Contract, SecType};
use super::ids::{AccountCode, ConId};
use super::portfolio::{Portfolio, Staleness};

/// The row of the whole portfolio.
pub const PORTFOLIO: &str = "PORTFOLIO";

/// How far an option's expiry is from the tick's date, in calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryBucket {
    /// Fewer than 30 days (an option past its date too, until the position goes).
    Under30,
    /// 30 to 90 days, both included.
    From30To90,
    /// More than 90 days.
    Over90,
}

impl ExpiryBucket {
    /// The bucket of an option expiring on `expiry`, seen on `today`.
    pub fn of(today: Date, expiry: Date) -> ExpiryBucket {
        // Days only (the default for dates): never fails, however far apart.
        match (expiry - today).get_days() {
            ..30 => ExpiryBucket::Under30,
            30..=90 => ExpiryBucket::From30To90,
            _ => ExpiryBucket::Over90,
        }
    }
}

/// Vega or theta split by time to expiry. Options whose expiry is unknown are in no bucket, so
/// the buckets may add up to less than the whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ByExpiry {
    pub under_30: f64,
    pub from_30_to_90: f64,
    pub over_90: f64,
}

impl ByExpiry {
    fn add(&mut self, bucket: ExpiryBucket, x: f64) {
        match bucket {
            ExpiryBucket::Under30 => self.under_30 += x,
            ExpiryBucket::From30To90 => self.from_30_to_90 += x,
            ExpiryBucket::Over90 => self.over_90 += x,
        }
    }

    fn merge(&mut self, other: &ByExpiry) {
        self.under_30 += other.under_30;
        self.from_30_to_90 += other.from_30_to_90;
        self.over_90 += other.over_90;
    }
}

/// Dollar delta: the dollars a position moves per dollar of the underlying, times the price —
/// `delta` (underlying units) × `price`.
pub fn dollar_delta(delta: f64, price: f64) -> f64 {
    delta * price
}

/// Dollar gamma per 1 % move of the underlying: how much the dollar delta changes when the
/// price moves 1 % — `gamma` (units per unit move) × price² × 0.01.
pub fn dollar_gamma(gamma: f64, price: f64) -> f64 {
    gamma * price * price * 0.01
}

/// One row of `portfolio_greeks` before it is stored.
///
/// Units: `delta` in units of the underlying (shares, barrels, index points × multiplier),
/// `gamma` in those units per one-unit move of the underlying, `vega` in dollars per volatility
/// point, `theta` in dollars per day; the dollar figures in dollars. The `PORTFOLIO` row's
/// `delta` and `gamma` add different underlyings' units together and mean nothing on their
/// own; its dollar figures are the meaningful ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GreeksRow {
    /// `None` for every account together, else the one account the row sums.
    pub account: Option<AccountCode>,
    /// `PORTFOLIO`, or an underlying's symbol such as `CL`.
    pub contract: String,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub underlying_price: Option<f64>,
    /// Σ each position's delta × its underlying's price (a future's own, an option's
    /// underlying future's); `None` without a price (for `PORTFOLIO`: for any of its
    /// underlyings).
    pub delta_dollars: Option<f64>,
    /// Σ gamma × price² × 0.01: the change of `delta_dollars` for a 1 % move; `None` as
    /// `delta_dollars` is.
    pub gamma_dollars: Option<f64>,
    /// Vega of the options by time to expiry.
    pub vega_by_expiry: ByExpiry,
    /// Theta of the options by time to expiry.
    pub theta_by_expiry: ByExpiry,
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
    /// Every account together first — `PORTFOLIO`, then one row per underlying, by symbol —
    /// then the same for each account, by account code.
    pub rows: Vec<GreeksRow>,
    /// Positions in the sums.
    pub counted: usize,
    pub left_out: Vec<LeftOut>,
}

/// What one counted position adds.
struct Contribution {
    delta: f64,
    gamma: f64,
    vega: f64,
    theta: f64,
    /// Options with a known expiry only.
    expiry: Option<ExpiryBucket>,
    /// The price of what this position moves with — its own for a future or stock, its
    /// underlying future's for an option — when fresh.
    price: Option<f64>,
}

#[derive(Default)]
struct Sums {
    delta: f64,
    gamma: f64,
    vega: f64,
    theta: f64,
    vega_by_expiry: ByExpiry,
    theta_by_expiry: ByExpiry,
    /// Dollar delta and gamma, each position at its own underlying's price.
    delta_dollars: f64,
    gamma_dollars: f64,
    /// A position without a price is in the sums: the dollar figures are unknown.
    unpriced: bool,
}

impl Sums {
    fn add(&mut self, c: &Contribution) {
        self.delta += c.delta;
        self.gamma += c.gamma;
        self.vega += c.vega;
        self.theta += c.theta;
        if let Some(bucket) = c.expiry {
            self.vega_by_expiry.add(bucket, c.vega);
            self.theta_by_expiry.add(bucket, c.theta);
        }
        match c.price {
            Some(s) => {
                self.delta_dollars += dollar_delta(c.delta, s);
                self.gamma_dollars += dollar_gamma(c.gamma, s);
            }
            None => self.unpriced = true,
        }
    }

    fn merge(&mut self, other: &Sums) {
        self.delta += other.delta;
        self.gamma += other.gamma;
        self.vega += other.vega;
        self.theta += other.theta;
        self.vega_by_expiry.merge(&other.vega_by_expiry);
        self.theta_by_expiry.merge(&other.theta_by_expiry);
        self.delta_dollars += other.delta_dollars;
        self.gamma_dollars += other.gamma_dollars;
        self.unpriced |= other.unpriced;
    }

    fn dollars(&self) -> Option<(f64, f64)> {
        (!self.unpriced).then_some((self.delta_dollars, self.gamma_dollars))
    }

    fn row(
        &self,
        account: Option<&AccountCode>,
        contract: &str,
        underlying_price: Option<f64>,
    ) -> GreeksRow {
        let dollars = self.dollars();
        GreeksRow {
            account: account.cloned(),
            contract: contract.to_owned(),
            delta: self.delta,
            gamma: self.gamma,
            vega: self.vega,
            theta: self.theta,
            underlying_price,
            delta_dollars: dollars.map(|d| d.0),
            gamma_dollars: dollars.map(|d| d.1),
            vega_by_expiry: self.vega_by_expiry,
            theta_by_expiry: self.theta_by_expiry,
        }
    }
}

/// Sums by underlying symbol.
type Book = BTreeMap<String, Sums>;

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

/// The rows of one book: `PORTFOLIO`, then each underlying. Prices are by symbol.
fn rows_of(
    account: Option<&AccountCode>,
    book: &Book,
    prices: &BTreeMap<String, Option<f64>>,
) -> Vec<GreeksRow> {
    let mut total = Sums::default();
    let mut underlyings = Vec::with_capacity(book.len());
    for (symbol, sums) in book {
        total.merge(sums);
        underlyings.push(sums.row(account, symbol, prices.get(symbol).copied().flatten()));
    }
    // With one underlying the portfolio's price is its price; with several there is none.
    let single = match underlyings.as_slice() {
        [only] => only.underlying_price,
        _ => None,
    };
    let mut rows = Vec::with_capacity(underlyings.len() + 1);
    rows.push(total.row(account, PORTFOLIO, single));
    rows.extend(underlyings);
    rows
}

/// The price a position's dollar figures use, when fresh: a future's or stock's own; an
/// option's underlying contract's, else its underlying symbol's front month.
fn position_price(
    p: &Portfolio,
    c: &Contract,
    symbol: &str,
    now: Timestamp,
    max_age: Duration,
) -> Option<f64> {
    let fresh = |conid| p.price(conid, now, max_age).ok().map(|o| o.value);
    match c.sec_type.is_option() {
        false => fresh(c.conid),
        true => c
            .underlying_conid
            .and_then(fresh)
            .or_else(|| underlying_price(p, symbol, now, max_age)),
    }
}

pub fn net_greeks(p: &Portfolio, now: Timestamp, today: Date, max_age: Duration) -> NetGreeks {
    let mut all = Book::new();
    // Every account the source serves or holds a leg in has its rows, even with nothing
    // counted: its `PORTFOLIO` row then says zero, as the all-accounts one does.
    let mut by_account: BTreeMap<AccountCode, Book> = p
        .accounts()
        .iter()
        .map(|a| (a.clone(), Book::new()))
        .collect();
    let mut counted = 0;
    let mut left_out = Vec::new();
    for leg in p.legs() {
        let account_book = by_account.entry(leg.account.clone()).or_default();
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
        let contribution = match &c.sec_type {
            SecType::Stock | SecType::Future => Contribution {
                delta: units,
                gamma: 0.0,
                vega: 0.0,
                theta: 0.0,
                expiry: None,
                price: None,
            },
            SecType::Option | SecType::FutureOption => match p.greeks(leg.conid, now, max_age) {
                Ok(obs) => match (
                    obs.value.delta,
                    obs.value.gamma,
                    obs.value.vega,
                    obs.value.theta,
                ) {
                    (Some(d), Some(g), Some(v), Some(t)) => Contribution {
                        delta: units * d,
                        gamma: units * g,
                        vega: units * v,
                        theta: units * t,
                        expiry: c.last_trade_date.map(|e| ExpiryBucket::of(today, e)),
                        price: None,
                    },
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
        let symbol = underlying_symbol(p, c);
        let contribution = Contribution {
            price: position_price(p, c, &symbol, now, max_age),
            ..contribution
        };
        account_book
            .entry(symbol.clone())
            .or_default()
            .add(&contribution);
        all.entry(symbol).or_default().add(&contribution);
    }
    let prices: BTreeMap<String, Option<f64>> = all
        .keys()
        .map(|s| (s.clone(), underlying_price(p, s, now, max_age)))
        .collect();
    let mut rows = rows_of(None, &all, &prices);
    for (account, book) in &by_account {
        rows.extend(rows_of(Some(account), book, &prices));
    }
    NetGreeks {
        rows,
        counted,
        left_out,
    }
}

#[cfg(test)]
#[path = "net_greeks_tests.rs"]
mod tests;
