//! The edge and the sign-in over real HTTP: the `Host` and `Origin` checks (DNS rebinding,
//! cross-site forms), where sign-in sends you back to, the bearer scheme, the session cookie
//! and the sign-in rate limit.

use serde_json::Value;
use sqlx::PgPool;

use crate::app::{AppOptions, TestApp, spawn_app};

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
