//! Scenario: what the simulated gateway holds — accounts, instruments, positions, combos and
//! the price model — read from a TOML file and resolved against a date into concrete
//! contracts.
//!
//! Futures may name their contract month relative to the date (`month = 1` is the front
//! listed month), so a scenario never shows expired contracts; options on futures take their
//! expiry from their future, options on stocks may give `days_to_expiry`. Resolution checks
//! every reference and reports the first problem with its place in the file. This module is
//! pure: the date is passed in, nothing is read from the clock or the network.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

use crate::calendar::{ContractMonth, Root};
use crate::pricing::Right;

/// The bundled default scenario (`scenarios/default.toml`).
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.toml");

/// A scenario file as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(default)]
    pub market: MarketSettings,
    pub underlyings: Vec<UnderlyingSpec>,
    pub accounts: Vec<AccountSpec>,
    pub instruments: Vec<InstrumentSpec>,
    #[serde(default)]
    pub positions: Vec<PositionSpec>,
    #[serde(default)]
    pub combos: Vec<ComboSpec>,
}

/// How prices move and how fast the gateway talks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketSettings {
    /// Seed of the random walk (`--seed` overrides it).
    pub seed: u64,
    /// Risk-free rate for the option models, continuously compounded.
    pub rate: f64,
    /// Milliseconds between price moves.
    pub step_ms: u64,
    /// Simulated seconds of market movement per real second, so a demo shows visible moves.
    pub speed: f64,
    /// Simultaneous market-data lines per TWS connection; one more gets error 101.
    pub market_data_lines: usize,
    /// Seconds between the TWS account-update refreshes of every portfolio value (IB: 180).
    pub account_update_seconds: f64,
    /// Seconds between PnL and single-position PnL updates.
    pub pnl_seconds: f64,
    /// The first model computation of each new TWS subscription carries IB's "not computed"
    /// sentinels, as a freshly subscribed option does, before the real greeks follow.
    pub unset_first_greeks: bool,
}

impl Default for MarketSettings {
    fn default() -> Self {
        MarketSettings {
            seed: 7,
            rate: 0.04,
            step_ms: 1000,
            speed: 60.0,
            market_data_lines: 100,
            account_update_seconds: 180.0,
            pnl_seconds: 1.0,
            unset_first_greeks: true,
        }
    }
}

/// One random walk: a stock, or the front of a futures curve.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnderlyingSpec {
    pub symbol: String,
    /// Price at the start (the prior close).
    pub price: f64,
    /// Annualised volatility of the walk and of the option models, e.g. 0.35.
    pub volatility: f64,
    /// Futures term structure: each later contract month is priced `(1 + carry)^months` above
    /// the current month.
    #[serde(default)]
    pub carry_per_month: f64,
    /// Price increment.
    #[serde(default = "default_tick")]
    pub tick: f64,
    /// No live market-data permission: only delayed data is served.
    #[serde(default)]
    pub delayed_only: bool,
    /// The conid of the index a futures root is listed under (what a symbol search answers
    /// and futures report as their underlying); none for stocks, which are their own.
    #[serde(default)]
    pub index_conid: Option<i32>,
}

fn default_tick() -> f64 {
    0.01
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_cash")]
    pub cash: f64,
}

fn default_currency() -> String {
    "USD".into()
}

fn default_cash() -> f64 {
    100_000.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SecType {
    #[serde(rename = "STK")]
    Stock,
    #[serde(rename = "FUT")]
    Future,
    #[serde(rename = "OPT")]
    Option,
    #[serde(rename = "FOP")]
    FutureOption,
}

impl SecType {
    pub fn as_str(self) -> &'static str {
        match self {
            SecType::Stock => "STK",
            SecType::Future => "FUT",
            SecType::Option => "OPT",
            SecType::FutureOption => "FOP",
        }
    }

    pub fn is_option(self) -> bool {
        matches!(self, SecType::Option | SecType::FutureOption)
    }
}

impl fmt::Display for SecType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    pub conid: i32,
    pub symbol: String,
    pub sec_type: SecType,
    /// Futures: the contract month as the n-th listed month from the scenario date (1 = front).
    #[serde(default)]
    pub month: Option<usize>,
    /// Futures: an absolute contract month, `YYYYMM`.
    #[serde(default)]
    pub contract_month: Option<String>,
    /// Options: the conid of the underlying future (FOP) or stock (OPT).
    #[serde(default)]
    pub underlying_conid: Option<i32>,
    /// Stock options: expiry `YYYYMMDD`, or `days_to_expiry` from the scenario date.
    #[serde(default)]
    pub expiry: Option<String>,
    #[serde(default)]
    pub days_to_expiry: Option<i64>,
    #[serde(default)]
    pub strike: Option<f64>,
    #[serde(default)]
    pub right: Option<String>,
    #[serde(default)]
    pub multiplier: Option<f64>,
    pub exchange: String,
    #[serde(default)]
    pub primary_exchange: Option<String>,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default)]
    pub trading_class: Option<String>,
    #[serde(default)]
    pub local_symbol: Option<String>,
    #[serde(default)]
    pub long_name: Option<String>,
    /// Options: implied volatility, instead of the underlying's volatility.
    #[serde(default)]
    pub volatility: Option<f64>,
    /// Stocks: the company's classification, as IBKR reports it.
    #[serde(default)]
    pub industry: Option<Industry>,
}

/// IBKR's classification of a company: `sector`, `group` (contract info's `industry`) and
/// `sector_group` (contract info's `category`). IBKR leaves derivatives unclassified.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Industry {
    pub sector: String,
    pub group: String,
    pub sector_group: String,
}

/// Units of one instrument held in an account outside any combo.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PositionSpec {
    pub account: String,
    pub conid: i32,
    pub quantity: f64,
    /// Average price per unit (IB's avgPrice; avgCost is this times the multiplier).
    pub avg_price: f64,
    #[serde(default)]
    pub realized_pnl: f64,
}

/// A position acquired as a combination (a native combo): `quantity` spreads of the legs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComboSpec {
    pub account: String,
    /// IBKR's combo name, `CP.CP` + 8 hex digits; derived from the legs when absent.
    #[serde(default)]
    pub name: Option<String>,
    pub quantity: f64,
    pub legs: Vec<ComboLegSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComboLegSpec {
    pub conid: i32,
    /// Signed ratio: +1 bought, -1 sold per spread.
    pub ratio: i32,
    pub avg_price: f64,
}

/// A resolved instrument: every contract fact both protocols serve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instrument {
    pub conid: i32,
    pub symbol: String,
    pub sec_type: SecType,
    pub exchange: String,
    pub primary_exchange: Option<String>,
    pub currency: String,
    pub local_symbol: String,
    pub trading_class: String,
    pub long_name: String,
    pub multiplier: f64,
    #[serde(serialize_with = "serialize_month")]
    pub contract_month: Option<ContractMonth>,
    /// Futures: the last trade date; options: the expiry.
    pub last_trade_date: Option<Date>,
    pub strike: Option<f64>,
    #[serde(serialize_with = "serialize_right")]
    pub right: Option<Right>,
    /// Options: the future or stock they are written on.
    pub underlying_conid: Option<i32>,
    /// The random walk that prices this instrument (its `underlyings` symbol).
    pub price_symbol: String,
    /// Futures: months from the scenario date's month, for the term structure.
    pub carry_months: i32,
    pub volatility: f64,
    pub tick: f64,
    pub delayed_only: bool,
    pub industry: Option<Industry>,
}

fn serialize_month<S: serde::Serializer>(
    m: &Option<ContractMonth>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&m.map(|m| m.yyyymm()).unwrap_or_default())
}

fn serialize_right<S: serde::Serializer>(right: &Option<Right>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(right.map(right_code).unwrap_or(""))
}

/// IB's one-letter code of an option right.
pub fn right_code(right: Right) -> &'static str {
    match right {
        Right::Call => "C",
        Right::Put => "P",
    }
}

impl Instrument {
    /// `YYYYMMDD` of the last trade date or expiry, if any.
    pub fn expiry_yyyymmdd(&self) -> Option<String> {
        self.last_trade_date
            .map(|d| d.strftime("%Y%m%d").to_string())
    }

    /// IB's `contractDesc` in Client Portal position rows: `CL       MAR2027` for a future
    /// (symbol padded to 9), `LO     MAR2027 75 C [LOH7 C7500 1000]` for an option.
    pub fn contract_desc(&self) -> String {
        let month = self
            .last_trade_date
            .map(|d| d.strftime("%b%Y").to_string().to_uppercase());
        match self.sec_type {
            SecType::Stock => self.symbol.clone(),
            SecType::Future => {
                let cm = self
                    .contract_month
                    .map(|m| m.mmm_yyyy())
                    .unwrap_or_default();
                format!("{:<9}{cm}", self.symbol)
            }
            SecType::Option | SecType::FutureOption => format!(
                "{:<7}{} {} {} [{} {}]",
                self.symbol,
                month.unwrap_or_default(),
                format_number(self.strike.unwrap_or_default()),
                self.right.map(right_code).unwrap_or_default(),
                self.local_symbol,
                format_number(self.multiplier),
            ),
        }
    }
}

/// A number as IB prints it: no trailing `.0`.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: String,
    pub title: String,
    pub currency: String,
    pub cash: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Underlying {
    pub symbol: String,
    pub price: f64,
    pub volatility: f64,
    pub carry_per_month: f64,
    pub tick: f64,
    pub delayed_only: bool,
    pub index_conid: Option<i32>,
}

/// A resolved scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub date: Date,
    pub market: MarketSettings,
    pub underlyings: BTreeMap<String, Underlying>,
    pub accounts: Vec<Account>,
    pub instruments: BTreeMap<i32, Instrument>,
    pub positions: Vec<PositionSpec>,
    pub combos: Vec<ComboSpec>,
}

/// A scenario that cannot be simulated, with the place of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("the scenario is not valid TOML or has an unknown or missing field: {0}")]
    Syntax(String),
    #[error("{place}: {problem}")]
    Invalid { place: String, problem: String },
}

fn invalid(place: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        place: place.into(),
        problem: problem.into(),
    }
}

impl Scenario {
    /// Parses a TOML scenario and resolves it for `date`.
    pub fn from_toml(text: &str, date: Date) -> Result<Scenario, ScenarioError> {
        let file: ScenarioFile =
            toml::from_str(text).map_err(|e| ScenarioError::Syntax(e.to_string()))?;
        Scenario::resolve(file, date)
    }

    /// The bundled default scenario for `date`.
    pub fn default_for(date: Date) -> Scenario {
        Scenario::from_toml(DEFAULT_SCENARIO, date).expect("the bundled scenario is valid")
    }

    /// Checks every reference in `file` and resolves its contracts for `date`.
    pub fn resolve(file: ScenarioFile, date: Date) -> Result<Scenario, ScenarioError> {
        let m = &file.market;
        if !(m.step_ms > 0
            && m.speed > 0.0
            && m.account_update_seconds > 0.0
            && m.pnl_seconds > 0.0)
        {
            return Err(invalid(
                "[market]",
                "step_ms, speed, account_update_seconds and pnl_seconds must be > 0",
            ));
        }

        let mut underlyings = BTreeMap::new();
        for (i, u) in file.underlyings.iter().enumerate() {
            let place = format!("underlyings[{i}] ({})", u.symbol);
            if !(u.price > 0.0 && u.volatility > 0.0 && u.tick > 0.0) {
                return Err(invalid(place, "price, volatility and tick must be > 0"));
            }
            let spec = Underlying {
                symbol: u.symbol.clone(),
                price: u.price,
                volatility: u.volatility,
                carry_per_month: u.carry_per_month,
                tick: u.tick,
                delayed_only: u.delayed_only,
                index_conid: u.index_conid,
            };
            if underlyings.insert(u.symbol.clone(), spec).is_some() {
                return Err(invalid(place, "symbol listed twice"));
            }
        }

        let mut accounts = Vec::new();
        for (i, a) in file.accounts.iter().enumerate() {
            if a.id.is_empty() || accounts.iter().any(|x: &Account| x.id == a.id) {
                return Err(invalid(
                    format!("accounts[{i}]"),
                    "id must be non-empty and unique",
                ));
            }
            accounts.push(Account {
                id: a.id.clone(),
                title: a.title.clone().unwrap_or_else(|| a.id.clone()),
                currency: a.currency.clone(),
                cash: a.cash,
            });
        }
        if accounts.is_empty() {
            return Err(invalid("accounts", "at least one account is needed"));
        }

        let conids: BTreeSet<i32> = file.instruments.iter().map(|s| s.conid).collect();
        if conids.len() != file.instruments.len() {
            return Err(invalid("instruments", "a conid is listed twice"));
        }
        if let Some(u) = file
            .underlyings
            .iter()
            .find(|u| u.index_conid.is_some_and(|c| conids.contains(&c)))
        {
            return Err(invalid(
                format!("underlyings {}", u.symbol),
                "index_conid is an instrument's conid",
            ));
        }
        let mut instruments = BTreeMap::new();
        // Underlyings first, so options can take facts from their resolved future or stock.
        let mut order: Vec<&InstrumentSpec> = file.instruments.iter().collect();
        order.sort_by_key(|s| s.sec_type.is_option());
        for spec in order {
            let inst = resolve_instrument(spec, &instruments, &underlyings, date)?;
            instruments.insert(inst.conid, inst);
        }

        let account_ids: BTreeSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        for (i, p) in file.positions.iter().enumerate() {
            let place = format!("positions[{i}]");
            if !account_ids.contains(p.account.as_str()) {
                return Err(invalid(place, format!("unknown account {}", p.account)));
            }
            if !instruments.contains_key(&p.conid) {
                return Err(invalid(place, format!("unknown conid {}", p.conid)));
            }
        }
        for (i, c) in file.combos.iter().enumerate() {
            let place = format!("combos[{i}]");
            if !account_ids.contains(c.account.as_str()) {
                return Err(invalid(place, format!("unknown account {}", c.account)));
            }
            if c.legs.len() < 2 {
                return Err(invalid(place, "a combo has at least two legs"));
            }
            let mut seen = BTreeSet::new();
            for leg in &c.legs {
                if !instruments.contains_key(&leg.conid) || !seen.insert(leg.conid) {
                    return Err(invalid(
                        place,
                        format!("leg conid {} is unknown or repeated", leg.conid),
                    ));
                }
                if leg.ratio == 0 {
                    return Err(invalid(place, "a leg ratio cannot be 0"));
                }
            }
        }

        Ok(Scenario {
            date,
            market: file.market,
            underlyings,
            accounts,
            instruments,
            positions: file.positions,
            combos: file.combos,
        })
    }
}

fn parse_yyyymm(s: &str) -> Option<ContractMonth> {
    if s.len() != 6 {
        return None;
    }
    ContractMonth::new(s[..4].parse().ok()?, s[4..].parse().ok()?)
}

fn parse_yyyymmdd(s: &str) -> Option<Date> {
    if s.len() != 8 {
        return None;
    }
    Date::new(
        s[..4].parse().ok()?,
        s[4..6].parse().ok()?,
        s[6..].parse().ok()?,
    )
    .ok()
}

fn months_between(from: Date, to: ContractMonth) -> i32 {
    (i32::from(to.year) * 12 + i32::from(to.month))
        - (i32::from(from.year()) * 12 + i32::from(from.month()))
}

fn resolve_instrument(
    spec: &InstrumentSpec,
    resolved: &BTreeMap<i32, Instrument>,
    underlyings: &BTreeMap<String, Underlying>,
    date: Date,
) -> Result<Instrument, ScenarioError> {
    let place = format!(
        "instruments conid {} ({} {})",
        spec.conid, spec.symbol, spec.sec_type
    );
    let mut inst = Instrument {
        conid: spec.conid,
        symbol: spec.symbol.clone(),
        sec_type: spec.sec_type,
        exchange: spec.exchange.clone(),
        primary_exchange: spec.primary_exchange.clone(),
        currency: spec.currency.clone(),
        local_symbol: spec.local_symbol.clone().unwrap_or_default(),
        trading_class: spec
            .trading_class
            .clone()
            .unwrap_or_else(|| spec.symbol.clone()),
        long_name: spec.long_name.clone().unwrap_or_default(),
        multiplier: spec.multiplier.unwrap_or(1.0),
        contract_month: None,
        last_trade_date: None,
        strike: None,
        right: None,
        underlying_conid: None,
        price_symbol: spec.symbol.clone(),
        carry_months: 0,
        volatility: 0.0,
        tick: 0.01,
        delayed_only: false,
        industry: None,
    };
    if spec.conid <= 0 {
        return Err(invalid(place, "conid must be a positive integer"));
    }

    match spec.sec_type {
        SecType::Stock => {
            if inst.local_symbol.is_empty() {
                inst.local_symbol = spec.symbol.clone();
            }
            inst.industry = spec.industry.clone();
        }
        _ if spec.industry.is_some() => {
            return Err(invalid(
                &place,
                "industry classifies a company: give it to the stock, not a derivative",
            ));
        }
        SecType::Future => {
            let root = Root::parse(&spec.symbol);
            let month = match (spec.month, &spec.contract_month, root) {
                (Some(n), None, Some(root)) if n >= 1 => root
                    .listed_months(date, n)
                    .get(n - 1)
                    .copied()
                    .ok_or_else(|| invalid(&place, format!("no listed month {n}")))?,
                (None, Some(cm), _) => parse_yyyymm(cm).ok_or_else(|| {
                    invalid(&place, format!("contract_month {cm:?} is not YYYYMM"))
                })?,
                (Some(_), None, None) => {
                    return Err(invalid(
                        &place,
                        "relative months are known for CL and ES only; give contract_month",
                    ));
                }
                _ => {
                    return Err(invalid(
                        &place,
                        "give exactly one of month (>= 1) or contract_month",
                    ));
                }
            };
            let root = root.ok_or_else(|| {
                invalid(
                    &place,
                    "futures last trade dates are known for CL and ES only",
                )
            })?;
            inst.contract_month = Some(month);
            inst.last_trade_date = Some(root.last_trade_date(month));
            if inst.local_symbol.is_empty() {
                inst.local_symbol = root.local_symbol(month);
            }
            inst.carry_months = months_between(date, month);
            if spec.multiplier.is_none() {
                return Err(invalid(place, "futures need a multiplier"));
            }
        }
        SecType::Option | SecType::FutureOption => {
            let und_conid = spec
                .underlying_conid
                .ok_or_else(|| invalid(&place, "options need underlying_conid"))?;
            let und = resolved.get(&und_conid).ok_or_else(|| {
                invalid(
                    &place,
                    format!("underlying conid {und_conid} is not an instrument"),
                )
            })?;
            let wanted = if spec.sec_type == SecType::FutureOption {
                SecType::Future
            } else {
                SecType::Stock
            };
            if und.sec_type != wanted {
                return Err(invalid(
                    &place,
                    format!("the underlying must be a {wanted}"),
                ));
            }
            let strike = spec.strike.filter(|k| *k > 0.0);
            let right = match spec.right.as_deref() {
                Some("C") => Right::Call,
                Some("P") => Right::Put,
                _ => return Err(invalid(&place, "right must be \"C\" or \"P\"")),
            };
            let strike = strike.ok_or_else(|| invalid(&place, "strike must be > 0"))?;
            let expiry = if spec.sec_type == SecType::FutureOption {
                let month = und.contract_month.expect("resolved futures have a month");
                inst.contract_month = Some(month);
                Root::parse(&und.symbol)
                    .map(|r| r.option_last_trade_date(month))
                    .expect("resolved futures have a known root")
            } else {
                match (&spec.expiry, spec.days_to_expiry) {
                    (Some(e), None) => parse_yyyymmdd(e)
                        .ok_or_else(|| invalid(&place, format!("expiry {e:?} is not YYYYMMDD")))?,
                    // Listed stock options expire on Fridays: the first one from that day on.
                    (None, Some(days)) if days >= 0 => date
                        .checked_add(days.days())
                        .and_then(|d| match d.weekday() {
                            Weekday::Friday => Ok(d),
                            _ => d.nth_weekday(1, Weekday::Friday),
                        })
                        .map_err(|e| invalid(&place, e.to_string()))?,
                    _ => {
                        return Err(invalid(
                            &place,
                            "give exactly one of expiry or days_to_expiry",
                        ));
                    }
                }
            };
            inst.last_trade_date = Some(expiry);
            inst.strike = Some(strike);
            inst.right = Some(right);
            inst.underlying_conid = Some(und_conid);
            inst.price_symbol = und.price_symbol.clone();
            // IB's usual sizes: an option on a future covers one future, a stock option 100 shares.
            let default_multiplier = if spec.sec_type == SecType::FutureOption {
                und.multiplier
            } else {
                100.0
            };
            inst.multiplier = spec.multiplier.unwrap_or(default_multiplier);
            if spec.trading_class.is_none() {
                inst.trading_class = spec.symbol.clone();
            }
            if inst.local_symbol.is_empty() {
                inst.local_symbol = match inst.contract_month {
                    // Futures options: class, month code, year digit, right and strike.
                    Some(m) => format!(
                        "{}{}{} {}{}",
                        inst.trading_class,
                        m.month_code(),
                        m.year.rem_euclid(10),
                        right_code(right),
                        format_number((strike * 100.0).round())
                    ),
                    // Stock options: the OCC symbol.
                    None => format!(
                        "{:<6}{}{}{:08}",
                        inst.symbol,
                        expiry.strftime("%y%m%d"),
                        right_code(right),
                        (strike * 1000.0).round() as i64
                    ),
                };
            }
        }
    }

    let und = underlyings.get(&inst.price_symbol).ok_or_else(|| {
        invalid(
            &place,
            format!("no underlyings entry prices {}", inst.price_symbol),
        )
    })?;
    inst.volatility = spec.volatility.unwrap_or(und.volatility);
    inst.tick = und.tick;
    inst.delayed_only = und.delayed_only;
    if inst.long_name.is_empty() {
        inst.long_name = match inst.sec_type {
            SecType::Stock => inst.symbol.clone(),
            _ => format!("{} {}", inst.symbol, inst.local_symbol),
        };
    }
    Ok(inst)
}

#[cfg(test)]
#[path = "scenario_tests.rs"]
mod tests;
