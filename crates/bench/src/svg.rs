//! The memory-over-time chart of `docs/benchmarks.md`: an SVG line of the streaming run's RSS
//! samples against the target, drawn by hand (no plotting dependency for one chart), so that
//! a leak or a buffer filling up shows as a slope.

use std::fmt::Write;

use crate::footprint::Series;

const W: f64 = 640.0;
const H: f64 = 320.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 32.0;
const BOTTOM: f64 = 44.0;

/// A round step for about five gridlines up to `max`.
fn step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// `series` (minutes, MiB) with a dashed line at `limit` MiB.
pub fn memory_chart(title: &str, series: &Series, limit: f64) -> String {
    let x_max = series.last().map_or(1.0, |p| p.0).max(1.0);
    let y_top = series.iter().map(|p| p.1).fold(limit, f64::max) * 1.1;
    let y_step = step(y_top);
    let y_max = (y_top / y_step).ceil() * y_step;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |m: f64| LEFT + m / x_max * pw;
    let y = |mib: f64| TOP + ph - mib / y_max * ph;

    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"13\">{title}</text>\n"
    );
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            W - RIGHT,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0
        );
        v += y_step;
    }
    let x_step = step(x_max).max(1.0);
    let mut m = 0.0;
    while m <= x_max + 1e-9 {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{m}</text>",
            x(m),
            TOP + ph + 16.0
        );
        m += x_step;
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">minutes since start</text>\n\
         <text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">\
         RSS (MiB)</text>",
        LEFT + pw / 2.0,
        H - 8.0,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c00\" \
         stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c00\" \
         text-anchor=\"end\">target {limit} MiB</text>",
        W - RIGHT,
        y(limit),
        y(limit),
        W - RIGHT - 4.0,
        y(limit) - 5.0
    );
    let points: Vec<String> = series
        .iter()
        .map(|(m, mib)| format!("{:.1},{:.1}", x(*m), y(*mib)))
        .collect();
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"{}\"/>",
        points.join(" ")
    );
    for (m, mib) in series {
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#1f5fa8\"><title>{m:.1} min: \
             {mib:.1} MiB</title></circle>",
            x(*m),
            y(*mib)
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#333\"/>\
         <line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>",
        TOP + ph,
        W - RIGHT,
        TOP + ph,
        TOP + ph
    );
    s.push_str("</svg>\n");
    s
}
