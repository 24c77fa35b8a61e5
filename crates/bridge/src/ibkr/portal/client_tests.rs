use std::time::Duration;

use super::*;

fn config(url: &str, verify_tls: bool) -> PortalConfig {
    PortalConfig {
        base_url: Url::parse(url).expect("url"),
        timeout: Duration::from_secs(5),
        tickle_interval: Duration::from_secs(60),
        verify_tls,
        enabled: true,
    }
}

#[test]
fn unverified_tls_only_for_a_gateway_on_this_machine() {
    for local in [
        "https://localhost:5000/v1/api",
        "https://127.0.0.1:5000/v1/api",
        "https://[::1]:5000/v1/api",
    ] {
        assert!(PortalClient::new(&config(local, false)).is_ok(), "{local}");
    }
    let err = PortalClient::new(&config("https://gw.example.com:5000/v1/api", false))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("IBKR_CP_VERIFY_TLS=true"), "{err}");
    assert!(PortalClient::new(&config("https://gw.example.com:5000/v1/api", true)).is_ok());
}

#[test]
fn urls_keep_the_base_path_and_the_login_page_is_the_root() {
    let c = PortalClient::new(&config("https://localhost:5000/v1/api", false)).expect("client");
    assert_eq!(
        c.url("/portfolio/accounts").as_str(),
        "https://localhost:5000/v1/api/portfolio/accounts"
    );
    assert_eq!(c.login_url(), "https://localhost:5000/");
}

#[test]
fn retry_after_is_read_in_seconds() {
    let mut h = header::HeaderMap::new();
    assert_eq!(retry_after(&h), None);
    h.insert(header::RETRY_AFTER, header::HeaderValue::from_static("3"));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    h.insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static("Wed, 21 Oct 2026 07:28:00 GMT"),
    );
    assert_eq!(
        retry_after(&h),
        None,
        "a date is not waited for; the default hold applies"
    );
}

#[test]
fn the_operator_reads_what_to_do() {
    let e = PortalError::NotAuthenticated {
        login_url: "https://localhost:5000/".into(),
    };
    assert_eq!(
        e.to_string(),
        "Re-auth required: log in to the Client Portal Gateway at https://localhost:5000/ in a \
         browser on the gateway's machine and approve the 2FA; nothing else is needed"
    );
    assert!(e.needs_login());
    let r = PortalError::RateLimited {
        retry_after: Some(Duration::from_millis(1500)),
    };
    assert_eq!(
        r.to_string(),
        "rate limited by the Client Portal Gateway for 2 s"
    );
}

#[test]
fn endpoints_about_an_account_never_show_its_code() {
    let account = AccountCode::parse("DU1234567").expect("code");
    let e = Endpoint::portfolio(&account, "/positions/0");
    assert_eq!(e.path(), "/portfolio/DU1234567/positions/0");
    assert_eq!(e.shown(), "/portfolio/DU…567/positions/0");
    assert_eq!(
        e.redact("account DU1234567 is not known"),
        "account DU…567 is not known"
    );
    let fixed = Endpoint::fixed("/portfolio/accounts");
    assert_eq!(fixed.shown(), "/portfolio/accounts");
}

#[test]
fn the_gateways_first_call_refusals_are_recognised() {
    assert_eq!(
        first_call_wanted("Please query /portfolio/accounts first"),
        Some("/portfolio/accounts")
    );
    assert_eq!(
        first_call_wanted("Please query /iserver/accounts first"),
        Some("/iserver/accounts")
    );
    assert_eq!(first_call_wanted("Bad Request: invalid pageId"), None);
    assert_eq!(first_call_wanted("/portfolio/accounts is slow"), None);
}

#[test]
fn reads_retry_within_one_timeout_in_all() {
    let budget = Duration::from_secs(15);
    let unavailable = PortalError::Refused {
        path: "/iserver/accounts".into(),
        status: 503,
        message: String::new(),
    };
    let quick = Duration::from_millis(30);
    assert_eq!(next_attempt(&unavailable, 1, quick, budget), Some(BACKOFF));
    assert_eq!(
        next_attempt(&unavailable, 3, quick, budget),
        Some(BACKOFF * 4)
    );
    assert_eq!(
        next_attempt(&unavailable, READ_ATTEMPTS, quick, budget),
        None
    );
    // IBKR's 503 comes after its own 10 s: one more try, not three.
    let ten = Duration::from_secs(10);
    assert!(next_attempt(&unavailable, 1, ten, budget).is_some());
    assert_eq!(next_attempt(&unavailable, 2, ten * 2, budget), None);
    let paced = PortalError::RateLimited {
        retry_after: Some(Duration::from_secs(1)),
    };
    assert_eq!(next_attempt(&paced, 1, quick, budget), Some(Duration::ZERO));
    let penalty = PortalError::RateLimited {
        retry_after: Some(Duration::from_secs(600)),
    };
    assert_eq!(next_attempt(&penalty, 1, quick, budget), None);
    let refused = PortalError::Refused {
        path: "/iserver/accounts".into(),
        status: 400,
        message: String::new(),
    };
    assert_eq!(next_attempt(&refused, 1, quick, budget), None);
}
