use serde_json::{Value, json};

use super::*;
use crate::domain::portfolio::RawPayload;

fn c(id: i64) -> ConId {
    ConId::new(id).expect("valid")
}

fn figures(position: f64) -> Figures {
    Figures {
        position: Some(position),
        avg_price: Some(1.1),
        market_value: Some(position * 1000.0),
        unrealized_pnl: Some(12.5),
        realized_pnl: None,
    }
}

fn leg_raw(position: f64) -> Value {
    json!({"conid": 810000002, "position": position, "mktPrice": 1.25, "exchs": null,
           "conExchMap": [], "assetClass": "FOP"})
}

/// A combo's fields and legs.
type Content = (ComboFields, Vec<(ConId, LegFields)>);

/// A named change to a combo's content.
type Change = (&'static str, fn(&mut Content));

fn content(position: f64) -> Content {
    let fields = ComboFields {
        name: Some("CP.CP0000abcd".into()),
        description: Some("-1*810000001+1*810000002".into()),
        figures: figures(position),
        raw: RawPayload::new(&json!({"name": "CP.CP0000abcd", "positions": [leg_raw(position)]})),
    };
    let legs = vec![(
        c(810000002),
        LegFields {
            ratio: Some(1.0),
            figures: figures(position),
            raw: RawPayload::new(&leg_raw(position)),
        },
    )];
    (fields, legs)
}

fn hash((fields, legs): &Content) -> ContentHash {
    ContentHash::of(fields, legs)
}

#[test]
fn the_same_content_hashes_alike_and_round_trips_through_bytes() {
    let a = hash(&content(2.0));
    assert_eq!(a, hash(&content(2.0)));
    assert_eq!(ContentHash::from_bytes(a.as_bytes()), Some(a));
    assert_eq!(ContentHash::from_bytes(&[0; 31]), None);
}

/// Hashed as sent, unparsed: a reordering changes the hash (and costs that combo one full
/// comparison, see the plan's tests); the same text always hashes alike.
#[test]
fn payloads_are_hashed_as_the_text_sent() {
    let base = content(2.0);
    let reordered: Box<serde_json::value::RawValue> = serde_json::from_str(
        r#"{"assetClass": "FOP", "conExchMap": [], "exchs": null, "mktPrice": 1.25,
            "position": 2.0, "conid": 810000002}"#,
    )
    .expect("json");
    let mut other = base.clone();
    other.1[0].1.raw = RawPayload::from_json(&reordered);
    assert!(
        base.1[0].1.raw.same_json(&other.1[0].1.raw),
        "the same JSON"
    );
    assert_ne!(hash(&base), hash(&other));
}

/// A change to a leg's payload, made on its parsed JSON.
fn edit_leg(x: &mut Content, f: impl FnOnce(&mut Value)) {
    let mut v = x.1[0].1.raw.value();
    f(&mut v);
    x.1[0].1.raw = RawPayload::new(&v);
}

#[test]
fn anything_stored_that_changes_changes_the_hash() {
    let base = hash(&content(2.0));
    let changes: Vec<Change> = vec![
        ("a position", |x| x.1[0].1.figures.position = Some(3.0)),
        ("a combo figure", |x| {
            x.0.figures.unrealized_pnl = Some(13.0)
        }),
        ("a figure becoming unknown", |x| {
            x.0.figures.avg_price = None
        }),
        ("a ratio", |x| x.1[0].1.ratio = Some(2.0)),
        ("the name", |x| x.0.name = None),
        ("the description", |x| x.0.description = Some("x".into())),
        ("a price in a leg's payload", |x| {
            edit_leg(x, |v| v["mktPrice"] = json!(1.26))
        }),
        ("a key added to a leg's payload", |x| {
            edit_leg(x, |v| v["model"] = json!(""))
        }),
        ("an integer written as a float", |x| {
            edit_leg(x, |v| v["conid"] = json!(810000002.0))
        }),
        ("the combo's payload", |x| {
            x.0.raw = RawPayload::new(&json!({"positions": []}))
        }),
        ("another leg", |x| {
            let leg = x.1[0].1.clone();
            x.1.push((c(810000003), leg));
        }),
        ("a leg's conid", |x| x.1[0].0 = c(810000009)),
    ];
    for (what, change) in changes {
        let mut changed = content(2.0);
        change(&mut changed);
        assert_ne!(hash(&changed), base, "{what} must change the hash");
    }
}

#[test]
fn text_boundaries_cannot_be_shifted_between_fields() {
    let mut a = content(2.0);
    let mut b = content(2.0);
    a.0.name = Some("ab".into());
    a.0.description = Some("c".into());
    b.0.name = Some("a".into());
    b.0.description = Some("bc".into());
    assert_ne!(hash(&a), hash(&b));
    a.0.name = None;
    b.0.name = Some(String::new());
    assert_ne!(hash(&a), hash(&b), "no name is not an empty name");
}

#[test]
fn negative_zero_is_stored_as_such_so_it_counts() {
    let mut zero = content(2.0);
    let mut negative = content(2.0);
    zero.1[0].1.figures.realized_pnl = Some(0.0);
    negative.1[0].1.figures.realized_pnl = Some(-0.0);
    assert_ne!(hash(&zero), hash(&negative));
}
