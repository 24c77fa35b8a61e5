use super::*;

fn conid(n: i64) -> ConId {
    ConId::new(n).expect("valid")
}

#[test]
fn codes_parse_leniently_and_print_strictly() {
    assert_eq!(SecType::parse(" fop "), SecType::FutureOption);
    assert_eq!(SecType::parse("BAG"), SecType::Other("BAG".into()));
    assert_eq!(SecType::parse("BAG").code(), "BAG");
    assert_eq!(Right::parse("call"), Some(Right::Call));
    assert_eq!(Right::parse("P"), Some(Right::Put));
    assert_eq!(Right::parse("None"), None);
}

#[test]
fn stocks_count_one_unit_when_the_multiplier_is_unknown() {
    assert_eq!(
        Contract::new(conid(1), "AAPL", SecType::Stock).effective_multiplier(),
        Some(1.0)
    );
    assert_eq!(
        Contract::new(conid(2), "CL", SecType::Future).effective_multiplier(),
        None
    );
    let mut fut = Contract::new(conid(2), "CL", SecType::Future);
    fut.multiplier = Some(0.0);
    assert_eq!(fut.effective_multiplier(), None, "IBKR's 0.0 means unknown");
}

#[test]
fn merge_fills_only_what_is_missing() {
    let mut mine = Contract::new(conid(3), "CL", SecType::FutureOption);
    mine.strike = Some(75.0);
    let mut theirs = Contract::new(conid(3), "CL", SecType::FutureOption);
    theirs.strike = Some(99.0);
    theirs.multiplier = Some(1000.0);
    theirs.underlying_conid = Some(conid(4));
    mine.merge(&theirs);
    assert_eq!(mine.strike, Some(75.0));
    assert_eq!(mine.multiplier, Some(1000.0));
    assert_eq!(mine.underlying_conid, Some(conid(4)));
}

#[test]
fn derivatives_are_rooted_at_their_underlying_symbol() {
    let mut fop = Contract::new(conid(3), "LO", SecType::FutureOption);
    assert_eq!(
        fop.derivative_root(),
        Some("LO"),
        "its own symbol when nothing else is known"
    );
    fop.underlying_symbol = Some("CL".into());
    assert_eq!(fop.derivative_root(), Some("CL"));
    assert_eq!(
        Contract::new(conid(2), "CL", SecType::Future).derivative_root(),
        Some("CL")
    );
    assert_eq!(
        Contract::new(conid(1), "AAPL", SecType::Stock).derivative_root(),
        None
    );
    assert_eq!(
        Contract::new(conid(4), "SPREAD", SecType::Other("BAG".into())).derivative_root(),
        None
    );
}
