use std::time::Duration;

use jiff::Timestamp;

use super::*;

fn ms(n: i64) -> Timestamp {
    Timestamp::from_millisecond(n).expect("valid")
}

#[test]
fn ticks_land_on_interval_boundaries() {
    let five = Duration::from_secs(5);
    assert_eq!(
        next_boundary(ms(1_790_000_001_234), five),
        ms(1_790_000_005_000)
    );
    // Exactly on a boundary: the next one, so a tick is never taken twice.
    assert_eq!(
        next_boundary(ms(1_790_000_005_000), five),
        ms(1_790_000_010_000)
    );
    assert_eq!(
        next_boundary(ms(1_790_000_009_999), five),
        ms(1_790_000_010_000)
    );
    assert_eq!(next_boundary(ms(999), Duration::from_millis(250)), ms(1000));
}

#[test]
fn a_late_wake_skips_to_the_next_boundary_instead_of_bunching() {
    let five = Duration::from_secs(5);
    // Woken 12 s after the 10 s boundary: the next tick is 25 s, not 15 s and 20 s.
    assert_eq!(next_boundary(ms(22_000), five), ms(25_000));
}

#[test]
fn no_rows_until_the_feed_is_up_and_its_positions_list_is_whole() {
    use std::collections::BTreeSet;

    use crate::domain::ids::AccountCode;

    let mut p = Portfolio::new();
    assert_eq!(holdback(&p), Some(Holdback::FeedDown));
    // Connected, accounts known, no positions yet: sums would say zero for every account.
    p.connected(ms(1_000), "up");
    p.set_accounts(AccountCode::parse("DU1234567"));
    assert_eq!(holdback(&p), Some(Holdback::PositionsLoading));
    p.positions_loaded(&BTreeSet::new(), ms(1_200));
    assert_eq!(holdback(&p), None);
    // A reconnect must deliver the list again.
    p.disconnected(ms(2_000), "lost");
    assert_eq!(holdback(&p), Some(Holdback::FeedDown));
    p.connected(ms(3_000), "up again");
    assert_eq!(holdback(&p), Some(Holdback::PositionsLoading));
}
