use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn ms(start: Instant, millis: u64) -> Instant {
    start + Duration::from_millis(millis)
}

#[test]
fn ten_per_second_overall() {
    let t0 = Instant::now();
    let mut l = RateLimiter::new(Duration::ZERO);
    for i in 0..10 {
        assert_eq!(
            l.check("/portfolio/DU1/summary", ms(t0, i * 10)),
            Ok(()),
            "request {i}"
        );
    }
    let refused = l
        .check("/portfolio/DU1/summary", ms(t0, 500))
        .expect_err("the 11th");
    assert_eq!(refused, Duration::from_millis(500));
    assert_eq!(
        l.check("/portfolio/DU1/summary", ms(t0, 1000)),
        Ok(()),
        "the window moved"
    );
}

#[test]
fn endpoint_limits_are_tighter_and_do_not_use_the_global_budget() {
    let t0 = Instant::now();
    let mut l = RateLimiter::new(Duration::ZERO);
    assert_eq!(l.check("/portfolio/accounts", t0), Ok(()));
    assert_eq!(
        l.check("/portfolio/accounts", ms(t0, 4999)),
        Err(Duration::from_millis(1))
    );
    assert_eq!(l.check("/portfolio/accounts", ms(t0, 5000)), Ok(()));
    assert_eq!(l.check("/tickle", t0), Ok(()));
    assert!(l.check("/tickle", ms(t0, 100)).is_err());
    // Two admitted so far in the first second (accounts, tickle): eight more fit.
    for i in 0..8 {
        assert_eq!(
            l.check("/iserver/accounts", ms(t0, 200 + i)),
            Ok(()),
            "request {i}"
        );
    }
    assert!(l.check("/iserver/accounts", ms(t0, 300)).is_err());
}

#[test]
fn a_penalty_box_refuses_everything_for_a_while() {
    let t0 = Instant::now();
    let mut l = RateLimiter::new(Duration::from_secs(600));
    assert_eq!(l.check("/sso/validate", t0), Ok(()));
    assert_eq!(
        l.check("/sso/validate", ms(t0, 10)),
        Err(Duration::from_secs(600))
    );
    assert!(l.check("/tickle", ms(t0, 2000)).is_err());
    assert_eq!(l.check("/tickle", ms(t0, 610_010)), Ok(()));
}
