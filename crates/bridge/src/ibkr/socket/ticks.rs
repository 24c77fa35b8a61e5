//! Turning TWS market-data ticks into portfolio updates: the price to keep (last, else the
//! bid/ask midpoint, else the close), model greeks with IB's "not computed" values left out,
//! and whether the data is live or delayed. Pure: ticks in, updates out.

use ibapi::contracts::tick_types::TickType;
use ibapi::prelude::{MarketDataType, TickTypes};

use crate::domain::portfolio::{DataKind, ModelGreeks};

/// What one tick changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update {
    Price(f64, DataKind),
    Greeks(ModelGreeks, DataKind),
}

/// A subscription's running view of its ticks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickState {
    last: Option<f64>,
    bid: Option<f64>,
    ask: Option<f64>,
    close: Option<f64>,
    kind: Option<DataKind>,
}

/// IB sends -1 (and sometimes `f64::MAX`) for a price it does not have.
fn real_price(p: f64) -> Option<f64> {
    (p.is_finite() && p != -1.0 && p != f64::MAX).then_some(p)
}

fn delayed(t: TickType) -> bool {
    matches!(
        t,
        TickType::DelayedBid
            | TickType::DelayedAsk
            | TickType::DelayedLast
            | TickType::DelayedClose
            | TickType::DelayedModelOption
            | TickType::DelayedHigh
            | TickType::DelayedLow
            | TickType::DelayedOpen
    )
}

impl TickState {
    /// The kind of data this subscription receives: what TWS said, else what the tick's own
    /// type says.
    fn kind_of(&self, t: TickType) -> DataKind {
        self.kind.unwrap_or(if delayed(t) {
            DataKind::Delayed
        } else {
            DataKind::Live
        })
    }

    fn price(&self) -> Option<f64> {
        let mid = match (self.bid, self.ask) {
            (Some(b), Some(a)) if a >= b => Some((a + b) / 2.0),
            _ => None,
        };
        self.last.or(mid).or(self.close)
    }

    fn set_price(&mut self, t: TickType, p: f64) -> Option<Update> {
        let p = real_price(p);
        let slot = match t {
            TickType::Last | TickType::DelayedLast => &mut self.last,
            TickType::Bid | TickType::DelayedBid => &mut self.bid,
            TickType::Ask | TickType::DelayedAsk => &mut self.ask,
            TickType::Close | TickType::DelayedClose => &mut self.close,
            _ => return None,
        };
        *slot = p.or(*slot);
        self.price()
            .map(|price| Update::Price(price, self.kind_of(t)))
    }

    /// The update `tick` makes, if any.
    pub fn apply(&mut self, tick: &TickTypes) -> Option<Update> {
        match tick {
            TickTypes::Price(p) => self.set_price(p.tick_type, p.price),
            TickTypes::PriceSize(p) => self.set_price(p.price_tick_type, p.price),
            TickTypes::MarketDataType(t) => {
                self.kind = match t {
                    MarketDataType::Realtime => Some(DataKind::Live),
                    MarketDataType::Frozen => Some(DataKind::Frozen),
                    MarketDataType::Delayed => Some(DataKind::Delayed),
                    MarketDataType::DelayedFrozen => Some(DataKind::DelayedFrozen),
                    // An unknown type says nothing: judge by the ticks' own types.
                    _ => None,
                };
                None
            }
            TickTypes::OptionComputation(c)
                if matches!(
                    c.field,
                    TickType::ModelOption | TickType::DelayedModelOption
                ) =>
            {
                let greeks = ModelGreeks {
                    delta: c.delta,
                    gamma: c.gamma,
                    vega: c.vega,
                    theta: c.theta,
                    implied_vol: c.implied_volatility,
                    underlying_price: c.underlying_price.and_then(real_price),
                };
                Some(Update::Greeks(greeks, self.kind_of(c.field)))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "ticks_tests.rs"]
mod tests;
