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
