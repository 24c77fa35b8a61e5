//! Client Portal faults injected through the control handle.

use std::time::{Duration, Instant};

use ibkr_sim::cp::{Fault, FaultKind};
use reqwest::StatusCode;

use crate::helpers::{http, start};

fn fault(path: &str, kind: FaultKind, count: Option<u32>) -> Fault {
    Fault {
        path: path.into(),
        kind,
        count,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_faults_hit_their_endpoint_for_their_count() {
    let sim = start().await;
    let client = http();
    let url = |p: &str| format!("{}{p}", sim.cp_url());
    // IBKR's 503 comes when the gateway gives up on a request (10 s by default); here after
    // 300 ms, which the answer must not beat.
    sim.control().cp().add_fault(fault(
        "/portfolio",
        FaultKind::Status {
            status: 503,
            millis: Some(300),
        },
        Some(2),
    ));
    for _ in 0..2 {
        let asked = std::time::Instant::now();
        let resp = client
            .get(url("/portfolio/accounts"))
            .send()
            .await
            .expect("answer");
        assert!(asked.elapsed() >= std::time::Duration::from_millis(300));
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.text().await.expect("body"),
            "",
            "IBKR's 503 has an empty body"
        );
    }
    // Other endpoints were never affected, and the count is used up.
    assert_eq!(
        client
            .get(url("/iserver/accounts"))
            .send()
            .await
            .expect("answer")
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        client
            .get(url("/portfolio/accounts"))
            .send()
            .await
            .expect("answer")
            .status(),
        StatusCode::OK
    );

    sim.control().cp().add_fault(fault(
        "/iserver/accounts",
        FaultKind::Status {
            status: 500,
            millis: None,
        },
        None,
    ));
    for _ in 0..3 {
        let resp = client
            .get(url("/iserver/accounts"))
            .send()
            .await
            .expect("answer");
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    sim.control().cp().clear_faults();
    assert_eq!(
        client
            .get(url("/iserver/accounts"))
            .send()
            .await
            .expect("answer")
            .status(),
        StatusCode::OK
    );

    sim.control().cp().add_fault(fault(
        "",
        FaultKind::Status {
            status: 429,
            millis: None,
        },
        Some(1),
    ));
    let resp = client
        .post(url("/tickle"))
        .header("Content-Length", "0")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_answers_late_but_correctly() {
    let sim = start().await;
    sim.control().cp().add_fault(fault(
        "/portfolio/accounts",
        FaultKind::Delay { millis: 400 },
        Some(1),
    ));
    let started = Instant::now();
    let resp = http()
        .get(format!("{}/portfolio/accounts", sim.cp_url()))
        .send()
        .await
        .expect("answer");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(resp.status(), StatusCode::OK);
    let accounts: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(accounts.as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_wrong_shape_payloads() {
    let sim = start().await;
    let client = http();
    let url = |p: &str| format!("{}{p}", sim.cp_url());
    client
        .get(url("/portfolio/accounts"))
        .send()
        .await
        .expect("answer");
    let combos = "/portfolio/DU1234567/combo/positions";
    sim.control()
        .cp()
        .add_fault(fault(combos, FaultKind::Malformed, Some(1)));
    let resp = client.get(url(combos)).send().await.expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.expect("body");
    assert!(
        !body.is_empty() && serde_json::from_str::<serde_json::Value>(&body).is_err(),
        "{body}"
    );

    sim.control()
        .cp()
        .add_fault(fault(combos, FaultKind::WrongShape, Some(1)));
    let shape: serde_json::Value = client
        .get(url(combos))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert!(
        shape.is_object(),
        "an object where an array belongs: {shape}"
    );

    let fine: serde_json::Value = client
        .get(url(combos))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert!(fine.is_array());
}
