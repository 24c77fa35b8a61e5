use std::time::Duration;

use jiff::Timestamp;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

#[test]
fn the_window_edges_in_winter() {
    // EST is UTC-5.
    assert_eq!(resume_at(ts("2026-11-21T04:39:59Z")), None, "23:39:59");
    assert_eq!(
        resume_at(ts("2026-11-21T04:40:00Z")),
        Some(ts("2026-11-21T05:05:00Z")),
        "23:40:00"
    );
    assert_eq!(
        resume_at(ts("2026-11-21T04:59:59Z")),
        Some(ts("2026-11-21T05:05:00Z")),
        "23:59:59"
    );
    assert_eq!(
        resume_at(ts("2026-11-21T05:00:00Z")),
        None,
        "00:00:00 reconnects at once"
    );
    assert_eq!(resume_at(ts("2026-11-21T05:04:59Z")), None, "00:04:59");
    assert_eq!(resume_at(ts("2026-11-21T15:00:00Z")), None, "10:00");
}

#[test]
fn the_window_edges_in_summer() {
    // EDT is UTC-4.
    assert_eq!(resume_at(ts("2026-07-15T03:39:59Z")), None, "23:39:59");
    assert_eq!(
        resume_at(ts("2026-07-15T03:40:00Z")),
        Some(ts("2026-07-15T04:05:00Z")),
        "23:40:00"
    );
    assert_eq!(
        resume_at(ts("2026-07-15T03:59:59Z")),
        Some(ts("2026-07-15T04:05:00Z")),
        "23:59:59"
    );
    assert_eq!(resume_at(ts("2026-07-15T04:04:59Z")), None, "00:04:59");
}

#[test]
fn across_the_daylight_saving_changes() {
    // Spring forward on Sunday 8 March 2026 at 02:00: the night before is still EST.
    assert_eq!(
        resume_at(ts("2026-03-08T04:45:00Z")),
        Some(ts("2026-03-08T05:05:00Z")),
        "Sat 23:45 EST"
    );
    // That Sunday evening is EDT.
    assert_eq!(
        resume_at(ts("2026-03-09T03:45:00Z")),
        Some(ts("2026-03-09T04:05:00Z")),
        "Sun 23:45 EDT"
    );
    assert_eq!(
        resume_at(ts("2026-03-09T03:39:59Z")),
        None,
        "Sun 23:39:59 EDT"
    );
    // Fall back on Sunday 1 November 2026 at 02:00: the night before is EDT, 00:05 too.
    assert_eq!(
        resume_at(ts("2026-11-01T03:45:00Z")),
        Some(ts("2026-11-01T04:05:00Z")),
        "Sat 23:45 EDT"
    );
    // That Sunday evening is EST.
    assert_eq!(
        resume_at(ts("2026-11-02T04:45:00Z")),
        Some(ts("2026-11-02T05:05:00Z")),
        "Sun 23:45 EST"
    );
    assert_eq!(
        resume_at(ts("2026-11-02T04:39:59Z")),
        None,
        "Sun 23:39:59 EST"
    );
}

#[test]
fn backoff_doubles_between_attempts() {
    let base = Duration::from_secs(1);
    let pauses: Vec<Duration> = (1..=ATTEMPTS).map(|a| backoff(base, a)).collect();
    assert_eq!(
        pauses,
        [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(2)
        ]
    );
}
