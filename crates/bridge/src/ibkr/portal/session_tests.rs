use super::*;

const LOGIN: &str = "https://localhost:5000/";

fn status(authenticated: bool, connected: bool, competing: bool) -> AuthStatus {
    AuthStatus {
        authenticated,
        connected,
        competing,
        message: String::new(),
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
