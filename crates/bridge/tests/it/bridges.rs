//! Several bridges on one database, as the real processes: each with its own simulator and
//! `BRIDGE_NAME`, every bridge's rows stored at each tick, and a bridge started with a name a
//! running one holds refused.

use sqlx::PgPool;

use crate::helpers::{
    Bridge, database_url_of, eventually, exited, rows_made, sim_config, spooled_keys, start_sim,
    stop, stored_once, until_spool_empty,
};

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
    // Both bridges together: at a tick, home's delta plus family's.
    let get = |q: &'static str| {
        let url = format!("http://{home_at}/api/v1/greeks?contract=PORTFOLIO{q}");
        async move {
            reqwest::get(url)
                .await
                .expect("the series")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let both = get("&all_bridges=true").await;
    let (home_series, family_series) = (get("").await, get("&bridge=family").await);
    assert_eq!(both["bridge"], "");
    let delta_at = |series: &serde_json::Value, at: &serde_json::Value| {
        series["points"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| &p["timestamp"] == at))
            .and_then(|p| p["delta"].as_f64())
    };
    let merged = both["points"].as_array().expect("merged points");
    assert!(!merged.is_empty(), "{both}");
    // (Read first, so every merged tick is in both later reads; a tick before one bridge's
    // first row has the other's alone.)
    for p in merged {
        let at = &p["timestamp"];
        let (h, f) = (delta_at(&home_series, at), delta_at(&family_series, at));
        assert!(h.is_some() || f.is_some(), "{at}");
        let sum = h.unwrap_or(0.0) + f.unwrap_or(0.0);
        assert_eq!(p["delta"].as_f64(), Some(sum), "{at}");
    }
    // The page chooses the same way: this bridge by default, another, or all of them.
    let page = |q: &'static str| {
        let url = format!("http://{home_at}/greeks{q}");
        async move {
            let answer = reqwest::get(url).await.expect("the page");
            assert_eq!(answer.status(), 200);
            answer.text().await.expect("html")
        }
    };
    let own = page("").await;
    assert!(
        own.contains(r#"<option value="" selected>home (this bridge)</option>"#)
            && own.contains(r#"<option value="family" >family</option>"#)
            && own.contains("<h2>PORTFOLIO"),
        "{own}"
    );
    let all = page("?bridge=*").await;
    assert!(
        all.contains(r#"<option value="*" selected>All bridges</option>"#)
            && all.contains("<h2>PORTFOLIO"),
        "{all}"
    );
    let other = page("?bridge=family").await;
    assert!(
        other.contains(r#"<option value="family" selected>family</option>"#),
        "{other}"
    );
    let bad = reqwest::get(format!("http://{home_at}/greeks?bridge=a%3Ab"))
        .await
        .expect("an answer");
    assert_eq!(bad.status(), 400);
    assert!(
        bad.text()
            .await
            .expect("html")
            .contains("neither a bridge name")
    );

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

/// The tick times (ms) of `bridge`'s all-accounts `PORTFOLIO` rows, in order.
async fn ticks_of(pool: &PgPool, bridge: &str) -> Vec<i64> {
    sqlx::query_scalar(
        r#"SELECT (extract(epoch FROM "timestamp") * 1000)::bigint FROM portfolio_greeks
            WHERE contract = 'PORTFOLIO' AND account IS NULL AND bridge = $1
            ORDER BY "timestamp""#,
    )
    .bind(bridge)
    .fetch_all(pool)
    .await
    .expect("ticks")
}

/// How many greeks rows of `bridge` are stored.
async fn rows_of(pool: &PgPool, bridge: &str) -> usize {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM portfolio_greeks WHERE bridge = $1")
        .bind(bridge)
        .fetch_one(pool)
        .await
        .expect("count");
    usize::try_from(n).expect("a count")
}

/// The issue's proof: three bridges, each with its own simulator, into one database. One of
/// them cannot reach PostgreSQL (a wrong port), fills its spool, is killed outright and
/// restarted with the right URL: its spooled rows are stored once, and the two others never
/// miss a tick meanwhile.
#[sqlx::test]
async fn three_bridges_one_killed_with_its_spool_full_lose_and_duplicate_nothing(pool: PgPool) {
    let url = database_url_of(&pool).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sims = [
        start_sim(sim_config()).await,
        start_sim(sim_config()).await,
        start_sim(sim_config()).await,
    ];
    let home = named("home", &sims[0], &url, dir.path()).spawn(&["run"]);
    let family = named("family", &sims[1], &url, dir.path()).spawn(&["run"]);
    // A port nobody listens on: the office bridge spools everything.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let unreachable = format!("postgres://postgres@127.0.0.1:{}/none", closed.port());
    let office = named("office", &sims[2], &unreachable, dir.path());
    let spool = dir.path().join("office.jsonl");
    let running = office.spawn(&["run"]);
    eventually("the office spool holding 8 ticks", || async {
        spooled_keys(&spool)
            .iter()
            .filter(|k| k.ends_with(":PORTFOLIO"))
            .count()
            >= 8
    })
    .await;
    running.kill().await;
    let kept = spooled_keys(&spool);

    let again = named("office", &sims[2], &url, dir.path()).spawn(&["run"]);
    until_spool_empty(&spool).await;
    stored_once(&pool, &kept).await;
    let restarted = *ticks_of(&pool, "office")
        .await
        .last()
        .expect("office's rows");
    eventually("three ticks of office after its restart", || async {
        ticks_of(&pool, "office")
            .await
            .iter()
            .filter(|t| **t > restarted)
            .count()
            >= 3
    })
    .await;
    let last = *ticks_of(&pool, "office")
        .await
        .last()
        .expect("office's rows");
    eventually("home and family past office's last tick", || async {
        let mut past = true;
        for b in ["home", "family"] {
            past &= ticks_of(&pool, b).await.last().is_some_and(|t| *t > last);
        }
        past
    })
    .await;

    // Every row each bridge made is stored, once: what its closing account counts.
    for (b, running) in [("home", home), ("family", family)] {
        let (code, stderr) = stop(running, "TERM").await;
        assert!(code.success(), "{stderr}");
        assert_eq!(rows_of(&pool, b).await, rows_made(&stderr), "{b}");
    }
    let (code, stderr) = stop(again, "TERM").await;
    assert!(code.success(), "{stderr}");
    assert_eq!(
        rows_of(&pool, "office").await,
        kept.len() + rows_made(&stderr),
        "office: what the killed run spooled and what the restarted one made"
    );
    let (every, most) = shared_ticks(&pool, &["home", "family", "office"]).await;
    assert!(every >= 3, "ticks with all three bridges' rows: {every}");
    assert_eq!(most, 1, "no bridge stored a tick's row twice");
}

/// Every bridge together: a tick's point sums each bridge's all-accounts row; a bridge is
/// expected from its first row to its last, so a tick it missed has no point (a partial sum
/// would pass for the whole) while the ticks before it started are complete without it; a
/// figure one bridge does not know is unknown; rows from before names count as one bridge.
#[sqlx::test]
async fn every_bridge_together_sums_complete_ticks_only(pool: PgPool) {
    use portfolio_bridge::store::greeks::{Resolution, Whose, series_of};
    let t0 = 1_790_000_000_000_i64;
    // (tick, bridge, delta, delta_dollars)
    let rows: [(i64, Option<&str>, f64, Option<f64>); 9] = [
        (0, None, 1.0, Some(1.0)),
        (1, None, 1.0, Some(1.0)),
        (2, Some("a"), 10.0, Some(100.0)),
        (3, Some("a"), 10.0, Some(100.0)),
        (4, Some("a"), 10.0, Some(100.0)),
        (5, Some("a"), 10.0, Some(100.0)),
        (3, Some("b"), 20.0, Some(5.0)),
        // b missed tick 4.
        (5, Some("b"), 20.0, None),
        (5, Some("other-contract-b"), 99.0, None),
    ];
    for (i, (tick, bridge, delta, dollars)) in rows.iter().enumerate() {
        let contract = if i == 8 { "CL" } else { "PORTFOLIO" };
        sqlx::query(
            r#"INSERT INTO portfolio_greeks ("timestamp", contract, delta, gamma, vega, theta,
                                             delta_dollars, bridge, row_key)
               VALUES (to_timestamp($1::double precision / 1000), $2, $3, 0, 0, 0, $4, $5, $6)"#,
        )
        .bind(t0 + tick * 5000)
        .bind(contract)
        .bind(delta)
        .bind(dollars)
        .bind(bridge)
        .bind(format!("k{i}"))
        .execute(&pool)
        .await
        .expect("a row");
    }
    let at = |tick: i64| jiff::Timestamp::from_millisecond(t0 + tick * 5000).expect("valid");
    let points = series_of(
        &pool,
        (Whose::AllBridges, Resolution::Raw),
        "PORTFOLIO",
        at(0),
        at(5),
        100,
    )
    .await
    .expect("the merged series");
    let got: Vec<(i64, Option<f64>, Option<f64>)> = points
        .iter()
        .map(|p| {
            (
                (p.timestamp.as_millisecond() - t0) / 5000,
                p.delta,
                p.delta_dollars,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, Some(1.0), Some(1.0)),
            (1, Some(1.0), Some(1.0)),
            (2, Some(10.0), Some(100.0)),
            (3, Some(30.0), Some(105.0)),
            (5, Some(30.0), None),
        ]
    );
}
