//! The simulator's margin model: what each position asks of an account, so that the account
//! values both protocols report (margin requirements, available funds, excess liquidity,
//! buying power) move with the positions as a gateway's do.
//!
//! A model, not IBKR's computation (Reg T for securities, SPAN for futures, with spread
//! offsets): flat rates per kind of position, chosen near what IBKR asks of a retail margin
//! account. Pure; it never reads the world.

use crate::scenario::SecType;

/// Maintenance margin of a future, as a share of its notional value.
pub const FUTURE_MAINTENANCE: f64 = 0.08;
/// A short option's maintenance margin beyond its own value, as a share of the underlying's
/// notional value.
pub const SHORT_OPTION_UNDERLYING: f64 = 0.15;
/// Reg T: stock bought or sold short needs half its value at first ...
pub const STOCK_INITIAL: f64 = 0.5;
/// ... and a quarter (long) or 30 % (short) to stay.
pub const STOCK_LONG_MAINTENANCE: f64 = 0.25;
pub const STOCK_SHORT_MAINTENANCE: f64 = 0.30;
/// Initial margin of futures and short options over their maintenance margin.
pub const INITIAL_OVER_MAINTENANCE: f64 = 1.1;
/// Intraday buying power of a margin account per dollar of available funds.
pub const BUYING_POWER_LEVERAGE: f64 = 4.0;

/// What a position asks of the account: (initial, maintenance) margin.
///
/// `market_value` is signed (a short is negative) and, for futures, the notional value;
/// `underlying_notional` is |quantity| × multiplier × the underlying's price, for options.
pub fn requirement(
    sec_type: SecType,
    quantity: f64,
    market_value: f64,
    underlying_notional: f64,
) -> (f64, f64) {
    let value = market_value.abs();
    match sec_type {
        SecType::Stock => {
            let maint = if quantity < 0.0 {
                STOCK_SHORT_MAINTENANCE
            } else {
                STOCK_LONG_MAINTENANCE
            };
            (value * STOCK_INITIAL, value * maint)
        }
        SecType::Future => {
            let maint = value * FUTURE_MAINTENANCE;
            (maint * INITIAL_OVER_MAINTENANCE, maint)
        }
        // A bought option is paid in full: it asks nothing more.
        SecType::Option | SecType::FutureOption if quantity >= 0.0 => (0.0, 0.0),
        SecType::Option | SecType::FutureOption => {
            let maint = value + underlying_notional * SHORT_OPTION_UNDERLYING;
            (maint * INITIAL_OVER_MAINTENANCE, maint)
        }
    }
}

/// An account's figures that follow from its cash, positions and margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Funds {
    /// Cash plus what can be borrowed against: net liquidation less the value of options,
    /// which lend nothing.
    pub equity_with_loan: f64,
    pub init_margin: f64,
    pub maint_margin: f64,
    pub available_funds: f64,
    pub excess_liquidity: f64,
    pub buying_power: f64,
    /// Excess liquidity as a share of net liquidation.
    pub cushion: f64,
}

/// The funds of an account worth `net_liquidation`, holding `option_value` (signed) in
/// options, whose positions ask `init_margin` and `maint_margin`.
pub fn funds(
    net_liquidation: f64,
    option_value: f64,
    init_margin: f64,
    maint_margin: f64,
) -> Funds {
    let equity_with_loan = net_liquidation - option_value;
    let available_funds = equity_with_loan - init_margin;
    let excess_liquidity = equity_with_loan - maint_margin;
    Funds {
        equity_with_loan,
        init_margin,
        maint_margin,
        available_funds,
        excess_liquidity,
        buying_power: (available_funds * BUYING_POWER_LEVERAGE).max(0.0),
        cushion: if net_liquidation > 0.0 {
            excess_liquidity / net_liquidation
        } else {
            0.0
        },
    }
}

/// What one of IBKR's account segments holds: commodities (futures and their options) or
/// securities (stocks and their options; cash is kept here).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Segment {
    pub cash: f64,
    pub net_liquidation: f64,
    /// The value of its positions, futures at notional.
    pub gross_position_value: f64,
    option_value: f64,
    init_margin: f64,
    maint_margin: f64,
}

impl Segment {
    /// The segment of a kind of position.
    pub fn of(sec_type: SecType) -> SegmentKind {
        match sec_type {
            SecType::Future | SecType::FutureOption => SegmentKind::Commodities,
            SecType::Stock | SecType::Option => SegmentKind::Securities,
        }
    }

    /// Adds a position: what it adds to net liquidation, its signed market value, and its
    /// (initial, maintenance) margin.
    pub fn add(
        &mut self,
        sec_type: SecType,
        net_liquidation: f64,
        market_value: f64,
        margin: (f64, f64),
    ) {
        self.net_liquidation += net_liquidation;
        self.gross_position_value += market_value.abs();
        if sec_type.is_option() {
            self.option_value += market_value;
        }
        self.init_margin += margin.0;
        self.maint_margin += margin.1;
    }

    pub fn add_cash(&mut self, cash: f64) {
        self.cash += cash;
        self.net_liquidation += cash;
    }

    pub fn funds(&self) -> Funds {
        funds(
            self.net_liquidation,
            self.option_value,
            self.init_margin,
            self.maint_margin,
        )
    }
}

/// The figure behind one of IBKR's money keys, lower-cased (`netliquidation`, as Client
/// Portal spells it and TWS does in capitals), from a segment's (or the account's) cash, net
/// liquidation, position value and funds; zero for what the simulator does not hold.
pub fn figure(key: &str, cash: f64, nlv: f64, gpv: f64, f: &Funds) -> f64 {
    match key {
        "availablefunds"
        | "availabletotrade"
        | "availabletowithdraw"
        | "fullavailablefunds"
        | "lookaheadavailablefunds"
        | "sma" => f.available_funds,
        "equitywithloanvalue" | "previousdayequitywithloanvalue" => f.equity_with_loan,
        "excessliquidity" | "fullexcessliquidity" | "lookaheadexcessliquidity" => {
            f.excess_liquidity
        }
        "initmarginreq" | "fullinitmarginreq" | "lookaheadinitmarginreq" | "regtmargin" => {
            f.init_margin
        }
        "maintmarginreq" | "fullmaintmarginreq" | "lookaheadmaintmarginreq" => f.maint_margin,
        "netliquidation" | "regtequity" => nlv,
        "totalcashvalue" => cash,
        "grosspositionvalue" => gpv,
        _ => 0.0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    Commodities,
    Securities,
}

#[cfg(test)]
#[path = "margin_tests.rs"]
mod tests;
