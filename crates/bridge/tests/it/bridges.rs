//! Several bridges on one database, as the real processes: each with its own simulator and
//! `BRIDGE_NAME`, every bridge's rows stored at each tick, and a bridge started with a name a
//! running one holds refused.

use sqlx::PgPool;

use crate::helpers::{Bridge, database_url_of, eventually, exited, sim_config, start_sim, stop};

fn named(name: &str, sim: &ibkr_sim::Simulator, url: &str, dir: &std::path::Path) -> Bridge {
    Bridge::new()
        .env("BRIDGE_NAME", name)
        .env("DATABASE_URL", url)
        .env("IB_SOCKET_ADDR", &sim.tws_addr().to_string())
        .env("GREEKS_INTERVAL_SECONDS", "0.25")
        .env("BUFFER_FLUSH_INTERVAL_SECONDS", "0.5")
        .env(
            "BRIDGE_BUFFER_PATH",
            dir.join(format!("{name}.jsonl")).to_str().expect("utf-8"),
        )
}

/// Ticks at which every one of `bridges` stored its all-accounts `PORTFOLIO` row, and the
/// most rows any bridge stored for one tick.
async fn shared_ticks(pool: &PgPool, bridges: &[&str]) -> (i64, i64) {
    sqlx::query_as(
        r#"SELECT count(*) FILTER (WHERE n = cardinality($1::text[])),
                  COALESCE(max(most), 0)
             FROM (SELECT count(DISTINCT bridge) AS n,
                          max(per_bridge) AS most
                     FROM (SELECT "timestamp", bridge, count(*) AS per_bridge
                             FROM portfolio_greeks
                            WHERE contract = 'PORTFOLIO' AND account IS NULL
                              AND bridge = ANY($1)
                            GROUP BY "timestamp", bridge) b
                    GROUP BY "timestamp") t"#,
    )
    .bind(bridges)
    .fetch_one(pool)
    .await
    .expect("the tick count")
}

#[sqlx::test]
async fn two_bridges_store_every_row_of_both_and_a_third_with_a_taken_name_is_refused(
    pool: PgPool,
) {
    let url = database_url_of(&pool).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (home_sim, family_sim) = (start_sim(sim_config()).await, start_sim(sim_config()).await);
    let home = named("home", &home_sim, &url, dir.path()).spawn(&["run"]);
    let family = named("family", &family_sim, &url, dir.path()).spawn(&["run"]);
    let home_at = home.served_at().await;

    // Before names, the second bridge's row of a tick had the first's key: dropped as a copy.
    eventually("three ticks with both bridges' PORTFOLIO rows", || async {
        shared_ticks(&pool, &["home", "family"]).await.0 >= 3
    })
    .await;
    let (_, most) = shared_ticks(&pool, &["home", "family"]).await;
    assert_eq!(most, 1, "no bridge stored a tick's row twice");
    let logs: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT bridge FROM api_logs WHERE bridge IS NOT NULL ORDER BY bridge",
    )
    .fetch_all(&pool)
    .await
    .expect("api_logs");
    assert_eq!(
        logs,
        ["family", "home"],
        "each bridge's own api_logs entries"
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let status: serde_json::Value = reqwest::get(format!("http://{home_at}/api/v1/status"))
        .await
        .expect("the status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["bridge"], "home");

    // Each bridge's all-accounts series is its own: before, the two bridges' rows interleaved
    // (two points a tick); another bridge's is there for the asking.
    for (asked, want) in [("", "home"), ("&bridge=family", "family")] {
        let series: serde_json::Value = reqwest::get(format!(
            "http://{home_at}/api/v1/greeks?contract=PORTFOLIO{asked}"
        ))
        .await
        .expect("the series")
        .json()
        .await
        .expect("json");
        assert_eq!(series["bridge"], want);
        let times: Vec<&str> = series["points"]
            .as_array()
            .expect("points")
            .iter()
            .filter_map(|p| p["timestamp"].as_str())
            .collect();
        let distinct: std::collections::BTreeSet<&&str> = times.iter().collect();
        assert!(times.len() >= 3, "{series}");
        assert_eq!(distinct.len(), times.len(), "one point a tick: {series}");
    }
    let bad = reqwest::get(format!("http://{home_at}/api/v1/greeks?bridge=a:b"))
        .await
        .expect("an answer");
    assert_eq!(bad.status(), 400);

    // A third bridge given a name a running bridge holds stops, saying why and what to do
    // (a spool of its own: two bridges never share one).
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let again = named("home", &family_sim, &url, elsewhere.path()).spawn(&["run"]);
    let (code, stderr) = exited(again, "a taken name").await;
    assert!(!code.success(), "{stderr}");
    assert!(
        stderr.contains("another bridge named home is running on this database")
            && stderr.contains("BRIDGE_NAME"),
        "{stderr}"
    );
    let (ticks_before, _) = shared_ticks(&pool, &["home", "family"]).await;
    eventually("the first two still writing", || async {
        shared_ticks(&pool, &["home", "family"]).await.0 > ticks_before
    })
    .await;

    // A clean stop gives the name up: a restart takes it at once.
    let (code, stderr) = stop(home, "TERM").await;
    assert!(code.success(), "{stderr}");
    let back = named("home", &home_sim, &url, dir.path()).spawn(&["run"]);
    back.wait_for_stderr("schema ready").await;
    let held: String = sqlx::query_scalar(
        "SELECT status FROM worker_heartbeats WHERE worker_type = 'portfolio-bridge:home'",
    )
    .fetch_one(&pool)
    .await
    .expect("the heartbeat row");
    assert_eq!(held, "running");
    drop((back, family));
}
