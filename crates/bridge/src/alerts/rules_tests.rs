use std::time::Duration;

use jiff::tz::TimeZone;

use super::*;
use crate::domain::ids::ConId;
use crate::domain::net_greeks::LeftOutReason;
use crate::domain::portfolio::Refusal;
use crate::jobs::worker::Streak;

/// 2027-01-15 10:00:00 UTC plus `secs`.
fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_007_200 + secs).unwrap()
}

fn account() -> AccountCode {
    AccountCode::try_from("DU1234567".to_owned()).unwrap()
}

fn up() -> FeedHealth {
    FeedHealth {
        connected: true,
        since: Some(t(-3600)),
        message: "connected".into(),
        epoch: 0,
        connects: 1,
        updates: 10,
        upstream_lost_since: None,
        refused: None,
    }
}

fn down(since: Timestamp) -> FeedHealth {
    FeedHealth {
        connected: false,
        since: Some(since),
        message: "TWS API connection lost: reset by peer".into(),
        ..up()
    }
}

fn observe(mode: ApiMode, feed: FeedHealth) -> Observation {
    Observation {
        mode,
        reset: ResetWindow::none(),
        feed,
        gateway_addr: "127.0.0.1:4001".into(),
        portal: None,
        portal_login_url: "https://localhost:5000/".into(),
        writer: WriterStatus::default(),
        schema: SchemaState::Ready,
        jobs: Streaks::new(),
        left_out: Vec::new(),
        expiring: Vec::new(),
        accounts: vec![account()],
    }
}

fn rules() -> Rules {
    Rules::new(Thresholds::default())
}

fn kinds(c: &[Condition]) -> Vec<AlertKind> {
    c.iter().map(|c| c.kind).collect()
}

/// The reset window 09:50-10:20 UTC around `t(0)`.
fn window() -> ResetWindow {
    ResetWindow::new("09:50-10:20".parse().unwrap(), TimeZone::UTC)
}

#[test]
fn a_portal_session_that_needs_a_login_is_reauth_required_with_the_url_and_no_feed_alert() {
    let mut o = observe(ApiMode::Portal, down(t(0)));
    let mut session = PortalSession::starting(t(0));
    session.state = SessionState::ReauthRequired;
    session.message = "Re-auth required: log in at https://localhost:5000".into();
    o.portal = Some(session);
    let c = rules().evaluate(&o, t(1000));
    assert_eq!(kinds(&c), [AlertKind::ReauthRequired]);
    assert_eq!(c[0].severity, Severity::Critical);
    assert_eq!(c[0].since, t(0));
    assert!(
        c[0].action.contains("https://localhost:5000/"),
        "{}",
        c[0].action
    );
    assert!(c[0].title.starts_with("Re-auth required"));
}

#[test]
fn a_socket_gateway_refusing_a_whole_round_outside_the_window_is_reauth_required() {
    let mut feed = down(t(0));
    feed.refused = Some(Refusal {
        since: t(5),
        rounds: 1,
        last_error: "cannot connect to IB Gateway / TWS at 127.0.0.1:4001: refused".into(),
    });
    let mut o = observe(ApiMode::Socket, feed);
    let c = rules().evaluate(&o, t(6));
    assert_eq!(kinds(&c), [AlertKind::ReauthRequired]);
    assert!(c[0].text.contains("refused"));
    assert!(c[0].action.contains("127.0.0.1:4001"));
    // Inside the reset window a refusal is the reset itself.
    o.reset = window();
    assert!(rules().evaluate(&o, t(6)).is_empty());
}

#[test]
fn feed_down_needs_the_threshold() {
    let o = observe(ApiMode::Socket, down(t(0)));
    let mut r = rules();
    assert!(r.evaluate(&o, t(179)).is_empty());
    let c = r.evaluate(&o, t(180));
    assert_eq!(kinds(&c), [AlertKind::FeedDown]);
    assert_eq!(c[0].since, t(0));
    assert!(c[0].title.contains("3 min"), "{}", c[0].title);
    assert!(
        r.evaluate(&observe(ApiMode::Socket, up()), t(181))
            .is_empty()
    );
}

#[test]
fn lost_connectivity_behind_a_connected_gateway_is_feed_down() {
    let mut feed = up();
    feed.upstream_lost_since = Some(t(0));
    let o = observe(ApiMode::Socket, feed);
    assert_eq!(kinds(&rules().evaluate(&o, t(200))), [AlertKind::FeedDown]);
}

#[test]
fn no_feed_alert_for_a_reset_window_and_its_clock_starts_at_the_window_end() {
    let mut o = observe(ApiMode::Socket, down(t(-60)));
    o.reset = window();
    let mut r = rules();
    // Inside the window (it ends at t(1200)), however long.
    assert!(r.evaluate(&o, t(1000)).is_empty());
    // After it, only once the threshold has passed since its end.
    assert!(r.evaluate(&o, t(1200 + 179)).is_empty());
    assert_eq!(kinds(&r.evaluate(&o, t(1200 + 180))), [AlertKind::FeedDown]);
}

#[test]
fn a_feed_alert_raised_before_the_window_keeps_holding_through_it() {
    let mut o = observe(ApiMode::Socket, down(t(-1000)));
    o.reset = window();
    let mut r = rules();
    // At t(-700), before the window opens at t(-600): down for 300 s.
    assert_eq!(kinds(&r.evaluate(&o, t(-700))), [AlertKind::FeedDown]);
    assert_eq!(kinds(&r.evaluate(&o, t(0))), [AlertKind::FeedDown]);
}

#[test]
fn database_unreachable_after_its_threshold_from_the_breaker_or_the_schema() {
    let mut o = observe(ApiMode::Socket, up());
    o.writer.breaker = Breaker::Open;
    o.writer.last_error = Some("connection refused".into());
    o.writer.spooled = 42;
    let mut r = rules();
    assert!(r.evaluate(&o, t(0)).is_empty());
    let c = r.evaluate(&o, t(120));
    assert_eq!(kinds(&c), [AlertKind::DatabaseUnreachable]);
    assert_eq!(c[0].since, t(0));
    assert!(c[0].text.contains("connection refused") && c[0].text.contains("42"));
    o.writer.breaker = Breaker::Closed;
    assert!(r.evaluate(&o, t(121)).is_empty());

    let mut o = observe(ApiMode::Socket, up());
    o.schema = SchemaState::Pending("PostgreSQL refuses connections at 127.0.0.1:5432".into());
    let mut r = rules();
    r.evaluate(&o, t(0));
    let c = r.evaluate(&o, t(300));
    assert_eq!(kinds(&c), [AlertKind::DatabaseUnreachable]);
    assert!(c[0].text.contains("refuses connections"));
}

#[test]
fn a_growing_spool_and_dropped_records() {
    let mut o = observe(ApiMode::Socket, up());
    o.writer.spooled = 10_001;
    let mut r = rules();
    assert_eq!(kinds(&r.evaluate(&o, t(0))), [AlertKind::SpoolGrowing]);
    o.writer.spooled = 0;
    o.writer.dropped = 3;
    let c = r.evaluate(&o, t(10));
    assert_eq!(kinds(&c), [AlertKind::RowsDropped]);
    assert_eq!(c[0].severity, Severity::Critical);
    assert_eq!(c[0].title, "3 records dropped");
    o.writer.dropped = 5;
    let c = r.evaluate(&o, t(20));
    assert_eq!(
        (c[0].since, c[0].title.as_str()),
        (t(10), "5 records dropped")
    );
    // No more drops for DROPS_QUIET: it clears.
    assert!(!r.evaluate(&o, t(20 + 299)).is_empty());
    assert!(r.evaluate(&o, t(20 + 300)).is_empty());
}

#[test]
fn a_job_type_failing_in_a_row_is_told_with_account_codes_masked() {
    let mut o = observe(ApiMode::Socket, up());
    o.jobs.insert(
        "combo_positions.sync".into(),
        Streak {
            failures: 2,
            since: t(0),
            last_error: "account DU1234567 not found".into(),
        },
    );
    let mut r = rules();
    assert!(r.evaluate(&o, t(10)).is_empty());
    o.jobs.get_mut("combo_positions.sync").unwrap().failures = 3;
    let c = r.evaluate(&o, t(10));
    assert_eq!(kinds(&c), [AlertKind::SyncFailing]);
    assert_eq!(c[0].key, "combo_positions.sync");
    assert!(!c[0].text.contains("DU1234567"), "{}", c[0].text);
    assert!(c[0].text.contains("DU…567"), "{}", c[0].text);
}

#[test]
fn positions_left_out_for_long_are_named_with_the_reason() {
    let mut o = observe(ApiMode::Socket, up());
    o.left_out = vec![LeftOut {
        account: account(),
        conid: ConId::new(810_000_001).unwrap(),
        symbol: Some("CL".into()),
        reason: LeftOutReason::MissingGreeks,
    }];
    let mut r = rules();
    assert!(r.evaluate(&o, t(0)).is_empty());
    let c = r.evaluate(&o, t(600));
    assert_eq!(kinds(&c), [AlertKind::GreeksIncomplete]);
    assert!(
        c[0].text.contains("DU…567 CL (810000001): greeks missing"),
        "{}",
        c[0].text
    );
    // While the feed is down the feed's alert says it; this one's clock starts again.
    o.feed = down(t(600));
    assert!(!kinds(&r.evaluate(&o, t(601))).contains(&AlertKind::GreeksIncomplete));
}

#[test]
fn held_futures_near_their_last_trade_date_are_one_alert_each() {
    let mut o = observe(ApiMode::Socket, up());
    o.expiring = vec![(
        "DU…567".to_owned(),
        crate::domain::expiry::Expiring {
            conid: ConId::new(1).unwrap(),
            name: "CLF7".into(),
            symbol: "CL".into(),
            last_trade_date: jiff::civil::date(2026, 12, 22),
            business_days_left: 3,
            quantity: -2.0,
        },
    )];
    let c = rules().evaluate(&o, t(0));
    assert_eq!(kinds(&c), [AlertKind::FrontMonthExpiring]);
    assert_eq!(c[0].key, "CLF7 DU…567");
    assert!(c[0].text.contains("-2 held in DU…567"), "{}", c[0].text);
    assert_eq!(c[0].severity, Severity::Warning);
    assert!(
        c[0].title.contains("3 business days (2026-12-22)"),
        "{}",
        c[0].title
    );
    o.expiring[0].1.business_days_left = 0;
    assert_eq!(rules().evaluate(&o, t(0))[0].severity, Severity::Critical);
}

#[test]
fn durations_read_as_people_say_them() {
    let d = Duration::from_secs;
    assert_eq!(human(d(45)), "45 s");
    assert_eq!(human(d(240)), "4 min");
    assert_eq!(human(d(7500)), "2 h 5 min");
    assert_eq!(human(d(7200)), "2 h");
    assert_eq!(human(d(3 * 86_400 + 4 * 3600)), "3 d 4 h");
}

#[test]
fn a_portal_login_and_a_refusing_gateway_are_two_alerts_and_no_feed_alert() {
    let mut feed = down(t(0));
    feed.refused = Some(Refusal {
        since: t(5),
        rounds: 2,
        last_error: "refused".into(),
    });
    let mut o = observe(ApiMode::Socket, feed);
    let mut session = PortalSession::starting(t(0));
    session.state = SessionState::ReauthRequired;
    o.portal = Some(session);
    let c = rules().evaluate(&o, t(1000));
    let keys: Vec<(AlertKind, &str)> = c.iter().map(|c| (c.kind, c.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (AlertKind::ReauthRequired, "client_portal"),
            (AlertKind::ReauthRequired, "ib_gateway")
        ]
    );
}

#[test]
fn a_client_portal_login_does_not_hide_a_socket_feed_outage() {
    // SOCKET mode: the Client Portal only serves combos, so its login explains nothing of the
    // socket's outage.
    let mut o = observe(ApiMode::Socket, down(t(0)));
    let mut session = PortalSession::starting(t(0));
    session.state = SessionState::ReauthRequired;
    o.portal = Some(session);
    let kinds_at = |r: &mut Rules, at| kinds(&r.evaluate(&o, t(at)));
    let mut r = rules();
    assert_eq!(
        kinds_at(&mut r, 200),
        [AlertKind::ReauthRequired, AlertKind::FeedDown]
    );
}

#[test]
fn a_feed_alert_goes_on_holding_when_a_login_comes_to_explain_it() {
    let mut o = observe(ApiMode::Socket, down(t(0)));
    let mut r = rules();
    assert_eq!(kinds(&r.evaluate(&o, t(200))), [AlertKind::FeedDown]);
    // The gateway now refuses: the login is the news, and the outage has not cleared.
    o.feed.refused = Some(Refusal {
        since: t(210),
        rounds: 1,
        last_error: "refused".into(),
    });
    assert_eq!(
        kinds(&r.evaluate(&o, t(220))),
        [AlertKind::ReauthRequired, AlertKind::FeedDown]
    );
    // Explained from the start, it never begins.
    let mut fresh = rules();
    assert_eq!(
        kinds(&fresh.evaluate(&o, t(220))),
        [AlertKind::ReauthRequired]
    );
}

#[test]
fn a_gateway_login_awaited_as_the_reset_window_opens_goes_on_holding_through_it() {
    let mut feed = down(t(-2000));
    feed.refused = Some(Refusal {
        since: t(-1900),
        rounds: 3,
        last_error: "refused".into(),
    });
    let mut o = observe(ApiMode::Socket, feed);
    o.reset = window();
    let mut r = rules();
    // Before the window (it opens at t(-600)): needed.
    assert_eq!(kinds(&r.evaluate(&o, t(-700))), [AlertKind::ReauthRequired]);
    // Inside it: still needed, not "resolved".
    assert!(kinds(&r.evaluate(&o, t(0))).contains(&AlertKind::ReauthRequired));
    // A refusal first seen inside the window is the reset itself.
    assert!(rules().evaluate(&o, t(0)).is_empty());
}

#[test]
fn positions_left_out_in_turn_for_a_moment_each_are_not_an_alert() {
    let left = |conid| LeftOut {
        account: account(),
        conid: ConId::new(conid).unwrap(),
        symbol: Some("LO".into()),
        reason: LeftOutReason::StaleGreeks,
    };
    let mut o = observe(ApiMode::Socket, up());
    let mut r = rules();
    // Every 100 s another option is stale; the list is never empty for 20 minutes.
    for i in 0..12 {
        o.left_out = vec![left(100 + i)];
        assert!(r.evaluate(&o, t(i * 100)).is_empty(), "at {}", i * 100);
    }
    // One that stays out past the threshold is told, alone.
    o.left_out = vec![left(7), left(8)];
    r.evaluate(&o, t(2000));
    o.left_out = vec![left(7)];
    let c = r.evaluate(&o, t(2600));
    assert_eq!(c[0].title, "1 position left out of the greeks");
    assert_eq!(c[0].since, t(2000));
}
