use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

#[test]
fn nine_a_second_overall() {
    let t0 = Instant::now();
    let mut p = Pacing::default();
    for i in 0..9 {
        assert_eq!(p.try_acquire("/portfolio/DU1/summary", ms(t0, i)), Ok(()));
    }
    assert_eq!(
        p.try_acquire("/iserver/accounts", ms(t0, 100)),
        Err(Duration::from_millis(900))
    );
    assert_eq!(p.try_acquire("/iserver/accounts", ms(t0, 1000)), Ok(()));
}

#[test]
fn endpoints_keep_their_own_slower_pace_without_blocking_others() {
    let t0 = Instant::now();
    let mut p = Pacing::default();
    assert_eq!(p.try_acquire("/portfolio/accounts", t0), Ok(()));
    assert_eq!(
        p.try_acquire("/portfolio/accounts", ms(t0, 5000)),
        Err(Duration::from_millis(500))
    );
    assert_eq!(
        p.try_acquire("/portfolio/DU1/summary", ms(t0, 5000)),
        Ok(()),
        "others are not held back"
    );
    assert_eq!(p.try_acquire("/portfolio/accounts", ms(t0, 5500)), Ok(()));
    assert_eq!(p.try_acquire("/tickle", t0), Ok(()));
    assert!(p.try_acquire("/tickle", ms(t0, 1099)).is_err());
}

#[test]
fn a_429_holds_everyone() {
    let t0 = Instant::now();
    let mut p = Pacing::default();
    p.hold_until(ms(t0, 2000));
    assert_eq!(
        p.try_acquire("/tickle", ms(t0, 500)),
        Err(Duration::from_millis(1500))
    );
    p.hold_until(ms(t0, 1000));
    assert!(
        p.try_acquire("/tickle", ms(t0, 1500)).is_err(),
        "a shorter hold never shortens a longer one"
    );
    assert_eq!(p.try_acquire("/tickle", ms(t0, 2000)), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn the_pacer_waits_instead_of_failing() {
    let pacer = Pacer::default();
    let t0 = Instant::now();
    for _ in 0..3 {
        pacer.acquire("/portfolio/accounts").await;
    }
    // Three calls to a 1-per-5.5 s endpoint take two full windows of (paused) time.
    assert!(Instant::now().duration_since(t0) >= Duration::from_millis(11_000));
}
