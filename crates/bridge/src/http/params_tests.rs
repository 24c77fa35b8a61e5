use utoipa::openapi::path::ParameterIn;

use super::*;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Sample {
    #[param(inline)]
    account_id: Option<Id>,
    #[param(inline)]
    limit: Option<Limit<100, 1000>>,
    #[param(inline)]
    symbol: Option<Text>,
    #[param(inline)]
    from: Option<Instant>,
    include_stale: Option<bool>,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parsed(list: &[(&str, &str)]) -> Result<Sample, ApiError> {
    decode(pairs(list))
}

/// The parameter a refusal names, and its message.
fn refused(list: &[(&str, &str)]) -> (String, String) {
    match parsed(list) {
        Err(ApiError::BadParameter { name, message }) => (name, message),
        other => panic!("{list:?}: {other:?}"),
    }
}

#[test]
fn unknown_repeated_or_unprintable_parameters_are_refused_by_name() {
    assert_eq!(
        refused(&[("acount_id", "1")]),
        (
            "acount_id".into(),
            "unknown parameter; this endpoint takes account_id, limit, symbol, from, \
             include_stale"
                .into()
        )
    );
    assert_eq!(
        refused(&[("limit", "1"), ("limit", "2")]),
        ("limit".into(), "given more than once".into())
    );
    for value in ["\0", "CL\0", "\u{1b}[31m", "\u{85}"] {
        assert_eq!(refused(&[("symbol", value)]).0, "symbol", "{value:?}");
    }
}

#[test]
fn values_parse_or_name_their_parameter() {
    let p = parsed(&[
        ("account_id", "7"),
        ("include_stale", "true"),
        ("symbol", "cl"),
        ("from", "2026-11-21T09:00:00-05:00"),
    ])
    .expect("valid");
    assert_eq!(p.account_id, Some(Id(7)));
    assert_eq!(p.include_stale, Some(true));
    assert_eq!(p.symbol.as_ref().map(Text::as_str), Some("cl"));
    assert_eq!(
        p.from.map(Instant::get),
        Some("2026-11-21T14:00:00Z".parse().expect("ts"))
    );
    assert_eq!(Limit::or_default(p.limit), 100);

    for (name, value) in [
        ("account_id", "x"),
        ("account_id", "0"),
        ("account_id", "2147483648"),
        ("limit", "1001"),
        ("limit", "0"),
        ("limit", ""),
        ("symbol", ""),
        ("symbol", &"X".repeat(65)),
        ("from", "yesterday"),
        ("from", ""),
        ("include_stale", "maybe"),
        ("include_stale", ""),
    ] {
        assert_eq!(refused(&[(name, value)]).0, name, "{name}={value:?}");
    }
    assert_eq!(
        refused(&[("account_id", "2147483648")]).1,
        "\"2147483648\" is not an id (a whole number from 1 to 2147483647)"
    );
}

#[test]
fn the_documented_names_are_the_parsed_ones() {
    let names: Vec<String> = Sample::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        names,
        ["account_id", "limit", "symbol", "from", "include_stale"]
    );
}

#[test]
fn the_value_types_document_their_own_bounds() {
    let json = |s: RefOr<Schema>| serde_json::to_value(s).expect("json");
    assert_eq!(
        json(Id::schema()),
        serde_json::json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 2147483647})
    );
    assert_eq!(
        json(Limit::<100, 1000>::schema()),
        serde_json::json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 1000, "default": 100})
    );
    assert_eq!(json(Text::schema())["maxLength"], 64);
    assert_eq!(json(Instant::schema())["format"], "date-time");
}

#[test]
fn rfc3339_times_and_nothing_else() {
    let ts = |s: &str| s.parse::<Timestamp>().expect("timestamp");
    for (text, expected) in [
        ("2026-11-21T14:00:00Z", ts("2026-11-21T14:00:00Z")),
        ("2026-11-21t14:00:00z", ts("2026-11-21T14:00:00Z")),
        ("2026-11-21T09:00:00.5-05:00", ts("2026-11-21T14:00:00.5Z")),
        (
            "2026-11-21T14:00:00.1234567891234Z",
            ts("2026-11-21T14:00:00.123456789Z"),
        ),
        ("9999-12-31T23:59:59-23:59", Timestamp::MAX),
        ("0000-01-01T00:00:00+23:59", ts("-000001-12-31T00:01:00Z")),
    ] {
        assert_eq!(rfc3339(text), Some(expected), "{text}");
    }
    for text in [
        "2026-11-21",
        "2026-11-21T14:00Z",
        "2026-11-21T14:00:00",
        "2026-11-21 14:00:00Z",
        "2026-11-21T12:99:00Z",
        "2026-02-30T12:00:00Z",
        "2026-11-21T14:00:00+0500",
        "2026-11-21T14:00:00+24:00",
        "2026-11-21T14:00:00.Z",
        "2026-11-21T14:00:00Z[UTC]",
        "+002026-11-21T14:00:00Z",
        "20261121T140000Z",
        "2026-11-21T14:00:00Zjunk",
    ] {
        assert_eq!(rfc3339(text), None, "{text}");
    }
}
