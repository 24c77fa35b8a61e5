use super::*;

#[test]
fn numbers_group_thousands_and_mark_negatives() {
    assert_eq!(number(1234567.891, 2), "1,234,567.89");
    assert_eq!(number(-1234.5, 2), "−1,234.50");
    assert_eq!(number(-0.001, 2), "0.00", "no negative zero");
    assert_eq!(number(999.0, 0), "999");
    assert_eq!(money(None), "–");
    assert_eq!(price(Some(0.26)), "0.2600");
    assert_eq!(price(Some(72.31)), "72.31");
    assert_eq!(quantity(Some(2.0)), "+2");
    assert_eq!(quantity(Some(-1.0)), "−1");
    assert_eq!(quantity(Some(0.5)), "+0.50");
}

#[test]
fn only_a_loss_is_marked() {
    assert!(pnl(Some(-12.5)).negative);
    assert!(!pnl(Some(0.0)).negative);
    assert!(!pnl(Some(-0.001)).negative, "rounds to zero");
    assert!(!pnl(None).negative);
}

#[test]
fn greeks_keep_the_digits_that_matter() {
    assert_eq!(greek(1234.56), "1,235");
    assert_eq!(greek(-12.345), "−12.35");
    assert_eq!(greek(0.01234), "0.0123");
    assert_eq!(greek(0.0), "0.00");
}
