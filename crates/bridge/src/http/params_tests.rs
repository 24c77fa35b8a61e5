use super::*;

fn params(pairs: &[(&str, &str)], known: &[&str]) -> Result<Params, ApiError> {
    let raw = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::new(raw, known)
}

fn named(e: ApiError) -> String {
    match e {
        ApiError::BadParameter { name, .. } => name,
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_parameters_are_refused_by_name() {
    let e = params(&[("acount_id", "1")], &["account_id", "limit"])
        .err()
        .expect("refused");
    assert_eq!(
        e.to_string(),
        "acount_id: unknown parameter; this endpoint takes account_id, limit"
    );
}

#[test]
fn values_parse_or_name_their_parameter() {
    let p = params(
        &[
            ("account_id", "7"),
            ("include_stale", "TRUE"),
            ("limit", ""),
        ],
        &["account_id", "include_stale", "limit", "from"],
    )
    .expect("known");
    assert_eq!(p.int("account_id").expect("int"), Some(7));
    assert_eq!(p.bool("include_stale").expect("bool"), Some(true));
    assert_eq!(
        p.limit("limit", 100, 1000).expect("default"),
        100,
        "empty means absent"
    );
    assert_eq!(p.instant("from").expect("absent"), None);

    let bad = params(
        &[
            ("account_id", "x"),
            ("limit", "1001"),
            ("from", "yesterday"),
            ("s", "maybe"),
        ],
        &["account_id", "limit", "from", "s"],
    )
    .expect("known");
    assert_eq!(named(bad.int("account_id").expect_err("x")), "account_id");
    assert_eq!(
        named(bad.limit("limit", 100, 1000).expect_err("too many")),
        "limit"
    );
    assert_eq!(named(bad.instant("from").expect_err("not a time")), "from");
    assert_eq!(named(bad.bool("s").expect_err("not a bool")), "s");
}
