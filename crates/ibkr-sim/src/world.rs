//! World: the live state both protocols serve — the book (positions and combos per account)
//! and the market (one seeded random walk per underlying) — and the valuations derived from
//! them: quotes, model greeks, leg and combo views, account summaries.
//!
//! Everything either protocol shows comes from here, so the Client Portal and the TWS socket
//! always agree on conids, quantities and prices. Valuations take `now` as an argument; the
//! only clock reads are in the caller. Changes are announced on a broadcast channel so
//! sessions can push updates. Locks are never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::broadcast;

use crate::pricing::{self, Greeks};
use crate::scenario::{ComboLegSpec, ComboSpec, Instrument, Scenario, SecType};

/// America/New_York, the zone IBKR's schedules and expiries are written in.
pub static NEW_YORK: LazyLock<TimeZone> =
    LazyLock::new(|| TimeZone::get("America/New_York").expect("the bundled tzdb has New York"));

const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// What changed, for sessions that push updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Prices moved (a walk step or a price set by the control API).
    Prices,
    /// An account's positions or combos changed.
    Book { account: String },
}

/// A holding outside any combo.
#[derive(Debug, Clone, PartialEq)]
struct Holding {
    quantity: f64,
    avg_price: f64,
    realized_pnl: f64,
}

/// A native combo position.
#[derive(Debug, Clone, PartialEq)]
struct Combo {
    account: String,
    name: String,
    quantity: f64,
    legs: Vec<ComboLegSpec>,
}

/// The model values of an option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionModel {
    pub greeks: Greeks,
    pub implied_vol: f64,
    pub underlying_price: f64,
}

/// An instrument's prices now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub last: f64,
    pub bid: f64,
    pub ask: f64,
    /// The prior close: the price at the start of the simulation.
    pub close: f64,
    pub model: Option<OptionModel>,
}

/// One instrument as an account holds it (or the part of it a combo holds), valued now.
#[derive(Debug, Clone, PartialEq)]
pub struct Leg {
    pub account: String,
    pub instrument: Instrument,
    pub quantity: f64,
    /// Average price per unit; IB's average cost is this times the multiplier.
    pub avg_price: f64,
    pub market_price: f64,
    /// Quantity × multiplier × price (IB reports futures at notional too).
    pub market_value: f64,
    pub unrealized_pnl: f64,
    pub realized_pnl: f64,
    /// Since the prior close.
    pub daily_pnl: f64,
}

impl Leg {
    pub fn avg_cost(&self) -> f64 {
        self.avg_price * self.instrument.multiplier
    }
}

/// A combo with its legs' share of the account's positions.
#[derive(Debug, Clone, PartialEq)]
pub struct ComboView {
    pub account: String,
    pub name: String,
    pub quantity: f64,
    pub legs: Vec<Leg>,
    pub ratios: Vec<(i32, i32)>,
}

/// An account's totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountSummary {
    pub cash: f64,
    pub net_liquidation: f64,
    pub gross_position_value: f64,
    pub unrealized_pnl: f64,
    pub realized_pnl: f64,
    pub daily_pnl: f64,
    /// Market value by kind of position, as IBKR's ledger reports it: stocks, stock options,
    /// futures options; and the futures' unrealized P&L.
    pub stock_value: f64,
    pub option_value: f64,
    pub future_option_value: f64,
    pub futures_pnl: f64,
    /// Margin, available funds and the rest, from the positions ([`crate::margin`]).
    pub funds: crate::margin::Funds,
    /// The same by IBKR's segments: futures and their options; stocks, their options and
    /// the cash.
    pub commodities: crate::margin::Segment,
    pub securities: crate::margin::Segment,
}

impl AccountSummary {
    /// The figure behind one of IBKR's money keys, lower-cased, for the whole account
    /// (`None`) or one segment.
    pub fn figure(&self, key: &str, segment: Option<crate::margin::SegmentKind>) -> f64 {
        use crate::margin::SegmentKind;
        let (cash, nlv, gpv, funds) = match segment {
            None => (
                self.cash,
                self.net_liquidation,
                self.gross_position_value,
                self.funds,
            ),
            Some(kind) => {
                let part = match kind {
                    SegmentKind::Commodities => self.commodities,
                    SegmentKind::Securities => self.securities,
                };
                (
                    part.cash,
                    part.net_liquidation,
                    part.gross_position_value,
                    part.funds(),
                )
            }
        };
        crate::margin::figure(key, cash, nlv, gpv, &funds)
    }

    /// Gross position value over net liquidation of the securities segment: Reg T's
    /// leverage, which IBKR reports for that segment.
    pub fn leverage(&self) -> f64 {
        let sec = self.securities;
        if sec.net_liquidation > 0.0 {
            sec.gross_position_value / sec.net_liquidation
        } else {
            0.0
        }
    }
}

/// A control-API change the scenario cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    #[error("unknown account {0}")]
    UnknownAccount(String),
    #[error("unknown conid {0}")]
    UnknownConid(i32),
    #[error("unknown underlying {0}")]
    UnknownUnderlying(String),
    #[error("unknown combo {name} in account {account}")]
    UnknownCombo { account: String, name: String },
    #[error("invalid change: {0}")]
    Invalid(String),
}

struct Book {
    outside: BTreeMap<(String, i32), Holding>,
    combos: Vec<Combo>,
    /// Cash each account paid (negative) or got back for control-API changes since start:
    /// a position set by hand is bought at its average price, as a fill would be, so net
    /// liquidation does not jump by its value.
    paid: BTreeMap<String, f64>,
}

struct Market {
    spot: BTreeMap<String, f64>,
    close: BTreeMap<String, f64>,
    rng: SplitMix64,
    frozen: bool,
}

/// The simulated gateway's state; shared by every server task.
pub struct World {
    scenario: Scenario,
    book: RwLock<Book>,
    market: RwLock<Market>,
    events: broadcast::Sender<Event>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// IBKR's combo name: `CP.CP` and 8 hex digits, derived from the account and legs so that it
/// is stable across restarts.
pub fn combo_name(account: &str, legs: &[ComboLegSpec]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(account.as_bytes());
    for leg in legs {
        feed(&leg.conid.to_be_bytes());
        feed(&leg.ratio.to_be_bytes());
    }
    format!("CP.CP{:08x}", (h ^ (h >> 32)) as u32)
}

impl World {
    pub fn new(scenario: Scenario) -> Arc<World> {
        let mut outside = BTreeMap::new();
        for p in &scenario.positions {
            let h = outside
                .entry((p.account.clone(), p.conid))
                .or_insert(Holding {
                    quantity: 0.0,
                    avg_price: p.avg_price,
                    realized_pnl: 0.0,
                });
            h.quantity += p.quantity;
            h.realized_pnl += p.realized_pnl;
        }
        let combos = scenario.combos.iter().map(combo_from_spec).collect();
        let spot: BTreeMap<String, f64> = scenario
            .underlyings
            .values()
            .map(|u| (u.symbol.clone(), u.price))
            .collect();
        let market = Market {
            close: spot.clone(),
            spot,
            rng: SplitMix64(scenario.market.seed),
            frozen: false,
        };
        let (events, _) = broadcast::channel(1024);
        Arc::new(World {
            scenario,
            book: RwLock::new(Book {
                outside,
                combos,
                paid: BTreeMap::new(),
            }),
            market: RwLock::new(market),
            events,
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn instrument(&self, conid: i32) -> Option<&Instrument> {
        self.scenario.instruments.get(&conid)
    }

    pub fn account_ids(&self) -> Vec<String> {
        self.scenario
            .accounts
            .iter()
            .map(|a| a.id.clone())
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn announce(&self, event: Event) {
        // No receiver is fine: nobody is connected.
        let _ = self.events.send(event);
    }

    /// The prices of `conid` now.
    pub fn quote(&self, conid: i32, now: Timestamp) -> Option<Quote> {
        let inst = self.instrument(conid)?;
        let market = read(&self.market);
        let spot = *market.spot.get(&inst.price_symbol)?;
        let close_spot = *market.close.get(&inst.price_symbol)?;
        drop(market);
        let (last, model) = self.value(inst, spot, now);
        let (close, _) = self.value(inst, close_spot, now);
        Some(Quote {
            last,
            bid: (last - inst.tick).max(0.0),
            ask: last + inst.tick,
            close,
            model,
        })
    }

    /// The price of `inst` when its walk stands at `spot`, rounded to its tick, with the
    /// option model when it is an option.
    fn value(&self, inst: &Instrument, spot: f64, now: Timestamp) -> (f64, Option<OptionModel>) {
        match inst.sec_type {
            SecType::Stock => (round_to(spot, inst.tick), None),
            SecType::Future => (round_to(self.future_price(inst, spot), inst.tick), None),
            SecType::Option | SecType::FutureOption => {
                let model = self.option_model(inst, spot, now);
                let price = model.map(|m| m.greeks.price).unwrap_or_default();
                (round_to(price, 0.01).max(0.0), model)
            }
        }
    }

    fn future_price(&self, inst: &Instrument, spot: f64) -> f64 {
        let carry = self
            .scenario
            .underlyings
            .get(&inst.price_symbol)
            .map(|u| u.carry_per_month)
            .unwrap_or_default();
        spot * (1.0 + carry).powi(inst.carry_months)
    }

    fn option_model(&self, inst: &Instrument, spot: f64, now: Timestamp) -> Option<OptionModel> {
        let (Some(right), Some(strike), Some(und_conid), Some(expiry)) = (
            inst.right,
            inst.strike,
            inst.underlying_conid,
            inst.last_trade_date,
        ) else {
            return None;
        };
        let und = self.instrument(und_conid)?;
        let und_price = match und.sec_type {
            SecType::Future => round_to(self.future_price(und, spot), und.tick),
            _ => round_to(spot, und.tick),
        };
        // Options stop trading at 14:30 New York on their last trade date.
        let expires = expiry
            .at(14, 30, 0, 0)
            .to_zoned(NEW_YORK.clone())
            .ok()?
            .timestamp();
        let years = (expires.as_second() - now.as_second()) as f64 / SECONDS_PER_YEAR;
        let rate = self.scenario.market.rate;
        let greeks = match inst.sec_type {
            SecType::FutureOption => {
                pricing::black76(right, und_price, strike, years, inst.volatility, rate)
            }
            _ => pricing::black_scholes(right, und_price, strike, years, inst.volatility, rate),
        };
        Some(OptionModel {
            greeks,
            implied_vol: inst.volatility,
            underlying_price: und_price,
        })
    }

    /// Every account's legs, as [`World::legs`].
    pub fn all_legs(&self, now: Timestamp) -> Vec<Leg> {
        self.account_ids()
            .iter()
            .flat_map(|a| self.legs(a, now))
            .collect()
    }

    /// The account's position in each instrument it holds — outside combos and inside them
    /// added together — valued now. Instruments it no longer holds are absent.
    pub fn legs(&self, account: &str, now: Timestamp) -> Vec<Leg> {
        struct Part {
            quantity: f64,
            avg_price: f64,
            realized: f64,
        }
        let mut parts: BTreeMap<i32, Vec<Part>> = BTreeMap::new();
        {
            let book = read(&self.book);
            for ((acct, conid), h) in &book.outside {
                if acct == account {
                    parts.entry(*conid).or_default().push(Part {
                        quantity: h.quantity,
                        avg_price: h.avg_price,
                        realized: h.realized_pnl,
                    });
                }
            }
            for combo in book.combos.iter().filter(|c| c.account == account) {
                for leg in &combo.legs {
                    parts.entry(leg.conid).or_default().push(Part {
                        quantity: combo.quantity * f64::from(leg.ratio),
                        avg_price: leg.avg_price,
                        realized: 0.0,
                    });
                }
            }
        }
        parts
            .into_iter()
            .filter_map(|(conid, parts)| {
                let quantity: f64 = parts.iter().map(|p| p.quantity).sum();
                if quantity == 0.0 {
                    return None;
                }
                // Weighted by size, so a combo leg and an outside holding blend sensibly.
                let weight: f64 = parts.iter().map(|p| p.quantity.abs()).sum();
                let avg_price = parts
                    .iter()
                    .map(|p| p.quantity.abs() * p.avg_price)
                    .sum::<f64>()
                    / weight;
                let realized = parts.iter().map(|p| p.realized).sum();
                self.leg(account, conid, quantity, avg_price, realized, now)
            })
            .collect()
    }

    fn leg(
        &self,
        account: &str,
        conid: i32,
        quantity: f64,
        avg_price: f64,
        realized_pnl: f64,
        now: Timestamp,
    ) -> Option<Leg> {
        let quote = self.quote(conid, now)?;
        self.leg_at(account, conid, quantity, avg_price, realized_pnl, quote)
    }

    /// A leg valued at `quote`.
    fn leg_at(
        &self,
        account: &str,
        conid: i32,
        quantity: f64,
        avg_price: f64,
        realized_pnl: f64,
        quote: Quote,
    ) -> Option<Leg> {
        let instrument = self.instrument(conid)?.clone();
        let m = instrument.multiplier;
        Some(Leg {
            account: account.to_owned(),
            quantity,
            avg_price,
            market_price: quote.last,
            market_value: quantity * m * quote.last,
            unrealized_pnl: quantity * m * (quote.last - avg_price),
            realized_pnl,
            daily_pnl: quantity * m * (quote.last - quote.close),
            instrument,
        })
    }

    /// The account's native combos, each with its legs' share valued now.
    pub fn combos(&self, account: &str, now: Timestamp) -> Vec<ComboView> {
        let combos: Vec<Combo> = read(&self.book)
            .combos
            .iter()
            .filter(|c| c.account == account)
            .cloned()
            .collect();
        // Many combos share a leg, and every leg is valued at the same `now`: each
        // instrument is priced once per call (two option models a quote), not once per leg.
        let mut quotes: HashMap<i32, Option<Quote>> = HashMap::new();
        combos
            .into_iter()
            .map(|c| ComboView {
                legs: c
                    .legs
                    .iter()
                    .filter_map(|l| {
                        let qty = c.quantity * f64::from(l.ratio);
                        let quote = *quotes
                            .entry(l.conid)
                            .or_insert_with(|| self.quote(l.conid, now));
                        self.leg_at(account, l.conid, qty, l.avg_price, 0.0, quote?)
                    })
                    .collect(),
                ratios: c.legs.iter().map(|l| (l.conid, l.ratio)).collect(),
                account: c.account,
                name: c.name,
                quantity: c.quantity,
            })
            .collect()
    }

    /// The account's totals now. Futures add their unrealized PnL to the net liquidation
    /// value, not their notional, as they are settled daily.
    pub fn account_summary(&self, account: &str, now: Timestamp) -> Option<AccountSummary> {
        let cash = self
            .scenario
            .accounts
            .iter()
            .find(|a| a.id == account)?
            .cash
            + read(&self.book)
                .paid
                .get(account)
                .copied()
                .unwrap_or_default();
        let legs = self.legs(account, now);
        let mut s = AccountSummary {
            cash,
            net_liquidation: cash,
            gross_position_value: 0.0,
            unrealized_pnl: 0.0,
            realized_pnl: 0.0,
            daily_pnl: 0.0,
            stock_value: 0.0,
            option_value: 0.0,
            future_option_value: 0.0,
            futures_pnl: 0.0,
            funds: crate::margin::funds(cash, 0.0, 0.0, 0.0),
            commodities: crate::margin::Segment::default(),
            securities: crate::margin::Segment::default(),
        };
        s.securities.add_cash(cash);
        let (mut option_value, mut init, mut maint) = (0.0, 0.0, 0.0);
        for leg in &legs {
            let inst = &leg.instrument;
            s.unrealized_pnl += leg.unrealized_pnl;
            s.realized_pnl += leg.realized_pnl;
            s.daily_pnl += leg.daily_pnl;
            s.gross_position_value += leg.market_value.abs();
            let adds = match inst.sec_type {
                SecType::Future => leg.unrealized_pnl,
                _ => leg.market_value,
            };
            match inst.sec_type {
                SecType::Stock => s.stock_value += leg.market_value,
                SecType::Option => s.option_value += leg.market_value,
                SecType::FutureOption => s.future_option_value += leg.market_value,
                SecType::Future => s.futures_pnl += leg.unrealized_pnl,
            }
            s.net_liquidation += adds;
            let mut underlying_notional = 0.0;
            if inst.sec_type.is_option() {
                option_value += leg.market_value;
                let underlying = self
                    .quote(inst.conid, now)
                    .and_then(|q| q.model)
                    .map_or(0.0, |m| m.underlying_price);
                underlying_notional = leg.quantity.abs() * inst.multiplier * underlying;
            }
            let (i, m) = crate::margin::requirement(
                inst.sec_type,
                leg.quantity,
                leg.market_value,
                underlying_notional,
            );
            init += i;
            maint += m;
            let segment = match crate::margin::Segment::of(inst.sec_type) {
                crate::margin::SegmentKind::Commodities => &mut s.commodities,
                crate::margin::SegmentKind::Securities => &mut s.securities,
            };
            segment.add(inst.sec_type, adds, leg.market_value, (i, m));
        }
        s.funds = crate::margin::funds(s.net_liquidation, option_value, init, maint);
        Some(s)
    }

    /// Moves every walk one step, unless the market is frozen.
    pub fn step(&self) {
        if !self.is_frozen() {
            self.advance(1);
        }
    }

    /// Moves every walk `steps` steps, frozen or not (the control API's manual step).
    pub fn advance(&self, steps: u32) {
        let m = &self.scenario.market;
        let dt = m.step_ms as f64 / 1000.0 * m.speed / SECONDS_PER_YEAR;
        {
            let mut market = write(&self.market);
            let symbols: Vec<String> = market.spot.keys().cloned().collect();
            for _ in 0..steps {
                for symbol in &symbols {
                    let vol = self.scenario.underlyings[symbol].volatility;
                    let z = market.rng.normal();
                    if let Some(s) = market.spot.get_mut(symbol) {
                        *s *= (vol * dt.sqrt() * z - 0.5 * vol * vol * dt).exp();
                    }
                }
            }
        }
        self.announce(Event::Prices);
    }

    /// Stops or restarts the walks; prices set by hand still apply.
    pub fn freeze(&self, frozen: bool) {
        write(&self.market).frozen = frozen;
    }

    pub fn is_frozen(&self) -> bool {
        read(&self.market).frozen
    }

    /// Sets an underlying's walk to `price`.
    pub fn set_price(&self, symbol: &str, price: f64) -> Result<(), WorldError> {
        if !(price > 0.0 && price.is_finite()) {
            return Err(WorldError::Invalid(format!("price {price} must be > 0")));
        }
        {
            let mut market = write(&self.market);
            let spot = market
                .spot
                .get_mut(symbol)
                .ok_or_else(|| WorldError::UnknownUnderlying(symbol.to_owned()))?;
            *spot = price;
        }
        self.announce(Event::Prices);
        Ok(())
    }

    /// The walk's current value per underlying.
    pub fn spots(&self) -> BTreeMap<String, f64> {
        read(&self.market).spot.clone()
    }

    fn check_account(&self, account: &str) -> Result<(), WorldError> {
        match self.scenario.accounts.iter().any(|a| a.id == account) {
            true => Ok(()),
            false => Err(WorldError::UnknownAccount(account.to_owned())),
        }
    }

    /// Sets the account's holding of `conid` outside combos; quantity 0 closes it.
    pub fn set_position(
        &self,
        account: &str,
        conid: i32,
        quantity: f64,
        avg_price: f64,
    ) -> Result<(), WorldError> {
        self.check_account(account)?;
        self.instrument(conid)
            .ok_or(WorldError::UnknownConid(conid))?;
        if !quantity.is_finite() || !avg_price.is_finite() {
            return Err(WorldError::Invalid(
                "quantity and avg_price must be numbers".into(),
            ));
        }
        {
            let mut book = write(&self.book);
            let key = (account.to_owned(), conid);
            let before = book
                .outside
                .get(&key)
                .map_or(0.0, |h| self.cost(conid, h.quantity, h.avg_price));
            let after = self.cost(conid, quantity, avg_price);
            *book.paid.entry(account.to_owned()).or_default() -= after - before;
            if quantity == 0.0 {
                book.outside.remove(&key);
            } else {
                let realized = book
                    .outside
                    .get(&key)
                    .map(|h| h.realized_pnl)
                    .unwrap_or_default();
                book.outside.insert(
                    key,
                    Holding {
                        quantity,
                        avg_price,
                        realized_pnl: realized,
                    },
                );
            }
        }
        self.announce(Event::Book {
            account: account.to_owned(),
        });
        Ok(())
    }

    /// Opens a combo (or replaces the one of the same name); returns its name.
    pub fn open_combo(&self, spec: ComboSpec) -> Result<String, WorldError> {
        self.check_account(&spec.account)?;
        if spec.legs.len() < 2 || spec.quantity == 0.0 || !spec.quantity.is_finite() {
            return Err(WorldError::Invalid(
                "a combo needs two legs and a quantity".into(),
            ));
        }
        for leg in &spec.legs {
            self.instrument(leg.conid)
                .ok_or(WorldError::UnknownConid(leg.conid))?;
            if leg.ratio == 0 {
                return Err(WorldError::Invalid("a leg ratio cannot be 0".into()));
            }
        }
        let combo = combo_from_spec(&spec);
        let name = combo.name.clone();
        {
            let mut book = write(&self.book);
            let refund: f64 = book
                .combos
                .iter()
                .filter(|c| c.account == combo.account && c.name == combo.name)
                .map(|c| self.combo_cost(c))
                .sum();
            *book.paid.entry(combo.account.clone()).or_default() +=
                refund - self.combo_cost(&combo);
            book.combos
                .retain(|c| !(c.account == combo.account && c.name == combo.name));
            book.combos.push(combo);
        }
        self.announce(Event::Book {
            account: spec.account,
        });
        Ok(name)
    }

    /// Closes a combo: its legs leave the account's positions with it.
    pub fn close_combo(&self, account: &str, name: &str) -> Result<(), WorldError> {
        {
            let mut book = write(&self.book);
            let refund: f64 = book
                .combos
                .iter()
                .filter(|c| c.account == account && c.name == name)
                .map(|c| self.combo_cost(c))
                .sum();
            let before = book.combos.len();
            book.combos
                .retain(|c| !(c.account == account && c.name == name));
            *book.paid.entry(account.to_owned()).or_default() += refund;
            if book.combos.len() == before {
                return Err(WorldError::UnknownCombo {
                    account: account.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        self.announce(Event::Book {
            account: account.to_owned(),
        });
        Ok(())
    }
}

impl World {
    /// What holding `quantity` of `conid` bought at `avg_price` cost in cash: its premium or
    /// price in full, except a future's, which is settled through its daily P&L instead.
    fn cost(&self, conid: i32, quantity: f64, avg_price: f64) -> f64 {
        match self.instrument(conid) {
            Some(i) if i.sec_type != SecType::Future => quantity * avg_price * i.multiplier,
            _ => 0.0,
        }
    }

    fn combo_cost(&self, combo: &Combo) -> f64 {
        combo
            .legs
            .iter()
            .map(|l| self.cost(l.conid, combo.quantity * f64::from(l.ratio), l.avg_price))
            .sum()
    }
}

fn combo_from_spec(spec: &ComboSpec) -> Combo {
    Combo {
        account: spec.account.clone(),
        name: spec
            .name
            .clone()
            .unwrap_or_else(|| combo_name(&spec.account, &spec.legs)),
        quantity: spec.quantity,
        legs: spec.legs.clone(),
    }
}

fn round_to(x: f64, tick: f64) -> f64 {
    let r = (x / tick).round() * tick;
    // Keep the decimals a tick implies, so 71.4 never shows as 71.40000000000001.
    (r * 1e8).round() / 1e8
}

/// A small, seedable generator (SplitMix64): the same seed gives the same walk everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal, by Box–Muller.
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
#[path = "world_tests.rs"]
mod tests;
