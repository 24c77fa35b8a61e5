use axum::http::HeaderValue;

use super::*;

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(k, HeaderValue::from_str(v).expect("valid"));
    }
    h
}

fn token() -> Option<Secret> {
    Some(Secret::new("0123456789abcdef0123"))
}

#[test]
fn without_a_token_everything_passes() {
    assert!(Auth::new(None).allows(&HeaderMap::new()));
}

#[test]
fn the_bearer_token_or_a_session_cookie_passes_nothing_else() {
    let auth = Auth::new(token());
    assert!(!auth.allows(&HeaderMap::new()));
    let bearer = |t: &str| headers(&[(header::AUTHORIZATION, &format!("Bearer {t}"))]);
    assert!(auth.allows(&bearer("0123456789abcdef0123")));
    assert!(!auth.allows(&bearer("0123456789abcdef0124")));
    assert!(!auth.allows(&bearer("0123")));

    let id = auth.open_session().expect("session");
    assert_eq!(id.len(), 64);
    let with_cookie = headers(&[(header::COOKIE, &format!("theme=dark; {COOKIE}={id}"))]);
    assert!(auth.allows(&with_cookie));
    auth.close_session(&id);
    assert!(!auth.allows(&with_cookie), "signed out");
    assert!(!auth.allows(&headers(&[(header::COOKIE, "pb_session=guess")])));
}

#[test]
fn sign_in_returns_only_to_this_site() {
    assert_eq!(
        safe_next(Some("/greeks?contract=CL")),
        "/greeks?contract=CL"
    );
    for bad in [
        None,
        Some("https://evil.example/"),
        Some("//evil.example"),
        Some("/\\evil"),
    ] {
        assert_eq!(safe_next(bad), "/");
    }
}
