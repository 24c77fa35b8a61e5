use super::*;
use crate::http::pages::format::greek;

const MIN: i64 = 60_000;
/// 2026-11-21T14:00:00Z, a Saturday.
const T0: i64 = 1_795_269_600_000;

fn window(from: i64, to: i64) -> Window {
    Window {
        from,
        to,
        interval: 5_000,
    }
}

/// Every `every` ms from `from` to `to`, inclusive.
fn series(from: i64, to: i64, every: i64) -> Vec<(i64, f64)> {
    (from..=to)
        .step_by(every as usize)
        .map(|t| (t, 1.0 + (t - from) as f64 / 1e6))
        .collect()
}

#[test]
fn the_window_is_drawn_to_scale_from_its_start_to_its_end() {
    let svg = line_chart(
        &[(0, -1.0), (500, 0.0), (1000, 3.0)],
        "delta",
        Window {
            from: 0,
            to: 1000,
            interval: 500,
        },
        greek,
    );
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(
        svg.contains(r#"<path class="line" d="M56.0,122.0L204.0,93.0L352.0,6.0"/>"#),
        "{svg}"
    );
    assert!(svg.contains(r#"class="zero""#), "zero is in range");
    assert!(svg.contains(">3.00<") && svg.contains(">−1.00<"), "{svg}");

    // The last ten minutes of an hour cover the last sixth of the plot, not all of it.
    let svg = line_chart(
        &series(T0 + 50 * MIN, T0 + 60 * MIN, 5_000),
        "delta",
        window(T0, T0 + 60 * MIN),
        greek,
    );
    let start = svg.split(r#"d="M"#).nth(1).unwrap();
    let x0: f64 = start.split(',').next().unwrap().parse().unwrap();
    assert!((x0 - (56.0 + 296.0 * 50.0 / 60.0)).abs() < 0.1, "{x0}");
}

#[test]
fn time_labels_suit_the_window() {
    let hour = time_ticks(T0 + 2 * MIN, T0 + 62 * MIN);
    assert_eq!(hour.clock, Clock::HourMinute);
    assert_eq!(
        hour.at,
        (1..=6).map(|i| T0 + i * 10 * MIN).collect::<Vec<_>>(),
        "every 10 min, on the 10s"
    );
    let day = time_ticks(T0, T0 + 24 * 60 * MIN);
    assert_eq!(day.at.len(), 6, "every 4 h, from 16:00");
    assert_eq!(day.at[1] - day.at[0], 4 * 60 * MIN);
    let three_days = time_ticks(T0, T0 + 72 * 60 * MIN);
    assert_eq!(
        three_days.clock,
        Clock::DayHourMinute,
        "the weekday once days pass"
    );
    assert_eq!(three_days.at[1] - three_days.at[0], 12 * 60 * MIN);
    let week = time_ticks(T0, T0 + 7 * 24 * 60 * MIN);
    assert_eq!(week.clock, Clock::Day);
    assert_eq!(week.at[1] - week.at[0], 24 * 60 * MIN, "days for a week");
    assert_eq!(week.at[0] % (24 * 60 * MIN), 0, "at midnight UTC");
    let short = time_ticks(T0 + 10_000, T0 + 70_000);
    assert_eq!(
        short.at,
        vec![T0 + MIN],
        "a minute's window still has a label"
    );
}

#[test]
fn the_axis_labels_carry_their_instant_for_the_script_and_name_their_zone() {
    let svg = line_chart(
        &series(T0, T0 + 60 * MIN, 5_000),
        "vega",
        window(T0, T0 + 60 * MIN),
        greek,
    );
    assert!(
        svg.contains(r#"data-t="2026-11-21T14:10:00Z" data-fmt="hm">14:10</text>"#),
        "{svg}"
    );
    assert!(svg.contains(r#"data-zone="">UTC</text>"#), "the zone, once");
    assert_eq!(svg.matches("data-zone").count(), 1);
}

#[test]
fn hovering_shows_a_points_time_and_value() {
    let svg = line_chart(
        &series(T0, T0 + 60 * MIN, 5_000),
        "delta",
        window(T0, T0 + 60 * MIN),
        greek,
    );
    assert!(
        svg.contains(r#"<title data-t="2026-11-21T15:00:00Z" data-fmt="time" data-after=" — 4.60">15:00:00 UTC — 4.60</title>"#),
        "the last point, in the last column: {svg}"
    );
    let hits = svg.matches(r#"<g class="hit">"#).count();
    assert!(
        (70..=75).contains(&hits),
        "a few dozen areas for 721 points, not one each: {hits}"
    );
    let days = line_chart(
        &series(T0, T0 + 48 * 60 * MIN, 60_000),
        "delta",
        window(T0, T0 + 48 * 60 * MIN),
        greek,
    );
    assert!(
        days.contains(r#"data-fmt="daytime""#) && days.contains(">Mon 14:00:00 UTC — "),
        "weekday once days pass"
    );
}

#[test]
fn a_silence_longer_than_a_few_intervals_breaks_the_line() {
    let points = [
        (0, 1.0),
        (5, 1.0),
        (10, 1.0),
        (100, 1.0),
        (105, 1.0),
        (200, 2.0),
    ];
    let parts = segments(&points, 15);
    assert_eq!(parts, vec![&points[0..3], &points[3..5], &points[5..6]]);
    assert_eq!(
        segments(&points[..3], 15),
        vec![&points[..3]],
        "a steady feed is one line"
    );
    assert!(segments(&[], 15).is_empty());
    assert_eq!(
        segments(&points[..2], 5),
        vec![&points[..2]],
        "exactly the limit is no gap"
    );

    let svg = line_chart(
        &points,
        "delta",
        Window {
            from: 0,
            to: 200,
            interval: 5,
        },
        greek,
    );
    assert_eq!(
        svg.matches('M').count(),
        2,
        "two runs are two subpaths: {svg}"
    );
    assert_eq!(
        svg.matches(r#"<circle class="dot""#).count(),
        1,
        "a lone point is a dot"
    );
}

#[test]
fn no_points_say_so_and_a_flat_line_still_draws() {
    let empty = line_chart(&[], "vega", window(0, 1000), greek);
    assert!(
        empty.contains("no data") && empty.contains("time-axis"),
        "{empty}"
    );
    let flat = line_chart(
        &[(0, 5.0), (1000, 5.0)],
        "theta",
        Window {
            from: 0,
            to: 1000,
            interval: 1000,
        },
        greek,
    );
    assert!(flat.contains(r#"<path class="line""#), "{flat}");
    assert!(!flat.contains("NaN"));
}

#[test]
fn names_are_escaped() {
    assert!(line_chart(&[], "<b>", window(0, 1), greek).contains("&lt;b&gt;"));
}
