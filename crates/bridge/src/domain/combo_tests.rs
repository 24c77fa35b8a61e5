use serde_json::json;

use super::*;
use crate::domain::portfolio::RawPayload;

fn acct() -> AccountCode {
    AccountCode::parse("DU1234567").expect("valid")
}

fn c(id: i64) -> ConId {
    ConId::new(id).expect("valid")
}

fn leg(ratio: f64, position: f64, avg_price: f64, upnl: f64) -> LegFields {
    LegFields {
        ratio: Some(ratio),
        figures: Figures {
            position: Some(position),
            avg_price: Some(avg_price),
            market_value: Some(position * 1000.0 * avg_price),
            unrealized_pnl: Some(upnl),
            realized_pnl: Some(0.0),
        },
        raw: RawPayload::new(&json!({"position": position})),
    }
}

fn fields(name: &str) -> ComboFields {
    ComboFields {
        name: Some(name.into()),
        description: Some("1*810000002-1*810000001".into()),
        figures: Figures::default(),
        raw: RawPayload::new(&json!({"name": name})),
    }
}

/// Short 2 of the near month, long 2 of the next: two calendar spreads.
fn calendar(name: &str) -> Combo {
    Combo::new(
        &acct(),
        fields(name),
        vec![
            (c(810000002), leg(1.0, 2.0, 72.31, 120.0)),
            (c(810000001), leg(-1.0, -2.0, 72.05, -80.0)),
        ],
    )
    .expect("valid")
}

fn stored(id: i32, combo: &Combo) -> StoredCombo {
    StoredCombo {
        id,
        key: combo.key.as_str().to_owned(),
        stale: false,
        fields: combo.fields.clone(),
        legs: combo.legs.clone(),
    }
}

/// The plan with every stored combo's rows at hand, its hash that of its rows.
fn plan_all<'a>(stored: &[StoredCombo], snapshot: &'a Snapshot) -> Plan<'a> {
    let hashes: Vec<StoredHash> = stored
        .iter()
        .map(|s| StoredHash {
            id: s.id,
            key: s.key.clone(),
            stale: s.stale,
            hash: Some(ContentHash::of(&s.fields, &s.legs)),
        })
        .collect();
    plan(&hashes, stored, snapshot)
}

fn snap(combos: Vec<Combo>) -> Snapshot {
    Snapshot::new(combos).expect("distinct keys")
}

#[test]
fn the_key_is_the_account_and_the_sorted_normalized_legs() {
    let a = ComboKey::new(&acct(), &[(c(810000002), 1.0), (c(810000001), -1.0)]);
    let b = ComboKey::new(&acct(), &[(c(810000001), -1.0), (c(810000002), 1.0)]);
    assert_eq!(a, b, "leg order does not matter");
    assert_eq!(a.as_str(), "DU1234567|810000001:-1,810000002:1");
    let other = AccountCode::parse("DU7654321").expect("valid");
    assert_ne!(
        ComboKey::new(&other, &[(c(810000001), -1.0), (c(810000002), 1.0)]),
        a,
        "the account is part of it"
    );
    assert_eq!(
        ComboKey::new(&acct(), &[(c(1), 0.5), (c(2), -2.0)]).as_str(),
        "DU1234567|1:0.5,2:-2"
    );
}

#[test]
fn a_combo_derives_its_figures_from_its_legs() {
    let combo = calendar("CP.CPa");
    assert_eq!(
        combo.fields.figures.position,
        Some(2.0),
        "-2 / -1 = 2 spreads"
    );
    let spread = 72.31 - 72.05;
    assert!((combo.fields.figures.avg_price.expect("known") - spread).abs() < 1e-9);
    assert_eq!(combo.fields.figures.unrealized_pnl, Some(40.0));
    assert_eq!(combo.legs[0].0, c(810000001), "legs sorted by conid");
    assert_eq!(combo.fields.name.as_deref(), Some("CP.CPa"));

    let mut unknown = leg(1.0, 2.0, 72.31, 120.0);
    unknown.figures.unrealized_pnl = None;
    let partial = Combo::new(
        &acct(),
        fields("x"),
        vec![
            (c(810000002), unknown),
            (c(810000001), leg(-1.0, -2.0, 72.05, -80.0)),
        ],
    )
    .expect("valid");
    assert_eq!(
        partial.fields.figures.unrealized_pnl, None,
        "a sum with an unknown part is unknown, not a smaller number"
    );
}

#[test]
fn malformed_legs_are_refused_by_name() {
    let no_ratio = LegFields {
        ratio: None,
        ..leg(1.0, 1.0, 1.0, 0.0)
    };
    let cases = [
        (vec![], ComboError::NoLegs),
        (
            vec![(c(5), no_ratio.clone()), (c(6), leg(1.0, 1.0, 1.0, 0.0))],
            ComboError::MissingRatio(c(5)),
        ),
        (
            vec![(c(5), leg(0.0, 1.0, 1.0, 0.0))],
            ComboError::ZeroRatio(c(5)),
        ),
        (
            vec![
                (c(5), leg(1.0, 1.0, 1.0, 0.0)),
                (c(5), leg(-1.0, 1.0, 1.0, 0.0)),
            ],
            ComboError::DuplicateLeg(c(5)),
        ),
    ];
    for (legs, want) in cases {
        assert_eq!(Combo::new(&acct(), fields("x"), legs), Err(want));
    }
}

#[test]
fn a_first_snapshot_inserts_everything() {
    let snapshot = snap(vec![calendar("CP.CPa")]);
    let p = plan_all(&[], &snapshot);
    assert_eq!(p.insert.len(), 1);
    assert_eq!(p.legs_written(), 2);
    assert_eq!((p.changed, p.unchanged), (0, 0));
}

#[test]
fn an_unchanged_snapshot_writes_nothing() {
    let snapshot = snap(vec![calendar("CP.CPa")]);
    let p = plan_all(&[stored(7, &snapshot[0])], &snapshot);
    assert!(p.is_empty(), "{p:?}");
    assert_eq!((p.changed, p.unchanged), (0, 1));
}

#[test]
fn a_moved_price_updates_the_combo_and_only_the_legs_that_moved() {
    let before = calendar("CP.CPa");
    let mut moved = before.clone();
    moved.legs[1].1.figures.unrealized_pnl = Some(150.0);
    moved.fields.figures.unrealized_pnl = Some(70.0);
    let snapshot = snap(vec![moved]);
    let p = plan_all(&[stored(7, &before)], &snapshot);
    assert_eq!(p.update.len(), 1);
    assert_eq!(p.update[0].0, 7);
    assert_eq!(p.upsert_legs.len(), 1);
    assert_eq!(p.upsert_legs[0].1, c(810000002));
    assert_eq!((p.changed, p.unchanged), (1, 0));
}

#[test]
fn a_combo_no_longer_reported_is_marked_stale_once() {
    let gone = calendar("CP.CPa");
    let none = snap(vec![]);
    let p = plan_all(&[stored(7, &gone)], &none);
    assert_eq!(p.mark_stale, vec![7]);

    let mut already = stored(7, &gone);
    already.stale = true;
    assert!(plan_all(&[already.clone()], &none).is_empty());

    let back = snap(vec![gone]);
    let p = plan_all(&[already], &back);
    assert_eq!(p.update.len(), 1, "a stale combo reported again comes back");
}

#[test]
fn a_leg_no_longer_in_its_combo_is_removed() {
    let combo = calendar("CP.CPa");
    let mut old = stored(7, &combo);
    old.legs.push((c(810000009), leg(1.0, 1.0, 1.0, 0.0)));
    let snapshot = snap(vec![combo]);
    let p = plan_all(&[old], &snapshot);
    assert_eq!(p.remove_legs, vec![(7, c(810000009))]);
    assert!(p.update.is_empty(), "the combo's own fields did not change");
    assert_eq!(p.changed, 1);
}

#[test]
fn two_combos_with_the_same_legs_are_an_error_naming_the_first() {
    assert_eq!(
        Snapshot::new(vec![calendar("CP.CPa"), calendar("CP.CPb")]),
        Err(ComboError::SameLegsAs("CP.CPa".into()))
    );
}

fn by_hash(s: &StoredCombo, hash: Option<ContentHash>) -> StoredHash {
    StoredHash {
        id: s.id,
        key: s.key.clone(),
        stale: s.stale,
        hash,
    }
}

#[test]
fn only_combos_whose_hash_differs_or_is_missing_are_compared() {
    let (same, moved, unhashed, stale, new) = (
        calendar("CP.CPa"),
        calendar("CP.CPb"),
        calendar("CP.CPc"),
        calendar("CP.CPd"),
        calendar("CP.CPe"),
    );
    let mut snapshot = Vec::new();
    let mut stored_hashes = Vec::new();
    for (id, combo) in [(1, &same), (2, &moved), (3, &unhashed), (4, &stale)] {
        // Distinct keys: each combo its own pair of legs.
        let mut combo = combo.clone();
        combo.key = ComboKey(format!("{}#{id}", combo.key));
        let mut s = stored(id, &combo);
        s.stale = id == 4;
        let hash = match id {
            2 => Some(ContentHash::of(&fields("before"), &combo.legs)),
            3 => None,
            _ => Some(combo.content_hash()),
        };
        stored_hashes.push(by_hash(&s, hash));
        snapshot.push(combo);
    }
    snapshot.push(new);
    assert_eq!(to_compare(&stored_hashes, &snap(snapshot)), vec![2, 3, 4]);
}

#[test]
fn a_combo_whose_hash_matches_is_unchanged_without_its_rows() {
    let snapshot = snap(vec![calendar("CP.CPa")]);
    let s = stored(7, &snapshot[0]);
    let p = plan(
        &[by_hash(&s, Some(snapshot[0].content_hash()))],
        &[],
        &snapshot,
    );
    assert!(p.is_empty(), "{p:?}");
    assert_eq!((p.changed, p.unchanged), (0, 1));
}

#[test]
fn a_combo_stored_without_a_hash_gets_only_its_hash_when_its_rows_are_the_same() {
    let snapshot = snap(vec![calendar("CP.CPa")]);
    let s = stored(7, &snapshot[0]);
    let p = plan(&[by_hash(&s, None)], std::slice::from_ref(&s), &snapshot);
    assert_eq!(p.rehash, vec![(7, snapshot[0].content_hash())]);
    assert_eq!(p.rows_written(), 1, "{p:?}");
    assert_eq!((p.changed, p.unchanged), (0, 1));
}

fn as_sent(text: &str) -> RawPayload {
    RawPayload::from_json(
        &serde_json::from_str::<Box<serde_json::value::RawValue>>(text).expect("json"),
    )
}

/// `jsonb` gives a payload back with its own key order and spacing: the hash (of the text
/// the gateway sent) differs, the rows compare equal, and only the hash is written.
#[test]
fn a_payload_stored_in_another_key_order_and_spacing_writes_only_the_hash() {
    let mut sent = calendar("CP.CPa");
    sent.fields.raw = as_sent(r#"{"name":"CP.CPa","legs":[]}"#);
    let mut stored_row = stored(7, &sent);
    stored_row.fields.raw = as_sent(r#"{"legs": [], "name": "CP.CPa"}"#);
    let old_hash = Combo {
        fields: stored_row.fields.clone(),
        ..sent.clone()
    }
    .content_hash();
    let snapshot = snap(vec![sent]);
    assert_ne!(old_hash, snapshot[0].content_hash(), "hashed as sent");
    let ids = to_compare(&[by_hash(&stored_row, Some(old_hash))], &snapshot);
    assert_eq!(ids, vec![7]);
    let p = plan(
        &[by_hash(&stored_row, Some(old_hash))],
        std::slice::from_ref(&stored_row),
        &snapshot,
    );
    assert!(p.update.is_empty() && p.upsert_legs.is_empty(), "{p:?}");
    assert_eq!(p.rehash, vec![(7, snapshot[0].content_hash())]);
    assert_eq!((p.changed, p.unchanged), (0, 1));
}

#[test]
fn a_changed_leg_writes_that_leg_and_the_combo_hash() {
    let before = calendar("CP.CPa");
    let mut moved = before.clone();
    moved.legs[0].1.raw = RawPayload::new(&json!({"position": 2.0, "mktPrice": 1.5}));
    let s = stored(7, &before);
    let snapshot = snap(vec![moved]);
    let p = plan(
        &[by_hash(&s, Some(before.content_hash()))],
        std::slice::from_ref(&s),
        &snapshot,
    );
    assert!(p.update.is_empty(), "the combo's own fields did not change");
    assert_eq!(p.upsert_legs.len(), 1);
    assert_eq!(p.rehash, vec![(7, snapshot[0].content_hash())]);
    assert_eq!(p.rows_written(), 2);
    assert_eq!((p.changed, p.unchanged), (1, 0));
}

#[test]
fn a_changed_combo_whose_rows_were_not_read_is_written_whole() {
    let before = calendar("CP.CPa");
    let mut moved = before.clone();
    moved.fields.figures.position = Some(3.0);
    let s = stored(7, &before);
    let snapshot = snap(vec![moved]);
    let p = plan(&[by_hash(&s, Some(before.content_hash()))], &[], &snapshot);
    assert_eq!(p.update.len(), 1);
    assert_eq!(p.upsert_legs.len(), 2);
    assert!(p.rehash.is_empty(), "the update writes the hash");
}
