//! Contracts as the bridge knows them: the facts both IBKR transports give about an
//! instrument, in strict types.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::ids::ConId;

/// IBKR security types the bridge values; anything else is kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SecType {
    Stock,
    Future,
    Option,
    FutureOption,
    Other(String),
}

impl SecType {
    /// IBKR's code (`STK`, `FUT`, `OPT`, `FOP`, …), any case.
    pub fn parse(code: &str) -> SecType {
        match code.trim().to_ascii_uppercase().as_str() {
            "STK" => SecType::Stock,
            "FUT" => SecType::Future,
            "OPT" => SecType::Option,
            "FOP" => SecType::FutureOption,
            other => SecType::Other(other.to_owned()),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            SecType::Stock => "STK",
            SecType::Future => "FUT",
            SecType::Option => "OPT",
            SecType::FutureOption => "FOP",
            SecType::Other(code) => code,
        }
    }

    pub fn is_option(&self) -> bool {
        matches!(self, SecType::Option | SecType::FutureOption)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Right {
    Call,
    Put,
}

impl Right {
    /// `C`/`CALL` or `P`/`PUT`, any case.
    pub fn parse(code: &str) -> Option<Right> {
        match code.trim().to_ascii_uppercase().as_str() {
            "C" | "CALL" => Some(Right::Call),
            "P" | "PUT" => Some(Right::Put),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Right::Call => "C",
            Right::Put => "P",
        }
    }
}

/// What the bridge knows about one instrument. Fields a transport did not give are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub conid: ConId,
    pub symbol: String,
    pub sec_type: SecType,
    pub local_symbol: Option<String>,
    pub trading_class: Option<String>,
    pub exchange: Option<String>,
    pub primary_exchange: Option<String>,
    pub currency: Option<String>,
    /// Futures: the last trade date; options: the expiry.
    pub last_trade_date: Option<Date>,
    pub strike: Option<f64>,
    pub right: Option<Right>,
    /// Units of the underlying per contract; `None` until known (a stock's is 1).
    pub multiplier: Option<f64>,
    /// Options: the contract they are written on (a future for FOP, a stock for OPT).
    pub underlying_conid: Option<ConId>,
    pub underlying_symbol: Option<String>,
}

impl Contract {
    /// A contract with only its id, symbol and type known.
    pub fn new(conid: ConId, symbol: impl Into<String>, sec_type: SecType) -> Contract {
        Contract {
            conid,
            symbol: symbol.into(),
            sec_type,
            local_symbol: None,
            trading_class: None,
            exchange: None,
            primary_exchange: None,
            currency: None,
            last_trade_date: None,
            strike: None,
            right: None,
            multiplier: None,
            underlying_conid: None,
            underlying_symbol: None,
        }
    }

    /// A derivative's root: the symbol its underlying is listed under (`CL` for a CL future or
    /// an option on one, `AAPL` for an AAPL option). `None` for anything else.
    pub fn derivative_root(&self) -> Option<&str> {
        match self.sec_type {
            SecType::Future | SecType::Option | SecType::FutureOption => Some(
                self.underlying_symbol
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(&self.symbol),
            ),
            _ => None,
        }
    }

    /// The multiplier to value a position with: a stock's is 1 when unknown.
    pub fn effective_multiplier(&self) -> Option<f64> {
        match (self.multiplier, &self.sec_type) {
            (Some(m), _) if m > 0.0 => Some(m),
            (_, SecType::Stock) => Some(1.0),
            _ => None,
        }
    }

    /// Fills every field `other` knows and this one does not.
    pub fn merge(&mut self, other: &Contract) {
        fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fill(&mut self.local_symbol, &other.local_symbol);
        fill(&mut self.trading_class, &other.trading_class);
        fill(&mut self.exchange, &other.exchange);
        fill(&mut self.primary_exchange, &other.primary_exchange);
        fill(&mut self.currency, &other.currency);
        fill(&mut self.last_trade_date, &other.last_trade_date);
        fill(&mut self.strike, &other.strike);
        fill(&mut self.right, &other.right);
        fill(&mut self.multiplier, &other.multiplier);
        fill(&mut self.underlying_conid, &other.underlying_conid);
        fill(&mut self.underlying_symbol, &other.underlying_symbol);
    }
}

#[cfg(test)]
#[path = "contract_tests.rs"]
mod tests;
