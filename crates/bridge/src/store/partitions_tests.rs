use jiff::civil::date;

use super::*;

#[test]
fn a_partition_s_name_and_day_go_both_ways_and_other_tables_have_no_day() {
    let day = date(2026, 12, 2);
    assert_eq!(partition_name(day), "portfolio_greeks_p20261202");
    assert_eq!(day_of("portfolio_greeks_p20261202"), Some(day));
    for other in [
        "portfolio_greeks",
        "portfolio_greeks_default",
        "portfolio_greeks_p2026120",
        "portfolio_greeks_p20261302",
        "portfolio_greeks_1m",
        "other_p20261202",
    ] {
        assert_eq!(day_of(other), None, "{other}");
    }
}

#[test]
fn partitions_are_made_from_yesterday_to_days_ahead() {
    let made = days_to_make(date(2026, 12, 31));
    assert_eq!(
        made,
        [
            date(2026, 12, 30),
            date(2026, 12, 31),
            date(2027, 1, 1),
            date(2027, 1, 2),
            date(2027, 1, 3),
        ]
    );
    assert_eq!(made.len() as i64, DAYS_AHEAD + 2);
}

#[test]
fn only_days_that_end_by_the_cutoff_are_dropped() {
    let days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)];
    let at = |s: &str| s.parse::<Timestamp>().expect("valid");
    assert_eq!(
        days_before(&days, at("2026-11-03T00:00:00Z")),
        [date(2026, 11, 1), date(2026, 11, 2)]
    );
    // A day that ends a millisecond after the cutoff still holds rows retention keeps.
    assert_eq!(
        days_before(&days, at("2026-11-02T23:59:59.999Z")),
        [date(2026, 11, 1)]
    );
    assert_eq!(
        utc_day(at("2026-11-02T23:59:59.999-05:00")),
        date(2026, 11, 3)
    );
}
