//! A combo's content hash: SHA-256 of everything the bridge stores for it — its own fields
//! (name, description, figures, `raw`) and each leg's (conid, ratio, figures, `raw`) — in an
//! unambiguous encoding. Kept beside the combo (`combo_positions.content_hash`), it lets a
//! re-sync see that a combo is unchanged without loading and comparing its stored payloads.
//!
//! Payloads are hashed as the text the gateway sent, not parsed: parsing every answer into a
//! tree to hash it canonically cost more than the rest of a re-sync. So anything that would
//! change a stored value — a price, a position, a key added to a leg's payload, `1` becoming
//! `1.0`, the order of an array — changes the hash; so does a change `jsonb` would not keep
//! (key order, spacing), which only costs that combo a full comparison that finds it equal
//! and writes the new hash. Figures are hashed by their bits. Nothing is left out as
//! "volatile": every field of the payload is stored, so every field counts.
//!
//! Pure: no I/O.

use sha2::{Digest, Sha256};

use super::combo::{ComboFields, Figures, LegFields};
use super::ids::ConId;

/// Changes whenever the encoding below does, so hashes written by an older encoding never
/// match and their combos are compared in full once.
const ENCODING: &[u8] = b"portfolio-bridge combo v2\0";

/// The SHA-256 of a combo's stored content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// The hash of a combo with these fields and legs (legs in the order given: a [`Combo`]
    /// keeps them sorted by conid, as they are stored).
    ///
    /// [`Combo`]: super::combo::Combo
    pub fn of(fields: &ComboFields, legs: &[(ConId, LegFields)]) -> ContentHash {
        let mut h = Hasher(Sha256::new());
        h.bytes(ENCODING);
        h.text(fields.name.as_deref());
        h.text(fields.description.as_deref());
        h.figures(&fields.figures);
        h.str(fields.raw.as_str());
        h.bytes(&(legs.len() as u64).to_le_bytes());
        for (conid, leg) in legs {
            h.bytes(&conid.get().to_le_bytes());
            h.number(leg.ratio);
            h.figures(&leg.figures);
            h.str(leg.raw.as_str());
        }
        ContentHash(h.0.finalize().into())
    }

    /// A hash read back from the database; `None` unless it has 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<ContentHash> {
        bytes.try_into().ok().map(ContentHash)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Feeds the hash an unambiguous encoding: every variable-length item is tagged or carries
/// its length, so no two different contents give the same byte stream.
struct Hasher(Sha256);

impl Hasher {
    fn bytes(&mut self, b: &[u8]) {
        self.0.update(b);
    }

    fn tag(&mut self, t: u8) {
        self.0.update([t]);
    }

    fn str(&mut self, s: &str) {
        self.bytes(&(s.len() as u64).to_le_bytes());
        self.bytes(s.as_bytes());
    }

    fn text(&mut self, t: Option<&str>) {
        match t {
            None => self.tag(0),
            Some(s) => {
                self.tag(1);
                self.str(s);
            }
        }
    }

    /// By its bits: `-0.0` and `0.0` are stored differently, so they hash differently.
    fn number(&mut self, x: Option<f64>) {
        match x {
            None => self.tag(0),
            Some(x) => {
                self.tag(1);
                self.bytes(&x.to_bits().to_le_bytes());
            }
        }
    }

    fn figures(&mut self, f: &Figures) {
        self.number(f.position);
        self.number(f.avg_price);
        self.number(f.market_value);
        self.number(f.unrealized_pnl);
        self.number(f.realized_pnl);
    }
}

#[cfg(test)]
#[path = "combo_hash_tests.rs"]
mod tests;
