use std::collections::BTreeSet;

use super::*;

const NEEDS: &[TableNeeds] = &[TableNeeds {
    table: "things",
    columns: &[
        ("id", Kind::Int),
        ("name", Kind::Text),
        ("seen_at", Kind::Timestamptz),
    ],
    unique_keys: &[&["name", "id"]],
}];

fn catalog(columns: &[(&str, &str)], unique: &[&[&str]]) -> Catalog {
    let mut c = Catalog::default();
    for (column, ty) in columns {
        c.columns
            .insert(("things".into(), (*column).into()), (*ty).into());
    }
    c.unique_keys.insert(
        "things".into(),
        unique
            .iter()
            .map(|k| k.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>())
            .collect(),
    );
    c
}

#[test]
fn a_matching_table_has_no_problems() {
    let c = catalog(
        &[
            ("id", "bigint"),
            ("name", "character varying"),
            ("seen_at", "timestamp with time zone"),
            ("extra", "xml"),
        ],
        &[&["id", "name"]],
    );
    assert_eq!(problems(NEEDS, &c), Vec::<String>::new());
}

#[test]
fn a_missing_table_is_one_problem() {
    assert_eq!(
        problems(NEEDS, &Catalog::default()),
        vec!["table things is missing"]
    );
}

#[test]
fn missing_columns_wrong_types_and_missing_keys_are_each_named() {
    let c = catalog(
        &[
            ("id", "integer"),
            ("seen_at", "timestamp without time zone"),
        ],
        &[&["id"]],
    );
    assert_eq!(
        problems(NEEDS, &c),
        vec![
            "column things.name is missing",
            "column things.seen_at is timestamp without time zone, but the bridge needs timestamp with time zone",
            "table things has no unique constraint on (name, id)",
        ]
    );
}

#[test]
fn the_error_says_what_to_run() {
    let e = SchemaError {
        problems: vec!["table things is missing".into()],
    };
    let text = e.to_string();
    assert!(text.contains("- table things is missing"), "{text}");
    assert!(text.contains("portfolio-bridge migrate"), "{text}");
}

#[test]
fn kinds_accept_their_family_only() {
    assert!(Kind::Int.accepts("integer") && Kind::Int.accepts("bigint"));
    assert!(!Kind::Int.accepts("double precision"));
    assert!(Kind::Float.accepts("double precision") && !Kind::Float.accepts("numeric"));
    assert!(
        Kind::Json.accepts("json") && Kind::Json.accepts("jsonb") && !Kind::Json.accepts("text")
    );
    assert!(Kind::Text.accepts("text") && !Kind::Text.accepts("json"));
    assert!(Kind::Bytes.accepts("bytea") && !Kind::Bytes.accepts("text"));
}

#[test]
fn a_greeks_table_from_before_the_risk_view_is_told_to_migrate() {
    // `portfolio_greeks` as migration 0001 left it: the spec's columns and the row key.
    let mut c = Catalog::default();
    for (column, ty) in [
        ("id", "bigint"),
        ("timestamp", "timestamp with time zone"),
        ("contract", "text"),
        ("delta", "double precision"),
        ("gamma", "double precision"),
        ("vega", "double precision"),
        ("theta", "double precision"),
        ("underlying_price", "double precision"),
        ("row_key", "text"),
    ] {
        c.columns
            .insert(("portfolio_greeks".into(), column.into()), ty.into());
    }
    c.unique_keys.insert(
        "portfolio_greeks".into(),
        vec![BTreeSet::from(["row_key".to_owned()])],
    );
    assert_eq!(
        problems(&GREEKS_TABLES[..1], &c),
        [
            "account",
            "delta_dollars",
            "gamma_dollars",
            "vega_lt30",
            "vega_30_90",
            "vega_gt90",
            "theta_lt30",
            "theta_30_90",
            "theta_gt90",
            "bridge"
        ]
        .map(|column| format!("column portfolio_greeks.{column} is missing"))
    );
}

#[test]
fn a_partitioned_table_s_unique_key_may_include_its_partition_key() {
    let mut c = catalog(
        &[
            ("id", "bigint"),
            ("name", "text"),
            ("seen_at", "timestamp with time zone"),
        ],
        &[&["id", "name", "seen_at"]],
    );
    assert_eq!(
        problems(NEEDS, &c),
        vec!["table things has no unique constraint on (name, id)"]
    );
    c.partition_keys
        .insert("things".into(), BTreeSet::from(["seen_at".to_owned()]));
    assert_eq!(problems(NEEDS, &c), Vec::<String>::new());
}
