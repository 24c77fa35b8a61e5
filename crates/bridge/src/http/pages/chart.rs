//! Line charts over time as inline SVG, drawn on the server: no chart library. Pure.
//!
//! The x axis is the chosen window to scale, from its start to its end, so a short history
//! covers only its part and the time axis says which part. The line breaks wherever two
//! consecutive points are further apart than [`GAP_INTERVALS`] of the expected interval (the
//! feed was down, the bridge stopped): a gap reads as a gap, never as a straight ramp. Every
//! few pixels an invisible hit area carries a `<title>` with its point's time and value, which
//! the browser shows on hover.
//!
//! Times follow the pages' convention (see [`super::format`]): axis labels and hover values
//! are written in UTC and carry `data-t` (the instant) and `data-fmt` (the layout), and the
//! axis names its zone once in an element marked `data-zone`; the page's script rewrites all
//! three in the browser's zone. Ticks fall on round UTC instants, which are round local times
//! in every zone a whole number of hours from UTC.

use std::fmt::Write;

use jiff::Timestamp;

use super::format::{Clock, utc_clock};

const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 140.0;
/// Room on the left for the value labels (and the axis's zone, below them).
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 6.0;
/// Room below the plot for the time labels.
const BOTTOM: f64 = 18.0;
/// Width of one hover area: fine enough to follow the line, coarse enough that a 72-hour
/// window of 5-second rows stays a few dozen elements.
const HIT_PX: f64 = 4.0;
/// Consecutive points further apart than this many intervals are drawn apart.
pub const GAP_INTERVALS: i64 = 3;
/// At most this many steps between time labels (so at most one more label).
const MAX_STEPS: i64 = 7;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Tick spacings a reader counts in, shortest first.
const STEPS: [i64; 16] = [
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    4 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    30 * DAY,
];

/// The span a chart draws, in Unix milliseconds, and how often its series has a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
    /// The expected spacing of points (the greeks interval): longer silences are gaps.
    pub interval: i64,
}

impl Window {
    fn span(&self) -> i64 {
        self.to - self.from
    }

    /// How hover values show their time: with the weekday once the window spans days.
    fn hover_clock(&self) -> Clock {
        if self.span() > DAY {
            Clock::DayTime
        } else {
            Clock::Time
        }
    }
}

/// Where the time axis puts its labels, and in which layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticks {
    pub at: Vec<i64>,
    pub clock: Clock,
}

/// Labels for `from..=to` (Unix ms): the shortest step of [`STEPS`] that needs at most
/// [`MAX_STEPS`] of them (every 10 min for an hour, 4 h for a day, 12 h for three days, a day
/// for a week), at whole multiples of the step.
pub fn time_ticks(from: i64, to: i64) -> Ticks {
    let span = (to - from).max(1);
    let step = STEPS
        .into_iter()
        .find(|s| span / s <= MAX_STEPS)
        .unwrap_or(STEPS[STEPS.len() - 1]);
    let first = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    let clock = if step >= DAY {
        Clock::Day
    } else if span > DAY {
        Clock::DayHourMinute
    } else {
        Clock::HourMinute
    };
    Ticks {
        at: (0..)
            .map(|i| first + i * step)
            .take_while(|t| *t <= to)
            .collect(),
        clock,
    }
}

/// `points` (in time order) split where consecutive points are more than `max_gap` apart.
pub fn segments(points: &[(i64, f64)], max_gap: i64) -> Vec<&[(i64, f64)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if points[i].0 - points[i - 1].0 > max_gap {
            out.push(&points[start..i]);
            start = i;
        }
    }
    if start < points.len() {
        out.push(&points[start..]);
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn instant(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A time the page's script rewrites: `data-t` and `data-fmt` attributes, and the UTC text.
fn clock_attrs(ms: i64, clock: Clock) -> (String, String) {
    let t = instant(ms);
    (
        format!(r#"data-t="{t}" data-fmt="{}""#, clock.name()),
        utc_clock(t, clock),
    )
}

/// `points` (Unix ms, value; in time order) over `window` as an SVG line chart named `name`:
/// the value range on the left with a zero line when zero is in range, a time axis below,
/// values written by `value` (labels and hover), and "no data" when there are no points.
pub fn line_chart(
    points: &[(i64, f64)],
    name: &str,
    window: Window,
    value: fn(f64) -> String,
) -> String {
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{n} over time"><title>{n}</title>"#,
        n = escape(name)
    );
    if window.span() <= 0 {
        svg.push_str("</svg>");
        return svg;
    }
    let plot_bottom = HEIGHT - BOTTOM;
    let x =
        |t: i64| LEFT + (t - window.from) as f64 / window.span() as f64 * (WIDTH - LEFT - RIGHT);
    time_axis(&mut svg, window, &x);
    let points: Vec<(i64, f64)> = points
        .iter()
        .copied()
        .filter(|(t, v)| (window.from..=window.to).contains(t) && v.is_finite())
        .collect();
    if points.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="muted">no data</text></svg>"#,
            (LEFT + WIDTH - RIGHT) / 2.0,
            (TOP + plot_bottom) / 2.0
        );
        return svg;
    }
    let (mut lo, mut hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    if hi - lo < 1e-12 {
        lo -= 1.0;
        hi += 1.0;
    }
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (plot_bottom - TOP);
    let _ = write!(
        svg,
        r#"<text x="{lx}" y="{}" text-anchor="end" class="axis">{}</text><text x="{lx}" y="{}" text-anchor="end" class="axis">{}</text>"#,
        TOP + 8.0,
        escape(&value(hi)),
        plot_bottom,
        escape(&value(lo)),
        lx = LEFT - 4.0,
    );
    if lo < 0.0 && hi > 0.0 {
        let z = y(0.0);
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" y1="{z:.1}" x2="{}" y2="{z:.1}" class="zero"/>"#,
            WIDTH - RIGHT
        );
    }
    let mut path = String::new();
    for segment in segments(&points, GAP_INTERVALS * window.interval.max(1)) {
        match segment {
            [(t, v)] => {
                let _ = write!(
                    svg,
                    r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="1.5"/>"#,
                    x(*t),
                    y(*v)
                );
            }
            _ => {
                for (i, (t, v)) in segment.iter().enumerate() {
                    let command = if i == 0 { 'M' } else { 'L' };
                    let _ = write!(path, "{command}{:.1},{:.1}", x(*t), y(*v));
                }
            }
        }
    }
    if !path.is_empty() {
        let _ = write!(svg, r#"<path class="line" d="{path}"/>"#);
    }
    hover_areas(&mut svg, &points, window, value, &x, &y);
    svg.push_str("</svg>");
    svg
}

/// The axis line, a mark and a faint grid line per tick, each tick's label, and the zone.
fn time_axis(svg: &mut String, window: Window, x: &impl Fn(i64) -> f64) {
    let base = HEIGHT - BOTTOM;
    let label_y = HEIGHT - 5.0;
    let _ = write!(
        svg,
        r#"<line class="axis-line" x1="{LEFT}" y1="{base}" x2="{}" y2="{base}"/>"#,
        WIDTH - RIGHT
    );
    let ticks = time_ticks(window.from, window.to);
    let _ = write!(svg, r#"<g class="time-axis">"#);
    for t in ticks.at {
        let tx = x(t);
        let (attrs, text) = clock_attrs(t, ticks.clock);
        // Labels at the ends lean inwards rather than spill out of the chart.
        let anchor = if tx - LEFT < 20.0 {
            "start"
        } else if WIDTH - RIGHT - tx < 20.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{base}"/><line class="axis-line" x1="{tx:.1}" y1="{base}" x2="{tx:.1}" y2="{}"/><text class="axis tick" x="{tx:.1}" y="{label_y}" text-anchor="{anchor}" {attrs}>{text}</text>"#,
            base + 3.0
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis zone" x="{}" y="{label_y}" text-anchor="end" data-zone="">UTC</text></g>"#,
        LEFT - 4.0
    );
}

/// One invisible column per [`HIT_PX`] of plot that has points, showing its last point's time
/// and value on hover (`<title>`), and a dot on it while hovered.
fn hover_areas(
    svg: &mut String,
    points: &[(i64, f64)],
    window: Window,
    value: fn(f64) -> String,
    x: &impl Fn(i64) -> f64,
    y: &impl Fn(f64) -> f64,
) {
    let columns = ((WIDTH - LEFT - RIGHT) / HIT_PX).ceil() as usize;
    let mut last: Vec<Option<(i64, f64)>> = vec![None; columns];
    for &(t, v) in points {
        let column = ((x(t) - LEFT) / HIT_PX) as usize;
        last[column.min(columns - 1)] = Some((t, v));
    }
    let clock = window.hover_clock();
    let _ = write!(svg, r#"<g class="hits">"#);
    for (column, point) in last.iter().enumerate() {
        let Some((t, v)) = *point else { continue };
        let (attrs, time) = clock_attrs(t, clock);
        let after = escape(&format!(" — {}", value(v)));
        let _ = write!(
            svg,
            r#"<g class="hit"><rect x="{:.1}" y="{TOP}" width="{HIT_PX}" height="{}"/><circle cx="{:.1}" cy="{:.1}" r="2.5"/><title {attrs} data-after="{after}">{time}{after}</title></g>"#,
            LEFT + column as f64 * HIT_PX,
            HEIGHT - BOTTOM - TOP,
            x(t),
            y(v),
        );
    }
    svg.push_str("</g>");
}

#[cfg(test)]
#[path = "chart_tests.rs"]
mod tests;
