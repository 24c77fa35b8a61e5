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

#[tokio::test]
async fn a_connected_feed_still_loading_its_positions_writes_nothing_then_the_next_boundary_does() {
    use std::collections::BTreeSet;

    use crate::clock::SystemClock;
    use crate::domain::ids::AccountCode;
    use crate::greeks::writer;

    let portfolio = SharedPortfolio::new();
    portfolio.write(|p| {
        p.connected(Timestamp::now(), "up");
        p.set_accounts(AccountCode::parse("DU1234567"));
    });
    let (out, mut records) = writer::channel();
    let (status, mut seen) = watch::channel(TickStatus::default());
    let (stop, shutdown) = crate::Shutdown::new();
    let settings = TickerSettings {
        bridge: crate::greeks::record::test_bridge(),
        interval: Duration::from_millis(10),
        max_age: Duration::from_secs(30),
        clock: Arc::new(SystemClock),
    };
    let ticker = tokio::spawn(run(portfolio.clone(), settings, out, status, shutdown));

    // Three boundaries, whatever each did.
    let after = seen
        .wait_for(|s| s.skipped + s.rows >= 3)
        .await
        .expect("ticking")
        .clone();
    assert_eq!(
        after.rows, 0,
        "rows from a feed whose positions are still loading"
    );
    assert!(records.try_recv().is_err());
    portfolio.write(|p| p.positions_loaded(&BTreeSet::new(), Timestamp::now()));
    let first = records
        .recv()
        .await
        .expect("rows once the positions are whole");
    assert!(
        first.iter().any(|r| r.key().ends_with(":PORTFOLIO")),
        "{first:?}"
    );
    stop.send(true).expect("stop");
    ticker.await.expect("ticker");
}
