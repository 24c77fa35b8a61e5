//! The spread view's arithmetic: how a spread's legs read (`-1 CLH7 / +1 CLM7`), and which
//! leg quantity no current native combo explains — the "unmatched legs" shown under the
//! combos. Pure.

use std::collections::BTreeMap;

use super::ids::ConId;

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

/// A leg quantity, per account and contract.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegQuantity {
    pub account_id: i32,
    pub conid: ConId,
    pub quantity: f64,
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
}

/// For every held leg, the quantity the same account's current combos do not explain; legs
/// fully covered are absent. Combo legs the account does not hold (the positions are older
/// than the combos) explain nothing and are ignored.
pub fn unmatched(held: &[LegQuantity], in_combos: &[LegQuantity]) -> Vec<Unmatched> {
    let mut covered: BTreeMap<(i32, ConId), f64> = BTreeMap::new();
    for leg in in_combos {
        *covered.entry((leg.account_id, leg.conid)).or_default() += leg.quantity;
    }
    held.iter()
        .filter_map(|leg| {
            let in_combos = covered
                .get(&(leg.account_id, leg.conid))
                .copied()
                .unwrap_or(0.0);
            let remainder = leg.quantity - in_combos;
            (remainder.abs() > EPSILON).then_some(Unmatched {
                account_id: leg.account_id,
                conid: leg.conid,
                held: leg.quantity,
                in_combos,
                remainder,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "spreads_tests.rs"]
mod tests;
