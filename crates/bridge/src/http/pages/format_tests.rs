use super::*;

#[test]
fn numbers_group_thousands_and_mark_negatives() {
    assert_eq!(number(1234567.891, 2), "1,234,567.89");
    assert_eq!(number(-1234.5, 2), "−1,234.50");
    assert_eq!(number(-0.001, 2), "0.00", "no negative zero");
    assert_eq!(number(999.0, 0), "999");
    assert_eq!(money(None), "–");
    assert_eq!(money(Some(72026.666)), "72,026.67");
}

#[test]
fn prices_follow_the_tick_not_the_size() {
    // 0.62 and 1.10 of the same CL option class read alike.
    assert_eq!(instrument_price(Some(1.1), Some("CL"), Some("FOP")), "1.10");
    assert_eq!(
        instrument_price(Some(0.62), Some("CL"), Some("FOP")),
        "0.62"
    );
    assert_eq!(
        instrument_price(Some(71.685), Some("CL"), Some("FUT")),
        "71.69"
    );
    assert_eq!(
        instrument_price(Some(6031.25), Some("ES"), Some("FUT")),
        "6,031.25"
    );
    assert_eq!(
        instrument_price(Some(3.4567), Some("NG"), Some("FUT")),
        "3.457"
    );
    assert_eq!(
        instrument_price(Some(1.08765), Some("6E"), Some("FUT")),
        "1.08765"
    );
    assert_eq!(
        instrument_price(Some(221.3), Some("AAPL"), Some("STK")),
        "221.30"
    );
    assert_eq!(instrument_price(None, Some("CL"), Some("FUT")), "–");
    assert_eq!(instrument_price(Some(5.0), None, None), "5.00");
}

#[test]
fn price_decimals_come_from_the_tick_table() {
    assert_eq!(price_decimals("CL", "FUT"), 2);
    assert_eq!(price_decimals("cl", "fop"), 2, "any case");
    assert_eq!(price_decimals("ES", "FUT"), 2, "0.25 needs two places");
    assert_eq!(price_decimals("GC", "FUT"), 2, "never fewer than two");
    assert_eq!(price_decimals("YM", "FUT"), 2);
    assert_eq!(price_decimals("SI", "FUT"), 3);
    assert_eq!(price_decimals("HO", "FOP"), 4);
    assert_eq!(price_decimals("6J", "FUT"), 7);
    assert_eq!(price_decimals("AAPL", "STK"), 2);
    assert_eq!(price_decimals("AAPL", "OPT"), 2);
    assert_eq!(
        price_decimals("NG", "STK"),
        2,
        "a stock named like a root is a stock"
    );
    assert_eq!(price_decimals("ZZZ", "FUT"), 2, "unknown roots get cents");
}

#[test]
fn prices_name_their_unit_where_known() {
    assert_eq!(price_unit("CL", "FUT"), Some("bbl"));
    assert_eq!(price_unit("CL", "FOP"), Some("bbl"));
    assert_eq!(price_unit("ES", "FUT"), Some("index pt"));
    assert_eq!(price_unit("AAPL", "STK"), Some("share"));
    assert_eq!(price_unit("AAPL", "OPT"), Some("share"));
    assert_eq!(price_unit("ZZZ", "FUT"), None);
}

#[test]
fn quantities_are_signed() {
    assert_eq!(quantity(Some(2.0)), "+2");
    assert_eq!(quantity(Some(-1.0)), "−1");
    assert_eq!(quantity(Some(0.0)), "0");
    assert_eq!(quantity(Some(0.5)), "+0.50");
    assert_eq!(quantity(Some(1500.0)), "+1,500");
    assert_eq!(quantity(None), "–");
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

#[test]
fn times_are_written_in_utc_with_the_zone_until_the_script_localises_them() {
    let t: Timestamp = "2026-11-21T14:05:05Z".parse().unwrap();
    assert_eq!(utc_clock(t, Clock::DateTime), "2026-11-21 14:05:05 UTC");
    assert_eq!(utc_clock(t, Clock::Time), "14:05:05 UTC");
    assert_eq!(utc_clock(t, Clock::DayTime), "Sat 14:05:05 UTC");
    assert_eq!(utc_clock(t, Clock::HourMinute), "14:05");
    assert_eq!(utc_clock(t, Clock::DayHourMinute), "Sat 14:05");
    assert_eq!(utc_clock(t, Clock::Day), "Sat 21");
    let w = when(t);
    assert_eq!(w.iso, "2026-11-21T14:05:05Z");
    assert_eq!(
        w.text,
        crate::http::status::utc_text(t),
        "pages and the status CLI write a time alike"
    );
}
