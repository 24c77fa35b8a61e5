use super::*;

#[test]
fn conids_are_positive_32_bit_integers() {
    assert_eq!(ConId::new(810000001).map(ConId::get), Some(810000001));
    assert_eq!(ConId::new(0), None);
    assert_eq!(ConId::new(-5), None);
    assert_eq!(ConId::new(i64::from(i32::MAX) + 1), None);
    assert_eq!(
        serde_json::from_str::<ConId>("265598").ok(),
        ConId::new(265598)
    );
    assert!(serde_json::from_str::<ConId>("0").is_err());
}

#[test]
fn account_codes_are_short_alphanumerics() {
    assert_eq!(
        AccountCode::parse(" du1234567 ").map(|a| a.to_string()),
        Some("DU1234567".into())
    );
    assert!(AccountCode::parse("U1").is_some());
    for bad in ["", "U", "DU-123", "DU 123", "X12345678901234567"] {
        assert!(AccountCode::parse(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn a_masked_account_code_shows_only_its_ends() {
    let code = |s| AccountCode::parse(s).expect("valid").masked();
    assert_eq!(code("DU1234567"), "DU…567");
    assert_eq!(code("U12"), "…U12");
    assert_eq!(code("U1234"), "…234");
}

#[test]
fn bridge_names_are_short_and_cannot_hold_a_key_separator() {
    for good in ["home", "family-gw.2", "a", "GW_1", &"x".repeat(63)] {
        assert_eq!(
            BridgeName::parse(good).map(|n| n.as_str().to_owned()),
            Some(good.to_owned())
        );
    }
    for bad in ["", "-lead", "a:b", "a b", "ünï", &"x".repeat(64)] {
        assert_eq!(BridgeName::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn a_host_name_always_gives_a_valid_bridge_name() {
    let cases = [
        ("trader-box", "trader-box"),
        ("Trader's MacBook Pro", "Trader-s-MacBook-Pro"),
        ("--x", "x"),
        ("", "bridge"),
        ("::", "bridge"),
    ];
    for (host, name) in cases {
        assert_eq!(BridgeName::from_host(host).as_str(), name, "{host:?}");
    }
    assert_eq!(BridgeName::from_host(&"h".repeat(100)).as_str().len(), 63);
}
