use super::*;

#[test]
fn each_kind_of_position_asks_its_rate() {
    assert_eq!(
        requirement(SecType::Stock, 100.0, 20_000.0, 0.0),
        (10_000.0, 5_000.0)
    );
    assert_eq!(
        requirement(SecType::Stock, -100.0, -20_000.0, 0.0),
        (10_000.0, 6_000.0)
    );
    let (init, maint) = requirement(SecType::Future, -2.0, -150_000.0, 0.0);
    assert!((maint - 12_000.0).abs() < 1e-6 && (init - 13_200.0).abs() < 1e-6);
    assert_eq!(
        requirement(SecType::FutureOption, 3.0, 6_000.0, 225_000.0),
        (0.0, 0.0),
        "a bought option is paid for"
    );
    let (init, maint) = requirement(SecType::FutureOption, -3.0, -6_000.0, 225_000.0);
    assert!((maint - (6_000.0 + 33_750.0)).abs() < 1e-6);
    assert!((init - maint * 1.1).abs() < 1e-6);
}

#[test]
fn funds_follow_from_equity_and_margin() {
    // 100,000 net liquidation of which 10,000 in bought options; margin 20,000 / 15,000.
    let f = funds(100_000.0, 10_000.0, 20_000.0, 15_000.0);
    assert_eq!(f.equity_with_loan, 90_000.0);
    assert_eq!(f.available_funds, 70_000.0);
    assert_eq!(f.excess_liquidity, 75_000.0);
    assert_eq!(f.buying_power, 280_000.0);
    assert!((f.cushion - 0.75).abs() < 1e-12);
    // Short options add to equity with loan value (their value is negative).
    assert_eq!(
        funds(100_000.0, -5_000.0, 0.0, 0.0).equity_with_loan,
        105_000.0
    );
    // No buying power below zero; no cushion without net liquidation.
    let broke = funds(0.0, 0.0, 10.0, 5.0);
    assert_eq!((broke.buying_power, broke.cushion), (0.0, 0.0));
}
