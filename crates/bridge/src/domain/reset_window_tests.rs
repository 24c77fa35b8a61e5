use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn new_york() -> ResetWindow {
    ResetWindow::default_new_york()
}

fn window(spec: &str, zone: &str) -> ResetWindow {
    ResetWindow::new(
        spec.parse().expect("windows"),
        TimeZone::get(zone).expect("zone"),
    )
}

#[test]
fn the_default_window_edges_in_winter() {
    // EST is UTC-5.
    let w = new_york();
    assert_eq!(w.resume_at(ts("2026-11-21T04:39:59Z")), None, "23:39:59");
    let resume = Some(ts("2026-11-21T05:05:00Z"));
    assert_eq!(w.resume_at(ts("2026-11-21T04:40:00Z")), resume, "23:40:00");
    assert_eq!(w.resume_at(ts("2026-11-21T04:59:59Z")), resume, "23:59:59");
    assert_eq!(w.resume_at(ts("2026-11-21T05:00:00Z")), resume, "00:00:00");
    assert_eq!(w.resume_at(ts("2026-11-21T05:04:59Z")), resume, "00:04:59");
    assert_eq!(w.resume_at(ts("2026-11-21T05:05:00Z")), None, "00:05:00");
    assert_eq!(w.resume_at(ts("2026-11-21T15:00:00Z")), None, "10:00");
}

#[test]
fn the_default_window_edges_in_summer() {
    // EDT is UTC-4.
    let w = new_york();
    assert_eq!(w.resume_at(ts("2026-07-15T03:39:59Z")), None, "23:39:59");
    let resume = Some(ts("2026-07-15T04:05:00Z"));
    assert_eq!(w.resume_at(ts("2026-07-15T03:40:00Z")), resume, "23:40:00");
    assert_eq!(w.resume_at(ts("2026-07-15T03:59:59Z")), resume, "23:59:59");
    assert_eq!(w.resume_at(ts("2026-07-15T04:04:59Z")), resume, "00:04:59");
}

#[test]
fn across_the_daylight_saving_changes() {
    let w = new_york();
    // Spring forward on Sunday 8 March 2026 at 02:00: the night before is still EST.
    assert_eq!(
        w.resume_at(ts("2026-03-08T04:45:00Z")),
        Some(ts("2026-03-08T05:05:00Z")),
        "Sat 23:45 EST"
    );
    // That Sunday evening is EDT.
    assert_eq!(
        w.resume_at(ts("2026-03-09T03:45:00Z")),
        Some(ts("2026-03-09T04:05:00Z")),
        "Sun 23:45 EDT"
    );
    assert_eq!(
        w.resume_at(ts("2026-03-09T03:39:59Z")),
        None,
        "Sun 23:39:59 EDT"
    );
    // Fall back on Sunday 1 November 2026 at 02:00: the night before is EDT, 00:05 too.
    assert_eq!(
        w.resume_at(ts("2026-11-01T03:45:00Z")),
        Some(ts("2026-11-01T04:05:00Z")),
        "Sat 23:45 EDT"
    );
    // That Sunday evening is EST.
    assert_eq!(
        w.resume_at(ts("2026-11-02T04:45:00Z")),
        Some(ts("2026-11-02T05:05:00Z")),
        "Sun 23:45 EST"
    );
    assert_eq!(
        w.resume_at(ts("2026-11-02T04:39:59Z")),
        None,
        "Sun 23:39:59 EST"
    );
}

#[test]
fn a_window_inside_one_day_and_a_wall_time_the_clock_skips() {
    // Europe's published reset, 06:25-07:45 CET (UTC+1 in winter).
    let w = window("06:25-07:45", "Europe/Zurich");
    assert_eq!(w.resume_at(ts("2026-12-02T05:24:59Z")), None);
    assert_eq!(
        w.resume_at(ts("2026-12-02T05:25:00Z")),
        Some(ts("2026-12-02T06:45:00Z"))
    );
    assert_eq!(w.resume_at(ts("2026-12-02T06:45:00Z")), None);
    // 02:30 does not exist on 8 March 2026 in New York: the reconnect waits for 03:30 EDT.
    let w = window("01:50-02:30", "America/New_York");
    assert_eq!(
        w.resume_at(ts("2026-03-08T06:55:00Z")),
        Some(ts("2026-03-08T07:30:00Z")),
        "01:55 EST"
    );
}

#[test]
fn a_window_in_the_hour_a_clock_change_repeats_ends_ahead_of_now() {
    // 1 November 2026: 01:00-02:00 EDT, then 01:00-02:00 again in EST.
    let w = window("01:00-01:30", "America/New_York");
    assert_eq!(
        w.resume_at(ts("2026-11-01T05:10:00Z")),
        Some(ts("2026-11-01T05:30:00Z")),
        "01:10 EDT waits for 01:30 EDT"
    );
    assert_eq!(
        w.resume_at(ts("2026-11-01T06:10:00Z")),
        Some(ts("2026-11-01T06:30:00Z")),
        "01:10 EST waits for 01:30 EST, not for a time already past"
    );
}

#[test]
fn several_windows_take_the_one_now_is_in() {
    // APAC's two published resets, in Hong Kong time (UTC+8, no DST).
    let w = window("04:45-06:05,20:15-21:15", "Asia/Hong_Kong");
    assert_eq!(
        w.resume_at(ts("2026-12-02T21:00:00Z")),
        Some(ts("2026-12-02T22:05:00Z")),
        "05:00 HKT"
    );
    assert_eq!(
        w.resume_at(ts("2026-12-02T12:30:00Z")),
        Some(ts("2026-12-02T13:15:00Z")),
        "20:30 HKT"
    );
    assert_eq!(w.resume_at(ts("2026-12-02T04:00:00Z")), None, "12:00 HKT");
}

#[test]
fn none_never_waits() {
    let w = ResetWindow::none();
    assert_eq!(w.resume_at(ts("2026-11-21T04:45:00Z")), None);
    assert_eq!(w.to_string(), "none UTC");
}

#[test]
fn parsing_is_strict_and_display_round_trips() {
    for good in [
        "23:40-00:05",
        "06:25-07:45",
        "04:45-06:05,20:15-21:15",
        "NONE",
    ] {
        let w: Windows = good.parse().expect(good);
        assert_eq!(w.to_string(), good.to_ascii_lowercase());
    }
    for bad in [
        "",
        "23:40",
        "23:40-",
        "24:00-00:05",
        "23:60-00:05",
        "9:00-10:00",
        "10:00-10:00",
        "23:40-00:05,",
        "23:40 to 00:05",
        "23:40:00-00:05",
    ] {
        assert!(bad.parse::<Windows>().is_err(), "{bad:?} must be refused");
    }
}
