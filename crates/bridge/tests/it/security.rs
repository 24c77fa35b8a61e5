//! The edge and the sign-in over real HTTP: the `Host` and `Origin` checks (DNS rebinding,
//! cross-site forms), where sign-in sends you back to, the bearer scheme, the session cookie
//! and the sign-in rate limit.

use serde_json::Value;
use sqlx::PgPool;

use crate::app::{AppOptions, TOKEN, TestApp, spawn_app};

/// `(status, error code)` of a response.
async fn refusal(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp.text().await.expect("body");
    let code = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("(no code) {}", body.chars().take(200).collect::<String>()));
    (status, code)
}

/// GETs `path` with `Host: host`.
async fn get_as(app: &TestApp, path: &str, host: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header("host", host)
        .send()
        .await
        .expect("the app answers")
}

#[sqlx::test]
async fn a_page_that_rebinds_its_name_to_the_bridge_is_refused(pool: PgPool) {
    let app = spawn_app(
        pool,
        AppOptions {
            allowed_hosts: vec!["trading-pc.local"],
            ..AppOptions::default()
        },
    )
    .await;
    let port = app.addr.port();
    for path in ["/api/v1/positions", "/", "/api/v1/status", "/healthz"] {
        let resp = get_as(&app, path, &format!("evil.example:{port}")).await;
        assert_eq!(
            refusal(resp).await,
            (421, "host_not_allowed".to_owned()),
            "{path}"
        );
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.1".to_owned(),
        format!("Trading-PC.local:{port}"),
    ] {
        let resp = get_as(&app, "/api/v1/positions", &host).await;
        assert_eq!(resp.status(), 200, "{host}");
    }
}

#[sqlx::test]
async fn a_form_on_another_site_cannot_change_anything(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    let own = format!("http://{}", app.addr);
    let post = |path: &'static str, header: Option<(&'static str, String)>| {
        let mut req = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        req.send()
    };
    let jobs = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs")
            .fetch_one(&app.pool)
            .await
            .expect("count")
    };
    let before = jobs().await;
    for (name, value) in [
        ("origin", "http://evil.example".to_owned()),
        ("origin", "null".to_owned()),
        ("referer", "http://evil.example/trap.html".to_owned()),
    ] {
        let resp = post("/sync", Some((name, value.clone())))
            .await
            .expect("post");
        assert_eq!(
            refusal(resp).await,
            (403, "cross_site_request".to_owned()),
            "{name}: {value}"
        );
    }
    assert_eq!(jobs().await, before, "nothing was enqueued");
    let api = app
        .http
        .post(app.url("/api/v1/jobs"))
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"job_type": "positions.sync"}))
        .send()
        .await
        .expect("post");
    assert_eq!(refusal(api).await, (403, "cross_site_request".to_owned()));

    // The bridge's own page, and clients that send no Origin (curl, scripts), may.
    let same = post("/sync", Some(("origin", own.clone())))
        .await
        .expect("post");
    assert_eq!(same.status(), 303);
    let referred = post("/sync", Some(("referer", format!("{own}/status"))))
        .await
        .expect("post");
    assert_eq!(referred.status(), 303);
    assert_eq!(post("/sync", None).await.expect("post").status(), 303);
    assert!(jobs().await > before);
}

/// POSTs the sign-in form with `token` and `next`.
async fn sign_in(
    app: &TestApp,
    token: &str,
    next: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", token)
                .append_pair("next", next)
                .finish(),
        );
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    req.send().await.expect("the app answers")
}

fn with_token() -> AppOptions {
    AppOptions {
        token: true,
        ..AppOptions::default()
    }
}

#[sqlx::test]
async fn sign_in_sends_you_back_to_this_site_only(pool: PgPool) {
    let app = spawn_app(pool, with_token()).await;
    for (next, expected) in [
        ("/greeks?hours=2", "/greeks?hours=2"),
        ("/\t/evil.com", "/"),
        ("/\\evil.com", "/"),
        ("//evil.com", "/"),
        ("https://evil.com/", "/"),
        ("/\r\n/evil.com", "/"),
        ("/status\r\nSet-Cookie: pb_session=x", "/"),
    ] {
        let resp = sign_in(&app, TOKEN, next, &[]).await;
        assert_eq!(resp.status(), 303, "{next:?}");
        assert_eq!(resp.headers()["location"], expected, "{next:?}");
    }
    // The form carries `next` through a failed attempt, made safe too.
    let (status, html) = app.get("/login?next=%2F%09%2Fevil.com", None).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"name="next" value="/""#), "{html}");
}

#[sqlx::test]
async fn the_bearer_scheme_is_case_insensitive(pool: PgPool) {
    let app = spawn_app(pool, with_token()).await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let resp = app
            .http
            .get(app.url("/api/v1/accounts"))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .expect("answer");
        assert_eq!(resp.status(), 200, "{scheme}");
    }
}

#[sqlx::test]
async fn the_session_cookie_ends_and_is_secure_behind_a_tls_proxy(pool: PgPool) {
    let app = spawn_app(pool, with_token()).await;
    let cookie_of = |resp: &reqwest::Response| {
        resp.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    let plain = sign_in(&app, TOKEN, "/", &[]).await;
    let cookie = cookie_of(&plain);
    assert!(
        cookie.contains("; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    // A TLS-terminating proxy on this machine says the browser used https.
    let proxied = sign_in(&app, TOKEN, "/", &[("x-forwarded-proto", "https")]).await;
    assert!(cookie_of(&proxied).ends_with("; Secure"));
}

#[sqlx::test]
async fn wrong_tokens_are_limited(pool: PgPool) {
    let app = spawn_app(pool, with_token()).await;
    for attempt in 1..=5 {
        let resp = sign_in(&app, "wrong-token-0000000", "/", &[]).await;
        assert_eq!(resp.status(), 401, "attempt {attempt}");
    }
    for token in ["wrong-token-0000000", TOKEN] {
        let resp = sign_in(&app, token, "/", &[]).await;
        assert_eq!(resp.status(), 429, "{token}");
        let wait: u64 = resp.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=300).contains(&wait), "{wait}");
        let html = resp.text().await.expect("html");
        assert!(html.contains("Too many wrong tokens"), "{html}");
    }
    // The API's bearer token is not throttled: scripts keep working.
    assert_eq!(app.get("/api/v1/accounts", Some(TOKEN)).await.0, 200);
}
