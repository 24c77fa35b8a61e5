use super::*;

#[test]
fn a_series_is_a_polyline_spanning_the_range() {
    let svg = line_chart(&[(0, -1.0), (500, 0.0), (1000, 3.0)], "delta", 0, 1000);
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(
        svg.contains(r#"<polyline class="line" points="56.0,114.0 205.0,87.0 354.0,6.0"/>"#),
        "{svg}"
    );
    assert!(svg.contains(r#"class="zero""#), "zero is in range");
    assert!(svg.contains(">3.000<") && svg.contains(">-1.000<"), "{svg}");
}

#[test]
fn no_points_say_so_and_a_flat_line_still_draws() {
    assert!(line_chart(&[], "vega", 0, 1000).contains("no data"));
    let flat = line_chart(&[(0, 5.0), (1000, 5.0)], "theta", 0, 1000);
    assert!(flat.contains("<polyline"), "{flat}");
    assert!(!flat.contains("NaN"));
}

#[test]
fn names_are_escaped() {
    assert!(line_chart(&[], "<b>", 0, 1).contains("&lt;b&gt;"));
}
