use jiff::Timestamp;

use super::*;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn point(t: Timestamp, delta: f64, delta_dollars: Option<f64>) -> GreeksPoint {
    GreeksPoint {
        timestamp: t,
        delta: Some(delta),
        gamma: Some(0.5),
        vega: Some(150.0),
        theta: Some(-80.0),
        underlying_price: Some(72.0),
        delta_dollars,
        gamma_dollars: Some(2592.0),
        vega_lt30: Some(100.0),
        vega_30_90: Some(50.0),
        vega_gt90: None,
        theta_lt30: Some(-60.0),
        theta_30_90: Some(-20.0),
        theta_gt90: None,
    }
}

#[test]
fn the_portfolio_shows_dollar_figures_and_their_change_since_the_day_began() {
    let now = vec![
        (
            "PORTFOLIO".to_owned(),
            point(at(600), 2500.0, Some(180_000.0)),
        ),
        ("CL".to_owned(), point(at(600), 2000.0, Some(144_000.0))),
    ];
    let then = vec![
        (
            "PORTFOLIO".to_owned(),
            point(at(0), 2000.0, Some(150_000.0)),
        ),
        ("CL".to_owned(), point(at(0), 2000.0, Some(145_000.0))),
    ];
    let accounts = vec![("IRA".to_owned(), point(at(600), 500.0, Some(36_000.0)))];
    let v = view(&now, &then, &accounts, &[]);
    let p = v.portfolio.expect("a portfolio");
    assert_eq!(p.delta_dollars.now, "180,000.00");
    assert_eq!(p.delta_dollars.change.text, "+30,000.00");
    assert_eq!(p.vega.change.text, "0.00");
    assert_eq!(v.underlyings.len(), 1);
    let cl = &v.underlyings[0];
    assert_eq!(cl.delta, "2,000 bbl");
    assert_eq!(cl.delta_dollars.change.text, "−1,000.00");
    assert!(cl.delta_dollars.change.negative);
    assert_eq!(v.buckets[0].lt30, "100.00");
    assert_eq!(v.buckets[0].gt90, "–");
    assert_eq!(v.accounts[0].alias, "IRA");
    assert_eq!(v.accounts[0].delta_dollars, "36,000.00");
}

#[test]
fn without_rows_there_is_no_portfolio_and_no_change() {
    let v = view(&[], &[], &[], &[]);
    assert!(v.portfolio.is_none() && v.as_of.is_none());
    let now = vec![("PORTFOLIO".to_owned(), point(at(0), 1.0, None))];
    let p = view(&now, &[], &[], &[]).portfolio.unwrap();
    assert_eq!(
        (
            p.delta_dollars.now.as_str(),
            p.delta_dollars.change.text.as_str()
        ),
        ("–", "–")
    );
}
