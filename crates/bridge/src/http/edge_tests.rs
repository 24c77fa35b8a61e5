use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::HeaderValue;

use super::*;
use crate::http::error::ErrorCode;

fn hosts(bind: IpAddr, names: &[&str]) -> AllowedHosts {
    AllowedHosts::new(
        bind,
        names
            .iter()
            .map(|n| n.parse().expect("a valid name"))
            .collect(),
    )
}

fn loopback() -> AllowedHosts {
    hosts(IpAddr::V4(Ipv4Addr::LOCALHOST), &[])
}

fn head(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(k, HeaderValue::from_str(v).expect("valid"));
    }
    h
}

fn code(r: Result<(), ApiError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

#[test]
fn a_loopback_bridge_answers_to_loopback_names_only() {
    let allowed = loopback();
    for host in [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "127.0.0.1",
        "[::1]",
        "127.0.0.2",
    ] {
        assert!(allowed.allows(host), "{host}");
    }
    for host in [
        "evil.example",
        "localhost.evil.example",
        "192.168.1.20",
        "[fd00::1]",
        "",
    ] {
        assert!(!allowed.allows(host), "{host}");
    }
}

#[test]
fn listed_names_and_the_bound_address_are_allowed() {
    let lan = hosts(
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20)),
        &["trading-pc.local", "fd00::2"],
    );
    for host in ["192.168.1.20", "Trading-PC.local", "localhost", "[fd00::2]"] {
        assert!(lan.allows(host), "{host}");
    }
    assert!(!lan.allows("192.168.1.21"));
    assert!(!lan.allows("nas.local"));
    // Listening on every address: any address is one of ours, but a name still needs listing.
    let all = hosts(IpAddr::V6(Ipv6Addr::UNSPECIFIED), &[]);
    assert!(all.allows("10.1.2.3") && all.allows("[fd00::9]"));
    assert!(!all.allows("attacker.example"));
}

#[test]
fn the_host_header_decides_and_a_missing_one_is_refused() {
    let allowed = loopback();
    let get = |h: &HeaderMap| check(&allowed, &Method::GET, &Uri::from_static("/"), h);
    assert_eq!(code(get(&head(&[(header::HOST, "127.0.0.1:8080")]))), None);
    assert_eq!(code(get(&head(&[(header::HOST, "[::1]:8080")]))), None);
    assert_eq!(
        code(get(&head(&[(header::HOST, "evil.example:8080")]))),
        Some(ErrorCode::HostNotAllowed)
    );
    assert_eq!(
        code(get(&HeaderMap::new())),
        Some(ErrorCode::HostNotAllowed)
    );
    assert_eq!(
        code(get(&head(&[(header::HOST, "bad host")]))),
        Some(ErrorCode::HostNotAllowed)
    );
    // An absolute request line names its authority when there is no Host header.
    let absolute = Uri::from_static("http://localhost:8080/api/v1/status");
    assert_eq!(
        code(check(&allowed, &Method::GET, &absolute, &HeaderMap::new())),
        None
    );
}

#[test]
fn changes_need_a_same_site_origin_or_none() {
    let allowed = loopback();
    let post = |pairs: &[(header::HeaderName, &str)]| {
        let mut h = head(&[(header::HOST, "127.0.0.1:8080")]);
        for (k, v) in pairs {
            h.append(k, HeaderValue::from_str(v).expect("valid"));
        }
        code(check(
            &allowed,
            &Method::POST,
            &Uri::from_static("/sync"),
            &h,
        ))
    };
    assert_eq!(post(&[]), None, "no Origin: curl, scripts");
    assert_eq!(post(&[(header::ORIGIN, "http://127.0.0.1:8080")]), None);
    assert_eq!(
        post(&[(header::REFERER, "http://127.0.0.1:8080/status?x=1")]),
        None
    );
    for foreign in [
        "http://evil.example",
        "http://127.0.0.1:9090",
        "http://localhost:8080",
        "null",
        "file:///tmp/form.html",
    ] {
        assert_eq!(
            post(&[(header::ORIGIN, foreign)]),
            Some(ErrorCode::CrossSiteRequest),
            "{foreign}"
        );
    }
    assert_eq!(
        post(&[(header::REFERER, "http://evil.example/page")]),
        Some(ErrorCode::CrossSiteRequest)
    );
    // Origin wins over Referer.
    assert_eq!(
        post(&[
            (header::ORIGIN, "http://127.0.0.1:8080"),
            (header::REFERER, "http://evil.example/")
        ]),
        None
    );
    // Reads are not checked: a foreign page may link here.
    let h = head(&[
        (header::HOST, "127.0.0.1:8080"),
        (header::ORIGIN, "http://evil.example"),
    ]);
    assert_eq!(
        code(check(&allowed, &Method::GET, &Uri::from_static("/"), &h)),
        None
    );
}

#[test]
fn a_host_without_a_port_matches_the_default_port() {
    let host: Authority = "bridge.example.com".parse().expect("authority");
    assert!(same_origin("https://bridge.example.com", &host));
    assert!(same_origin("http://Bridge.Example.com/status", &host));
    assert!(!same_origin("https://bridge.example.com:8443", &host));
    let with_port: Authority = "bridge.example.com:443".parse().expect("authority");
    assert!(same_origin("https://bridge.example.com", &with_port));
    assert!(!same_origin("http://bridge.example.com", &with_port));
}
