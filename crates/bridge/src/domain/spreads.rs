//! The spread view's arithmetic: how a spread's legs read (`-1 CLH7 / +1 CLM7`), the name a
//! trader gives it (`CL Jan27/Feb27`), its price from the legs', and which leg quantity (and
//! PnL) no current native combo explains — the "unmatched legs" shown under the combos. Pure.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::ids::ConId;

/// Futures month codes, January first.
const MONTH_CODES: [char; 12] = ['F', 'G', 'H', 'J', 'K', 'M', 'N', 'Q', 'U', 'V', 'X', 'Z'];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A futures contract month: what names a contract (CL August 2026 stops trading in July and
/// is still August).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContractMonth {
    pub year: i16,
    /// 1..=12.
    pub month: i8,
}

impl ContractMonth {
    /// `Jan27`.
    pub fn short(self) -> String {
        format!(
            "{}{:02}",
            MONTH_NAMES[usize::try_from(self.month - 1).unwrap_or(0)],
            self.year.rem_euclid(100)
        )
    }

    /// `F7`: the month code and the year's last digit, as local symbols write it.
    pub fn code(self) -> String {
        format!(
            "{}{}",
            MONTH_CODES[usize::try_from(self.month - 1).unwrap_or(0)],
            self.year.rem_euclid(10)
        )
    }

    /// The month a local symbol such as `CLF7` names, the decade taken from its last trade
    /// date: the contract month is never before the year its trading ends in.
    pub fn from_local_symbol(local: &str, last_trade: Date) -> Option<ContractMonth> {
        let mut tail = local.trim().chars().rev();
        let digit = tail.next()?.to_digit(10)?;
        let code = tail.next()?;
        let month = MONTH_CODES.iter().position(|c| *c == code)?;
        // What precedes is the root: letters only (`CL`), so `C7000` is not read as a month.
        let root: String = tail.collect();
        if root.is_empty() || !root.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let base = last_trade.year() - last_trade.year().rem_euclid(10);
        let mut year = base + i16::try_from(digit).ok()?;
        if year < last_trade.year() {
            year += 10;
        }
        Some(ContractMonth {
            year,
            month: i8::try_from(month + 1).ok()?,
        })
    }

    /// The month in IBKR's description (`CL       JAN2027`, `CL MAR 27`), if it names one.
    pub fn from_description(description: &str) -> Option<ContractMonth> {
        let words: Vec<&str> = description.split_whitespace().collect();
        words.iter().enumerate().find_map(|(i, w)| {
            let upper = w.to_ascii_uppercase();
            let month = MONTH_NAMES
                .iter()
                .position(|m| upper.starts_with(&m.to_ascii_uppercase()))?;
            let rest = upper.get(3..)?;
            let digits = match rest.is_empty() {
                true => words.get(i + 1)?.to_string(),
                false => rest.to_owned(),
            };
            let year: i16 = match digits.len() {
                4 => digits.parse().ok()?,
                2 => 2000 + digits.parse::<i16>().ok()?,
                _ => return None,
            };
            Some(ContractMonth {
                year,
                month: i8::try_from(month + 1).ok()?,
            })
        })
    }
}

/// What a spread's name is made of, for one leg.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelLeg<'a> {
    pub ratio: f64,
    pub symbol: Option<&'a str>,
    pub local_symbol: Option<&'a str>,
    pub description: Option<&'a str>,
    pub sec_type: Option<&'a str>,
    pub last_trade_date: Option<Date>,
    pub strike: Option<f64>,
    pub right: Option<&'a str>,
}

/// A spread's name as traders write it, long (`CL Jan27/Feb27`) and by codes (`CL F7/G7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub long: String,
    pub codes: String,
}

/// The name of a spread whose legs share one underlying: each leg's contract month, nearest
/// first, and for options the strike and right (`CL Jan27 70C/75C` when every leg is in one
/// month). `None` when a leg's symbol or month is unknown, or the legs' symbols differ: the
/// caller falls back to IBKR's name.
pub fn label(legs: &[LabelLeg<'_>]) -> Option<Label> {
    let symbol = legs.first()?.symbol?;
    let mut parts = Vec::with_capacity(legs.len());
    for leg in legs {
        if leg.symbol? != symbol {
            return None;
        }
        let month = leg
            .local_symbol
            .zip(leg.last_trade_date)
            .filter(|_| leg.sec_type == Some("FUT"))
            .and_then(|(l, d)| ContractMonth::from_local_symbol(l, d))
            .or_else(|| leg.description.and_then(ContractMonth::from_description))
            .or_else(|| {
                // An option's month is its expiry's.
                leg.last_trade_date.map(|d| ContractMonth {
                    year: d.year(),
                    month: d.month(),
                })
            })?;
        let option = match (leg.strike, leg.right) {
            (Some(k), Some(r)) if k > 0.0 => Some(format!("{}{}", trim_number(k), r)),
            _ => None,
        };
        parts.push((month, option, leg.last_trade_date));
    }
    parts.sort_by_key(|(month, option, last)| (*month, *last, option.clone()));
    let one_month = parts.windows(2).all(|w| w[0].0 == w[1].0);
    let join = |name: fn(ContractMonth) -> String| -> String {
        match (one_month, parts.iter().all(|p| p.1.is_some())) {
            (true, true) => format!(
                "{} {}",
                name(parts[0].0),
                parts
                    .iter()
                    .filter_map(|p| p.1.clone())
                    .collect::<Vec<_>>()
                    .join("/")
            ),
            _ => parts
                .iter()
                .map(|(m, o, _)| match o {
                    Some(o) => format!("{} {o}", name(*m)),
                    None => name(*m),
                })
                .collect::<Vec<_>>()
                .join("/"),
        }
    };
    Some(Label {
        long: format!("{symbol} {}", join(ContractMonth::short)),
        codes: format!("{symbol} {}", join(ContractMonth::code)),
    })
}

/// `70`, `72.5`: a strike without trailing zeros.
fn trim_number(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A spread's price per unit from its legs' (`ratio × price` summed), if every leg has a
/// ratio and a price.
pub fn price(legs: impl IntoIterator<Item = (Option<f64>, Option<f64>)>) -> Option<f64> {
    legs.into_iter()
        .map(|(ratio, price)| Some(ratio? * price?))
        .sum()
}

/// Below this a remainder is rounding, not a position.
const EPSILON: f64 = 1e-9;

/// A signed quantity as a spread's legs text writes it: `+1`, `-2`, `+0.5`.
fn signed(q: f64) -> String {
    let magnitude = if q.fract() == 0.0 && q.abs() < 1e15 {
        format!("{}", q.abs() as i64)
    } else {
        format!("{}", q.abs())
    };
    format!("{}{magnitude}", if q < 0.0 { '-' } else { '+' })
}

/// `-1 CLH7 / +1 CLM7`: each leg's signed ratio and name, in the order given (the caller
/// sorts them, nearest expiry first).
pub fn legs_text<'a>(legs: impl IntoIterator<Item = (f64, &'a str)>) -> String {
    legs.into_iter()
        .map(|(ratio, name)| format!("{} {name}", signed(ratio)))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A leg quantity and its unrealized PnL, per account and contract: a held position, or one
/// combo's share of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegQuantity {
    pub account_id: i32,
    pub conid: ConId,
    pub quantity: f64,
    pub unrealized_pnl: Option<f64>,
}

/// What part of a held leg no combo explains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unmatched {
    pub account_id: i32,
    pub conid: ConId,
    /// The account's whole position in the contract.
    pub held: f64,
    /// The part the account's current combos hold.
    pub in_combos: f64,
    /// `held - in_combos`: what the unmatched-legs view shows.
    pub remainder: f64,
    /// The position's PnL less the combos' shares of it, so that the combos and the remainder
    /// add up to the position to the cent; `Err` says why it cannot.
    pub remainder_pnl: Result<f64, Unreconciled>,
}

/// Why a remainder's PnL cannot be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreconciled {
    /// The position has no PnL (not synced with one yet).
    NoPositionPnl,
    /// IBKR gave no PnL for a combo's share of the leg.
    NoComboPnl,
}

impl Unreconciled {
    pub fn describe(self) -> &'static str {
        match self {
            Unreconciled::NoPositionPnl => "the position has no unrealized PnL from IBKR yet",
            Unreconciled::NoComboPnl => {
                "IBKR gave no PnL for a combo's share of this leg, so the rest cannot be told"
            }
        }
    }
}

/// For every held leg, the quantity the same account's current combos do not explain; legs
/// fully covered are absent. Combo legs the account does not hold (the positions are older
/// than the combos) explain nothing and are ignored.
pub fn unmatched(held: &[LegQuantity], in_combos: &[LegQuantity]) -> Vec<Unmatched> {
    // Per leg: the quantity the combos hold, and their PnL (an error once one share has none).
    let mut covered: BTreeMap<(i32, ConId), (f64, Result<f64, Unreconciled>)> = BTreeMap::new();
    for leg in in_combos {
        let entry = covered
            .entry((leg.account_id, leg.conid))
            .or_insert((0.0, Ok(0.0)));
        entry.0 += leg.quantity;
        entry.1 = match (entry.1, leg.unrealized_pnl) {
            (Ok(sum), Some(pnl)) => Ok(sum + pnl),
            _ => Err(Unreconciled::NoComboPnl),
        };
    }
    held.iter()
        .filter_map(|leg| {
            let (in_combos, combos_pnl) = covered
                .get(&(leg.account_id, leg.conid))
                .copied()
                .unwrap_or((0.0, Ok(0.0)));
            let remainder = leg.quantity - in_combos;
            let remainder_pnl = leg
                .unrealized_pnl
                .ok_or(Unreconciled::NoPositionPnl)
                .and_then(|total| combos_pnl.map(|combos| total - combos));
            (remainder.abs() > EPSILON).then_some(Unmatched {
                account_id: leg.account_id,
                conid: leg.conid,
                held: leg.quantity,
                in_combos,
                remainder,
                remainder_pnl,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "spreads_tests.rs"]
mod tests;
