//! Native combo (spread) positions as the bridge stores them: the deterministic [`ComboKey`],
//! a validated [`Combo`] with its legs, and [`plan`], which turns one account's fresh snapshot
//! and what is stored into the fewest writes — nothing at all when nothing changed. Stored
//! combos are known by their content hash first ([`to_compare`] names the few whose rows
//! must be read), so an unchanged re-sync reads no payloads.
//!
//! Pure: what the gateway reported and what the database holds come in, a plan comes out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::combo_hash::ContentHash;
use super::ids::{AccountCode, ConId};
use super::portfolio::RawPayload;

/// A combo's identity: the account and the sorted, normalized `conid:ratio` set of its legs,
/// e.g. `DU1234567|810000001:-1,810000002:1`. The same legs always give the same key, whatever
/// order or number format the gateway used. It holds the raw account code: it is stored,
/// never shown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComboKey(String);

/// A ratio as the key writes it: integers without a fraction (`-1`, not `-1.0`).
fn normalized_ratio(ratio: f64) -> String {
    if ratio.fract() == 0.0 && ratio.abs() < 1e15 {
        format!("{}", ratio as i64)
    } else {
        format!("{ratio}")
    }
}

impl ComboKey {
    pub fn new(account: &AccountCode, legs: &[(ConId, f64)]) -> ComboKey {
        let mut legs: Vec<(ConId, f64)> = legs.to_vec();
        legs.sort_by_key(|(conid, _)| *conid);
        let set: Vec<String> = legs
            .iter()
            .map(|(conid, ratio)| format!("{conid}:{}", normalized_ratio(*ratio)))
            .collect();
        ComboKey(format!("{account}|{}", set.join(",")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComboKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a reported combo cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComboError {
    #[error("it has no legs")]
    NoLegs,
    #[error("leg {0} has no ratio")]
    MissingRatio(ConId),
    #[error("leg {0} has a ratio of 0")]
    ZeroRatio(ConId),
    #[error("leg {0} is listed twice")]
    DuplicateLeg(ConId),
    #[error("it has the same legs as combo {0}")]
    SameLegsAs(String),
}

/// The figures a combo and each of its legs carry, as their tables' columns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// A combo: units held, a leg's position divided by its ratio. A leg: this combo's share
    /// of the account's position in it.
    pub position: Option<f64>,
    /// A combo: the spread's price per unit, the sum of ratio × leg average price.
    pub avg_price: Option<f64>,
    pub market_value: Option<f64>,
    pub unrealized_pnl: Option<f64>,
    pub realized_pnl: Option<f64>,
}

/// The stored fields of a combo, as `combo_positions` holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct ComboFields {
    pub name: Option<String>,
    pub description: Option<String>,
    pub figures: Figures,
    pub raw: RawPayload,
}

impl ComboFields {
    /// Whether storing `self` over `other` would change nothing: `raw` compared as `jsonb`
    /// keeps it (a payload read back is not the text the gateway sent).
    pub fn stores_as(&self, other: &ComboFields) -> bool {
        self.name == other.name
            && self.description == other.description
            && self.figures == other.figures
            && self.raw.same_json(&other.raw)
    }
}

/// The stored fields of a leg, as `combo_position_legs` holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct LegFields {
    pub ratio: Option<f64>,
    pub figures: Figures,
    pub raw: RawPayload,
}

impl LegFields {
    /// As [`ComboFields::stores_as`].
    pub fn stores_as(&self, other: &LegFields) -> bool {
        self.ratio == other.ratio && self.figures == other.figures && self.raw.same_json(&other.raw)
    }
}

/// A combo as the gateway reported it, checked: at least one leg, each with a non-zero ratio,
/// no leg twice. Legs are sorted by conid.
#[derive(Debug, Clone, PartialEq)]
pub struct Combo {
    pub key: ComboKey,
    pub fields: ComboFields,
    pub legs: Vec<(ConId, LegFields)>,
}

/// The sum of `values`, if every one is known.
fn sum_all(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values.sum()
}

impl Combo {
    /// Checks the legs and derives the combo's own figures from them. `fields`' figures are
    /// ignored and replaced; its name, description and raw payload are kept.
    pub fn new(
        account: &AccountCode,
        fields: ComboFields,
        mut legs: Vec<(ConId, LegFields)>,
    ) -> Result<Combo, ComboError> {
        if legs.is_empty() {
            return Err(ComboError::NoLegs);
        }
        legs.sort_by_key(|(conid, _)| *conid);
        let mut ratios = Vec::with_capacity(legs.len());
        for (i, (conid, leg)) in legs.iter().enumerate() {
            if i > 0 && legs[i - 1].0 == *conid {
                return Err(ComboError::DuplicateLeg(*conid));
            }
            match leg.ratio {
                None => return Err(ComboError::MissingRatio(*conid)),
                Some(0.0) => return Err(ComboError::ZeroRatio(*conid)),
                Some(r) => ratios.push((*conid, r)),
            }
        }
        let ratio_of = |leg: &LegFields| leg.ratio.unwrap_or(1.0);
        let sum = |f: fn(&Figures) -> Option<f64>| sum_all(legs.iter().map(|(_, l)| f(&l.figures)));
        let figures = Figures {
            position: legs
                .iter()
                .find_map(|(_, l)| l.figures.position.map(|p| p / ratio_of(l))),
            avg_price: sum_all(
                legs.iter()
                    .map(|(_, l)| l.figures.avg_price.map(|p| p * ratio_of(l))),
            ),
            market_value: sum(|f| f.market_value),
            unrealized_pnl: sum(|f| f.unrealized_pnl),
            realized_pnl: sum(|f| f.realized_pnl),
        };
        let fields = ComboFields { figures, ..fields };
        Ok(Combo {
            key: ComboKey::new(account, &ratios),
            fields,
            legs,
        })
    }

    /// The hash of what the bridge stores for it.
    pub fn content_hash(&self) -> ContentHash {
        ContentHash::of(&self.fields, &self.legs)
    }

    /// What the operator calls it: IBKR's name, else its key's legs.
    pub fn label(&self) -> String {
        self.fields.name.clone().unwrap_or_else(|| {
            let legs = self.key.as_str().split_once('|').map_or("", |(_, l)| l);
            format!("[{legs}]")
        })
    }
}

/// A combo as the database holds it, in full.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCombo {
    pub id: i32,
    pub key: String,
    /// Marked stale: the gateway stopped reporting it.
    pub stale: bool,
    pub fields: ComboFields,
    pub legs: Vec<(ConId, LegFields)>,
}

/// A stored combo by its hash only: what a sync reads of every combo.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHash {
    pub id: i32,
    pub key: String,
    pub stale: bool,
    /// `None` when it was stored without one (before migration 0007) or with one that is
    /// not a SHA-256: its content has to be compared in full.
    pub hash: Option<ContentHash>,
}

/// The writes that bring one account's stored combos in line with a fresh snapshot.
#[derive(Debug, Default, PartialEq)]
pub struct Plan<'a> {
    /// New combos, with all their legs, and their hashes.
    pub insert: Vec<(&'a Combo, ContentHash)>,
    /// Stored combos whose own fields changed, or that come back from stale, with their new
    /// hashes.
    pub update: Vec<(i32, &'a Combo, ContentHash)>,
    /// Stored combos whose own fields are as stored but whose hash is not: a leg changed,
    /// or the hash was missing. Only the hash is written.
    pub rehash: Vec<(i32, ContentHash)>,
    /// Legs of stored combos that are new or changed.
    pub upsert_legs: Vec<(i32, ConId, &'a LegFields)>,
    /// Legs no longer in their combo.
    pub remove_legs: Vec<(i32, ConId)>,
    /// Stored combos the snapshot no longer has.
    pub mark_stale: Vec<i32>,
    /// Stored combos with nothing to write but, at most, their hash.
    pub unchanged: usize,
    /// Stored combos with a change of their own or of a leg.
    pub changed: usize,
}

impl Plan<'_> {
    pub fn is_empty(&self) -> bool {
        self.rows_written() == 0
    }

    /// Leg rows the plan writes (inserted with new combos, or upserted).
    pub fn legs_written(&self) -> usize {
        self.insert.iter().map(|(c, _)| c.legs.len()).sum::<usize>() + self.upsert_legs.len()
    }

    /// Every row the plan inserts, updates or deletes, in both tables.
    pub fn rows_written(&self) -> usize {
        self.insert.len()
            + self.update.len()
            + self.rehash.len()
            + self.mark_stale.len()
            + self.legs_written()
            + self.remove_legs.len()
    }
}

/// One account's combos as the gateway reported them, checked, each with its content hash
/// (computed once, where the account is read, not again for every comparison).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    combos: Vec<Combo>,
    hashes: Vec<ContentHash>,
}

impl Snapshot {
    /// Two combos with the same key cannot both be stored: that is an error naming the first.
    pub fn new(combos: Vec<Combo>) -> Result<Snapshot, ComboError> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for (i, combo) in combos.iter().enumerate() {
            if !seen.insert(combo.key.as_str()) {
                let first = combos[..i].iter().find(|c| c.key == combo.key);
                return Err(ComboError::SameLegsAs(first.unwrap_or(combo).label()));
            }
        }
        let hashes = combos.iter().map(Combo::content_hash).collect();
        Ok(Snapshot { combos, hashes })
    }

    /// Each combo with its hash.
    pub fn iter(&self) -> impl Iterator<Item = (&Combo, ContentHash)> {
        self.combos.iter().zip(self.hashes.iter().copied())
    }
}

impl std::ops::Deref for Snapshot {
    type Target = [Combo];

    fn deref(&self) -> &[Combo] {
        &self.combos
    }
}

/// The stored combos whose rows a sync has to read before planning: those the snapshot
/// reports with a different (or no) hash, and stale ones it reports again. An unchanged
/// combo is recognised by its hash alone.
pub fn to_compare(stored: &[StoredHash], snapshot: &Snapshot) -> Vec<i32> {
    let by_key: BTreeMap<&str, &StoredHash> = stored.iter().map(|s| (s.key.as_str(), s)).collect();
    snapshot
        .iter()
        .filter_map(|(combo, hash)| {
            let old = by_key.get(combo.key.as_str())?;
            let same = !old.stale && old.hash == Some(hash);
            (!same).then_some(old.id)
        })
        .collect()
}

/// Compares one account's `snapshot` with what is stored (replace semantics: a combo the
/// snapshot lacks is marked stale, a leg its combo lacks is removed): `stored` is every
/// stored combo by hash, `compared` the full rows of those [`to_compare`] named. A combo
/// whose hash matches is unchanged without a look at its rows; one whose rows are missing
/// from `compared` is written whole, as writing too much is safe and too little is not.
pub fn plan<'a>(
    stored: &[StoredHash],
    compared: &[StoredCombo],
    snapshot: &'a Snapshot,
) -> Plan<'a> {
    let by_key: BTreeMap<&str, &StoredHash> = stored.iter().map(|s| (s.key.as_str(), s)).collect();
    let rows: BTreeMap<i32, &StoredCombo> = compared.iter().map(|s| (s.id, s)).collect();
    let mut p = Plan::default();
    for (combo, hash) in snapshot.iter() {
        let Some(old) = by_key.get(combo.key.as_str()) else {
            p.insert.push((combo, hash));
            continue;
        };
        if !old.stale && old.hash == Some(hash) {
            p.unchanged += 1;
            continue;
        }
        let (old_fields, old_legs): (Option<&ComboFields>, BTreeMap<ConId, &LegFields>) =
            match rows.get(&old.id) {
                Some(row) => (
                    Some(&row.fields),
                    row.legs.iter().map(|(c, l)| (*c, l)).collect(),
                ),
                None => (None, BTreeMap::new()),
            };
        let own = old.stale || !old_fields.is_some_and(|f| f.stores_as(&combo.fields));
        if own {
            p.update.push((old.id, combo, hash));
        }
        let before = p.upsert_legs.len() + p.remove_legs.len();
        for (conid, leg) in &combo.legs {
            if !old_legs.get(conid).is_some_and(|old| old.stores_as(leg)) {
                p.upsert_legs.push((old.id, *conid, leg));
            }
        }
        let new_legs: BTreeSet<ConId> = combo.legs.iter().map(|(c, _)| *c).collect();
        for conid in old_legs.keys().filter(|c| !new_legs.contains(c)) {
            p.remove_legs.push((old.id, *conid));
        }
        let legs_changed = p.upsert_legs.len() + p.remove_legs.len() > before;
        if !own && old.hash != Some(hash) {
            p.rehash.push((old.id, hash));
        }
        if own || legs_changed {
            p.changed += 1;
        } else {
            p.unchanged += 1;
        }
    }
    let reported: BTreeSet<&str> = snapshot.iter().map(|(c, _)| c.key.as_str()).collect();
    p.mark_stale = stored
        .iter()
        .filter(|s| !s.stale && !reported.contains(s.key.as_str()))
        .map(|s| s.id)
        .collect();
    p
}

#[cfg(test)]
#[path = "combo_tests.rs"]
mod tests;
