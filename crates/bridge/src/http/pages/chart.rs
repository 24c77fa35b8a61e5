//! Line charts as inline SVG, drawn on the server: no chart library, no script. Pure.

use std::fmt::Write;

const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 120.0;
/// Room on the left for the axis labels.
const LEFT: f64 = 56.0;
const PAD: f64 = 6.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn label(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// `points` (Unix ms, value) between `from` and `to` as an SVG line with its range on the
/// left and a zero line when zero is in range; "no data" when there are no points.
pub fn line_chart(points: &[(i64, f64)], name: &str, from: i64, to: i64) -> String {
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{n} over time"><title>{n}</title>"#,
        n = escape(name)
    );
    if points.is_empty() || to <= from {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="muted">no data</text></svg>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
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
    let x = |t: i64| LEFT + (t - from) as f64 / (to - from) as f64 * (WIDTH - LEFT - PAD);
    let y = |v: f64| PAD + (hi - v) / (hi - lo) * (HEIGHT - 2.0 * PAD);
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end" class="axis">{}</text><text x="{}" y="{}" text-anchor="end" class="axis">{}</text>"#,
        LEFT - 4.0,
        PAD + 8.0,
        label(hi),
        LEFT - 4.0,
        HEIGHT - PAD,
        label(lo)
    );
    if lo < 0.0 && hi > 0.0 {
        let z = y(0.0);
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" y1="{z:.1}" x2="{}" y2="{z:.1}" class="zero"/>"#,
            WIDTH - PAD
        );
    }
    let line: Vec<String> = points
        .iter()
        .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline class="line" points="{}"/></svg>"#,
        line.join(" ")
    );
    svg
}

#[cfg(test)]
#[path = "chart_tests.rs"]
mod tests;
