use std::net::Ipv4Addr;

use axum::http::HeaderValue;

use super::*;

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(k, HeaderValue::from_str(v).expect("valid"));
    }
    h
}

const TOKEN: &str = "0123456789abcdef0123";

fn token() -> Option<Secret> {
    Some(Secret::new(TOKEN))
}

fn client(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, last))
}

#[test]
fn without_a_token_everything_passes() {
    assert!(Auth::new(None).allows(&HeaderMap::new(), Instant::now()));
}

#[test]
fn the_bearer_token_or_a_session_cookie_passes_nothing_else() {
    let auth = Auth::new(token());
    let now = Instant::now();
    assert!(!auth.allows(&HeaderMap::new(), now));
    let bearer = |t: &str| headers(&[(header::AUTHORIZATION, &format!("Bearer {t}"))]);
    assert!(auth.allows(&bearer(TOKEN), now));
    assert!(!auth.allows(&bearer("0123456789abcdef0124"), now));
    assert!(!auth.allows(&bearer("0123"), now));

    let id = auth.open_session(now).expect("session");
    assert_eq!(id.len(), 64);
    let with_cookie = headers(&[(header::COOKIE, &format!("theme=dark; {COOKIE}={id}"))]);
    assert!(auth.allows(&with_cookie, now));
    auth.close_session(&id);
    assert!(!auth.allows(&with_cookie, now), "signed out");
    assert!(!auth.allows(&headers(&[(header::COOKIE, "pb_session=guess")]), now));
}

#[test]
fn the_scheme_is_case_insensitive_and_others_are_not_bearer() {
    let auth = Auth::new(token());
    let now = Instant::now();
    for value in [
        format!("bearer {TOKEN}"),
        format!("BEARER {TOKEN}"),
        format!("Bearer   {TOKEN} "),
    ] {
        assert!(
            auth.allows(&headers(&[(header::AUTHORIZATION, &value)]), now),
            "{value}"
        );
    }
    for value in [
        format!("Basic {TOKEN}"),
        format!("Bearer{TOKEN}"),
        TOKEN.into(),
    ] {
        assert!(
            !auth.allows(&headers(&[(header::AUTHORIZATION, &value)]), now),
            "{value}"
        );
    }
}

#[test]
fn a_session_ends_after_its_lifetime_whatever_the_browser_keeps() {
    let auth = Auth::new(token());
    let t0 = Instant::now();
    let id = auth.open_session(t0).expect("session");
    let with_cookie = headers(&[(header::COOKIE, &format!("{COOKIE}={id}"))]);
    assert!(auth.allows(&with_cookie, t0 + SESSION_LIFETIME - Duration::from_secs(1)));
    assert!(!auth.allows(&with_cookie, t0 + SESSION_LIFETIME));
    // Ended sessions are forgotten when the next one opens.
    auth.open_session(t0 + SESSION_LIFETIME).expect("session");
    assert_eq!(auth.sessions().len(), 1);
}

#[test]
fn the_cookie_says_when_it_ends_and_is_secure_behind_a_tls_proxy() {
    let cookie = session_cookie("abc", false);
    assert_eq!(
        cookie,
        format!(
            "{COOKIE}=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            SESSION_LIFETIME.as_secs()
        )
    );
    assert!(session_cookie("abc", true).ends_with("; Secure"));
    assert!(expired_cookie(true).contains("Max-Age=0; Secure"));

    let https = headers(&[(
        header::HeaderName::from_static("x-forwarded-proto"),
        "https",
    )]);
    let local: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
    let remote: SocketAddr = "192.168.1.9:50000".parse().expect("addr");
    assert!(over_tls(&https, Some(local)));
    assert!(
        !over_tls(&https, Some(remote)),
        "only a local proxy is believed"
    );
    assert!(!over_tls(&https, None));
    assert!(!over_tls(&HeaderMap::new(), Some(local)));
}

#[test]
fn failed_sign_ins_are_limited_per_client_for_a_while() {
    let auth = Auth::new(token());
    let t0 = Instant::now();
    for i in 0..MAX_FAILURES {
        let at = t0 + Duration::from_secs(i as u64);
        assert_eq!(
            auth.sign_in("wrong", client(1), at).expect("sign in"),
            SignIn::Refused
        );
    }
    let later = t0 + Duration::from_secs(10);
    assert_eq!(
        auth.sign_in(TOKEN, client(1), later).expect("sign in"),
        SignIn::Throttled(FAILURE_WINDOW - Duration::from_secs(10)),
        "even the right token waits"
    );
    assert!(matches!(
        auth.sign_in(TOKEN, client(2), later).expect("sign in"),
        SignIn::Opened(_)
    ));
    // The window passes from the oldest failure.
    assert!(matches!(
        auth.sign_in(TOKEN, client(1), t0 + FAILURE_WINDOW)
            .expect("sign in"),
        SignIn::Opened(_)
    ));
    // A success forgets the failures.
    assert_eq!(
        auth.sign_in("wrong", client(1), t0 + FAILURE_WINDOW)
            .expect("sign in"),
        SignIn::Refused
    );
}

#[test]
fn the_throttle_forgets_old_failures_and_stays_bounded() {
    let mut throttle = Throttle::default();
    let t0 = Instant::now();
    for i in 0..(MAX_CLIENTS as u32 + 10) {
        throttle.failed(IpAddr::V4(Ipv4Addr::from(i)), t0);
    }
    assert!(throttle.failures.len() <= MAX_CLIENTS);
    throttle.failed(client(1), t0 + FAILURE_WINDOW);
    assert_eq!(throttle.failures.len(), 1, "the old ones are gone");
}

#[test]
fn sign_in_returns_only_to_this_site() {
    assert_eq!(
        safe_next(Some("/greeks?contract=CL")),
        "/greeks?contract=CL"
    );
    assert_eq!(safe_next(Some("/status")), "/status");
    assert_eq!(safe_next(Some("/a/../status")), "/status");
    for bad in [
        None,
        Some("https://evil.example/"),
        Some("//evil.example"),
        Some("/\\evil"),
        Some("/\t/evil.com"),
        Some("/\n/evil.com"),
        Some("/\r\nSet-Cookie: x=1"),
        Some(" //evil.com"),
        Some("/ /evil.com"),
        Some("evil.com"),
        Some(""),
    ] {
        assert_eq!(safe_next(bad), "/", "{bad:?}");
    }
}
