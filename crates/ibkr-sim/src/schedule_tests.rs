use jiff::Timestamp;
use jiff::civil::time;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

#[test]
fn later_today_or_tomorrow_in_new_york() {
    // 10:00 EST is 15:00 UTC.
    let now = ts("2026-11-21T15:00:00Z");
    assert_eq!(
        next_daily(now, time(23, 45, 0, 0)),
        ts("2026-11-22T04:45:00Z")
    );
    assert_eq!(
        next_daily(now, time(9, 0, 0, 0)),
        ts("2026-11-22T14:00:00Z")
    );
    // Exactly at the time: the next day's.
    assert_eq!(
        next_daily(ts("2026-11-22T04:45:00Z"), time(23, 45, 0, 0)),
        ts("2026-11-23T04:45:00Z")
    );
}

#[test]
fn keeps_new_york_wall_clock_across_daylight_saving() {
    // DST ends 2026-11-01: 23:45 EDT on Oct 31 is 03:45 UTC, 23:45 EST on Nov 1 is 04:45 UTC.
    assert_eq!(
        next_daily(ts("2026-10-31T12:00:00Z"), time(23, 45, 0, 0)),
        ts("2026-11-01T03:45:00Z")
    );
    assert_eq!(
        next_daily(ts("2026-11-01T12:00:00Z"), time(23, 45, 0, 0)),
        ts("2026-11-02T04:45:00Z")
    );
    // DST starts 2026-03-08 at 02:00: 02:30 does not exist that day and moves to 03:30 EDT.
    assert_eq!(
        next_daily(ts("2026-03-08T05:00:00Z"), time(2, 30, 0, 0)),
        ts("2026-03-08T07:30:00Z")
    );
}
