use super::*;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).expect("valid")
}

fn feed(connected: bool) -> FeedHealth {
    FeedHealth {
        connected,
        since: Some(t(0)),
        message: "TWS API at 127.0.0.1:4001".into(),
        epoch: 1,
        connects: 1,
        updates: 0,
        upstream_lost_since: None,
        refused: None,
    }
}

fn writer() -> WriterStatus {
    WriterStatus::default()
}

fn session(state: SessionState, message: &str) -> PortalSession {
    PortalSession {
        state,
        message: message.into(),
        ..PortalSession::starting(t(0))
    }
}

const MINUTE: Duration = Duration::from_secs(60);

fn kinds(a: &[Attention]) -> Vec<&str> {
    a.iter().map(|x| x.kind.as_str()).collect()
}

#[test]
fn a_healthy_bridge_needs_nothing() {
    let ok = session(SessionState::Authenticated, "authenticated");
    let a = attention(
        ApiMode::Socket,
        &feed(true),
        Some(&ok),
        &writer(),
        Some(t(100)),
        Ok(()),
        MINUTE,
        t(130),
    );
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn re_auth_comes_with_its_message_and_old_combos_count_as_stale() {
    let reauth = session(
        SessionState::ReauthRequired,
        "Re-auth required: log in to the Client Portal Gateway at https://localhost:5000",
    );
    // Three missed one-minute syncs and a minute of slack: 4 min; 5 min is too old.
    let at = |now| {
        attention(
            ApiMode::Socket,
            &feed(true),
            Some(&reauth),
            &writer(),
            Some(t(0)),
            Ok(()),
            MINUTE,
            now,
        )
    };
    let a = at(t(300));
    assert_eq!(kinds(&a), ["reauth", "stale"]);
    assert!(a[0].message.starts_with("Re-auth required"));
    assert!(
        a[0].message.contains("legs and greeks keep flowing"),
        "{}",
        a[0].message
    );
    let fresh = at(t(239));
    assert_eq!(kinds(&fresh), ["reauth"]);
}

#[test]
fn a_dead_feed_database_and_open_breaker_are_each_reported() {
    let mut w = writer();
    w.breaker = Breaker::Open;
    w.spooled = 12;
    w.last_error = Some("pool timed out".into());
    w.dropped = 3;
    let a = attention(
        ApiMode::Socket,
        &feed(false),
        None,
        &w,
        None,
        database_health(&SchemaState::Ready, false),
        MINUTE,
        t(10),
    );
    assert_eq!(kinds(&a), ["feed", "database", "spool", "spool"]);
    assert!(
        a[2].message.contains("12 records wait in the spool"),
        "{}",
        a[2].message
    );
}

const REAUTH: &str = "Re-auth required: log in to the Client Portal Gateway at \
                      https://localhost:5000/ in a browser on the gateway's machine and approve \
                      the 2FA; nothing else is needed";

fn portal_feed_down(reason: &str) -> FeedHealth {
    FeedHealth {
        message: format!("Client Portal data unavailable: {reason}"),
        ..feed(false)
    }
}

#[test]
fn in_portal_mode_a_login_is_asked_for_and_nothing_promises_to_reconnect_alone() {
    let reauth = session(SessionState::ReauthRequired, REAUTH);
    let a = attention(
        ApiMode::Portal,
        &portal_feed_down(REAUTH),
        Some(&reauth),
        &writer(),
        None,
        Ok(()),
        MINUTE,
        t(10),
    );
    assert_eq!(kinds(&a), ["reauth"], "{a:?}");
    let m = &a[0].message;
    assert!(
        m.starts_with("Re-auth required: log in to the Client Portal Gateway at https://localhost:5000/ in a browser on the gateway's machine and approve the 2FA"),
        "{m}"
    );
    assert!(
        m.contains("no positions, prices or greeks arrive") && m.contains("within one poll"),
        "{m}"
    );
    assert!(a.iter().all(|x| !x.message.contains("by itself")), "{a:?}");
}

#[test]
fn in_portal_mode_a_feed_down_for_another_reason_names_it() {
    let ok = session(SessionState::Authenticated, "authenticated");
    let reason = "the Client Portal Gateway refused /portfolio/DU…567/positions/0 with HTTP 500";
    let a = attention(
        ApiMode::Portal,
        &portal_feed_down(reason),
        Some(&ok),
        &writer(),
        None,
        Ok(()),
        MINUTE,
        t(10),
    );
    assert_eq!(kinds(&a), ["feed"]);
    assert!(a[0].message.contains(reason), "{}", a[0].message);
    assert!(
        !a[0].message.contains("reconnects by itself"),
        "{}",
        a[0].message
    );
}

#[test]
fn the_database_item_tells_a_schema_being_applied_from_a_silent_server() {
    assert_eq!(database_health(&SchemaState::Ready, true), Ok(()));
    let silent = database_health(&SchemaState::Ready, false).expect_err("silent");
    assert!(silent.starts_with("PostgreSQL does not answer"), "{silent}");
    let pending = SchemaState::Pending("cannot connect to PostgreSQL at …: refused".into());
    let applying = database_health(&pending, false).expect_err("pending");
    assert!(
        applying.starts_with("the database schema is not applied yet (cannot connect"),
        "{applying}"
    );
    let unusable = SchemaState::Unusable("column combo_positions.account_id is missing".into());
    let stops = database_health(&unusable, false).expect_err("unusable");
    assert!(stops.contains("account_id is missing"), "{stops}");
}
