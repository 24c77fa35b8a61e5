use super::*;

const LOGIN: &str = "https://localhost:5000/";

fn status(authenticated: bool, connected: bool, competing: bool) -> AuthStatus {
    AuthStatus {
        authenticated,
        connected,
        competing,
        message: String::new(),
        session: None,
    }
}

#[test]
fn statuses_decide_the_state() {
    assert_eq!(
        verdict_of_status(status(true, true, false), LOGIN).state,
        SessionState::Authenticated
    );
    let v = verdict_of_status(status(false, true, true), LOGIN);
    assert_eq!(v.state, SessionState::Competing);
    assert!(v.message.contains("dedicated API user"), "{}", v.message);
    let v = verdict_of_status(status(false, false, false), LOGIN);
    assert_eq!(v.state, SessionState::ReauthRequired);
    assert!(v.message.starts_with(
        "Re-auth required: log in to the Client Portal Gateway at https://localhost:5000/"
    ));
}

#[test]
fn errors_decide_the_state() {
    let cases = [
        (
            PortalError::NotAuthenticated {
                login_url: LOGIN.into(),
            },
            SessionState::ReauthRequired,
        ),
        (
            PortalError::Unreachable {
                url: LOGIN.into(),
                reason: "refused".into(),
            },
            SessionState::Unreachable,
        ),
        (
            PortalError::TimedOut {
                path: "/tickle".into(),
                timeout: std::time::Duration::from_secs(1),
            },
            SessionState::Unreachable,
        ),
        (
            PortalError::RateLimited { retry_after: None },
            SessionState::Degraded,
        ),
    ];
    for (e, state) in cases {
        assert_eq!(verdict_of_error(&e).state, state, "{e}");
    }
}

#[test]
fn portfolio_reads_survive_a_competing_session() {
    let mut s = PortalSession::starting(jiff::Timestamp::UNIX_EPOCH);
    assert!(!s.can_read_portfolio());
    s.state = SessionState::Competing;
    assert!(s.can_read_portfolio());
    s.state = SessionState::ReauthRequired;
    assert!(!s.can_read_portfolio());
}

#[test]
fn a_login_is_watched_for_at_the_poll_interval_and_a_good_session_at_the_tickle_interval() {
    let tickle = std::time::Duration::from_secs(60);
    let poll = std::time::Duration::from_secs(5);
    for state in [
        SessionState::ReauthRequired,
        SessionState::Unreachable,
        SessionState::Starting,
    ] {
        assert_eq!(next_check(state, tickle, poll), poll, "{state:?}");
    }
    for state in [
        SessionState::Authenticated,
        SessionState::Competing,
        SessionState::Degraded,
    ] {
        assert_eq!(next_check(state, tickle, poll), tickle, "{state:?}");
    }
    // Never slower than the tickle, whatever the poll interval.
    assert_eq!(next_check(SessionState::ReauthRequired, poll, tickle), poll);
}
