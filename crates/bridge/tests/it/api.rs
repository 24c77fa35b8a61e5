//! The read API over real HTTP, against data the real syncs wrote from ibkr-sim: filters,
//! limits, unknown ids, bad parameters, the unmatched-leg arithmetic, the token, metrics.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::app::{AppOptions, TOKEN, TestApp, spawn_app};
use crate::helpers::{three_business_days_before_a_front_month, within};

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x["id"].as_i64().expect("id"))
        .collect()
}

/// The error a 4xx carries: (status, code, parameter).
async fn error_of(app: &TestApp, path: &str) -> (u16, String, Option<String>) {
    let (status, body) = app.get(path, None).await;
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (
        status,
        v["error"]["code"].as_str().expect("a code").to_owned(),
        v["error"]["parameter"].as_str().map(str::to_owned),
    )
}

/// The account id of `code` (the API never says it; the test asks the database).
async fn account_id(pool: &PgPool, code: &str) -> i32 {
    sqlx::query_scalar("SELECT id FROM accounts WHERE account = $1")
        .bind(code)
        .fetch_one(pool)
        .await
        .expect("account")
}

#[sqlx::test]
async fn spreads_come_with_their_legs_by_alias_never_by_account_code(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    let (status, body) = app.get("/api/v1/spreads", None).await;
    assert_eq!(status, 200, "{body}");
    for code in ["DU1234567", "DU7654321"] {
        assert!(!body.contains(code), "a raw account code leaked: {body}");
    }
    let spreads: Value = serde_json::from_str(&body).expect("json");
    let all = spreads.as_array().expect("array");
    assert_eq!(all.len(), 3);
    let world = app.sim.control().world();
    let local = |conid: i32| world.instrument(conid).expect("known").local_symbol.clone();
    let first = &all[0];
    assert_eq!(first["account"], "Account Alias 1");
    assert_eq!(first["symbol"], "CL");
    assert_eq!(
        first["legs_text"],
        format!("-1 {} / +1 {}", local(810000001), local(810000002)),
        "nearest expiry first, signed ratios"
    );
    assert_eq!(first["position"], 2.0);
    assert_eq!(first["legs"].as_array().expect("legs").len(), 2);
    assert_eq!(first["legs"][0]["position"], -2.0);
    assert!(first["last_synced_at"].is_string());

    let one = app.json(&format!("/api/v1/spreads/{}", first["id"])).await;
    assert_eq!(&one, first);
}

#[sqlx::test]
async fn spreads_speak_a_traders_language_name_price_expiry_and_greeks(pool: PgPool) {
    let (today, last) = three_business_days_before_a_front_month();
    let options = AppOptions {
        date: Some(today),
        ..AppOptions::default()
    };
    let app = spawn_app(pool.clone(), options).await;
    let all = app.json("/api/v1/spreads").await;
    let first = &all[0];
    let world = app.sim.control().world();
    let local = |conid: i32| world.instrument(conid).expect("known").local_symbol.clone();
    let (front, back) = (local(810000001), local(810000002));
    // `CLJ7` → `J7`: the codes name; the long name has the months (`CL Apr27/May27`).
    assert_eq!(
        first["label_codes"],
        format!("CL {}/{}", &front[2..], &back[2..])
    );
    let label = first["label"].as_str().expect("a label");
    assert!(
        label.starts_with("CL ") && label.len() == "CL Jan27/Feb27".len(),
        "{label}"
    );
    // Front leg: its last trade date, 3 business days left, within the warning.
    assert_eq!(first["front_last_trade_date"], last.to_string());
    assert_eq!(first["business_days_left"], 3);
    assert_eq!(first["expiring_soon"], true);
    // Price now: the legs' prices by their ratios; its change against the average price.
    let legs = first["legs"].as_array().expect("legs");
    let leg_price = |i: usize| legs[i]["market_price"].as_f64().expect("a leg price");
    let ratio = |i: usize| legs[i]["ratio"].as_f64().expect("a ratio");
    let price = first["price"].as_f64().expect("a price");
    assert!((price - (ratio(0) * leg_price(0) + ratio(1) * leg_price(1))).abs() < 1e-9);
    let avg = first["avg_price"].as_f64().expect("an average price");
    assert!((first["price_change"].as_f64().expect("a change") - (price - avg)).abs() < 1e-9);
    // A calendar of futures: the legs' deltas cancel.
    assert_eq!(first["greeks"]["delta"], 0.0, "{first}");

    // Searched by its name, in any case.
    let codes = first["label_codes"].as_str().unwrap().to_lowercase();
    let found = app
        .json(&format!("/api/v1/spreads?search={}", &codes[3..]))
        .await;
    assert!(
        ids(&found).contains(&first["id"].as_i64().unwrap()),
        "{found}"
    );
    assert_eq!(
        ids(&app.json("/api/v1/spreads?search=Zzz99").await).len(),
        0
    );
}

#[sqlx::test]
async fn a_leg_split_between_combos_and_a_remainder_adds_up_to_its_position(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    let first = account_id(&pool, "DU1234567").await;
    let positions = app
        .json(&format!("/api/v1/positions?account_id={first}&symbol=CL"))
        .await;
    let held = positions
        .as_array()
        .expect("positions")
        .iter()
        .find(|p| p["con_id"] == 810000001)
        .expect("CL month 1 held");
    let spreads = app
        .json(&format!("/api/v1/spreads?account_id={first}"))
        .await;
    let in_combos: Vec<&Value> = spreads
        .as_array()
        .expect("spreads")
        .iter()
        .flat_map(|s| s["legs"].as_array().expect("legs"))
        .filter(|l| l["con_id"] == 810000001)
        .collect();
    let unmatched = app
        .json(&format!(
            "/api/v1/spreads/unmatched-legs?account_id={first}"
        ))
        .await;
    let rest = unmatched
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["con_id"] == 810000001)
        .expect("the remainder");
    let cents = |v: &Value| (v.as_f64().expect("a number") * 100.0).round() as i64;
    let combos_pnl: i64 = in_combos.iter().map(|l| cents(&l["unrealized_pnl"])).sum();
    let combos_qty: f64 = in_combos
        .iter()
        .map(|l| l["position"].as_f64().unwrap())
        .sum();
    assert_eq!(
        combos_pnl + cents(&rest["unrealized_pnl"]),
        cents(&held["unrealized_pnl"]),
        "combos {in_combos:?} + remainder {rest} = position {held}"
    );
    assert_eq!(
        combos_qty + rest["position"].as_f64().unwrap(),
        held["position"].as_f64().unwrap()
    );
    assert!(rest["unreconciled"].is_null());
}

#[sqlx::test]
async fn spread_filters_and_limits(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    let second = account_id(&pool, "DU7654321").await;
    let by_account = app
        .json(&format!("/api/v1/spreads?account_id={second}"))
        .await;
    assert_eq!(ids(&by_account).len(), 1);
    assert_eq!(by_account[0]["account_id"], second);
    assert_eq!(ids(&app.json("/api/v1/spreads?limit=2").await).len(), 2);
    assert_eq!(ids(&app.json("/api/v1/spreads?symbol=cl").await).len(), 3);
    assert_eq!(ids(&app.json("/api/v1/spreads?symbol=ES").await).len(), 0);
    assert_eq!(ids(&app.json("/api/v1/spreads?symbol=*").await).len(), 3);

    // A combo closed at the gateway is stale after the next sync: hidden unless asked for.
    let world = app.sim.control().world();
    let name = world.combos("DU7654321", jiff::Timestamp::now())[0]
        .name
        .clone();
    world.close_combo("DU7654321", &name).expect("close");
    app.sync_combos().await;
    assert_eq!(ids(&app.json("/api/v1/spreads").await).len(), 2);
    let with_stale = app.json("/api/v1/spreads?include_stale=true").await;
    assert_eq!(ids(&with_stale).len(), 3);
    assert_eq!(
        with_stale
            .as_array()
            .expect("array")
            .iter()
            .filter(|s| s["stale"] == true)
            .count(),
        1
    );
}

#[sqlx::test]
async fn bad_parameters_name_themselves_and_unknown_ids_are_404(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    for (path, parameter) in [
        ("/api/v1/spreads?limit=0", "limit"),
        ("/api/v1/spreads?limit=1001", "limit"),
        ("/api/v1/spreads?account_id=first", "account_id"),
        ("/api/v1/spreads?include_stale=maybe", "include_stale"),
        ("/api/v1/spreads?acount_id=1", "acount_id"),
        ("/api/v1/spreads/abc", "spread_id"),
        ("/api/v1/spreads/unmatched-legs?limit=-1", "limit"),
        ("/api/v1/positions?limit=x", "limit"),
        ("/api/v1/greeks?from=yesterday", "from"),
        ("/api/v1/greeks?to=", "to"),
        ("/api/v1/greeks?from=2026-11-21T10:00Z", "from"),
        ("/api/v1/greeks?account_id=DU1234567", "account_id"),
        ("/api/v1/spreads?account_id=2147483648", "account_id"),
        ("/api/v1/spreads?account_id=0", "account_id"),
        ("/api/v1/spreads?limit=1&limit=2", "limit"),
        ("/api/v1/spreads?symbol=", "symbol"),
        ("/api/v1/jobs?status=done", "status"),
        ("/api/v1/jobs/0", "job_id"),
    ] {
        assert_eq!(
            error_of(&app, path).await,
            (400, "bad_parameter".into(), Some(parameter.into())),
            "{path}"
        );
    }
    for path in ["/api/v1/spreads/99999", "/api/v1/jobs/99999"] {
        assert_eq!(
            error_of(&app, path).await,
            (404, "not_found".into(), None),
            "{path}"
        );
    }
}

#[sqlx::test]
async fn a_control_character_in_a_parameter_is_a_bad_parameter(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    for (path, parameter) in [
        ("/api/v1/spreads?symbol=%00", "symbol"),
        ("/api/v1/spreads/unmatched-legs?symbol=%00", "symbol"),
        ("/api/v1/positions?symbol=CL%00", "symbol"),
        ("/api/v1/jobs?type=%00", "type"),
        ("/api/v1/greeks?contract=%00", "contract"),
        ("/api/v1/greeks?contract=%1B", "contract"),
    ] {
        assert_eq!(
            error_of(&app, path).await,
            (400, "bad_parameter".into(), Some(parameter.into())),
            "{path}"
        );
    }
    let (status, html) = app.get("/?symbol=%00", None).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("symbol"), "{html}");
}

#[sqlx::test]
async fn unmatched_legs_are_what_no_combo_of_the_same_account_explains(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    let first = account_id(&pool, "DU1234567").await;
    let legs = app
        .json(&format!(
            "/api/v1/spreads/unmatched-legs?account_id={first}"
        ))
        .await;
    let by_conid = |conid: i64| {
        legs.as_array()
            .expect("array")
            .iter()
            .find(|l| l["con_id"] == conid)
            .cloned()
    };
    // CL month 1: -3 held, -2 in a combo: -1 left over.
    let partly = by_conid(810000001).expect("partly covered leg");
    assert_eq!(
        (&partly["held"], &partly["in_combos"], &partly["position"]),
        (&json!(-3.0), &json!(-2.0), &json!(-1.0))
    );
    // CL month 2: +1 held, +2 in one combo and -1 in another: fully explained.
    assert!(
        by_conid(810000002).is_none(),
        "fully covered legs are absent"
    );
    // CL month 3: -1 held, in no combo of this account.
    assert_eq!(by_conid(810000003).expect("uncovered")["position"], -1.0);
    assert!(
        legs.as_array()
            .expect("array")
            .iter()
            .all(|l| l["symbol"] == "CL" && l["account_id"] == first)
    );
    // The other account's combo holds all of its month-3 leg.
    let second = account_id(&pool, "DU7654321").await;
    let theirs = app
        .json(&format!(
            "/api/v1/spreads/unmatched-legs?account_id={second}"
        ))
        .await;
    assert!(
        theirs
            .as_array()
            .expect("array")
            .iter()
            .all(|l| l["con_id"] != 810000003 && l["con_id"] != 810000006),
        "{theirs}"
    );
}

#[sqlx::test]
async fn positions_keep_the_existing_applications_shape(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    let (status, body) = app.get("/api/v1/positions?symbol=AAPL", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("DU1234567"));
    let rows: Value = serde_json::from_str(&body).expect("json");
    let stock = rows
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["con_id"] == 265598)
        .expect("AAPL stock")
        .clone();
    let fields: Vec<&str> = stock
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "id",
        "account_alias",
        "con_id",
        "symbol",
        "sec_type",
        "exchange",
        "primary_exchange",
        "currency",
        "local_symbol",
        "trading_class",
        "last_trade_date",
        "strike",
        "right",
        "multiplier",
        "position",
        "avg_cost",
        "fetched_at",
    ] {
        assert!(fields.contains(&field), "{field} missing from {stock}");
    }
    assert_eq!(stock["account_alias"], "Account Alias 1");
    assert_eq!(stock["position"], 100.0);
}

#[sqlx::test]
async fn an_alias_replaces_the_stand_in_everywhere(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    let accounts = app.json("/api/v1/accounts").await;
    assert_eq!(
        accounts,
        json!([
            {"id": 1, "alias": "Account Alias 1", "has_alias": false},
            {"id": 2, "alias": "Account Alias 2", "has_alias": false}
        ])
    );
    let patch = |id: &str, body: Value| {
        app.http
            .patch(app.url(&format!("/api/v1/accounts/{id}")))
            .json(&body)
            .send()
    };
    let renamed = patch("1", json!({"alias": "  Main  "}))
        .await
        .expect("patch");
    assert_eq!(renamed.status(), 200);
    assert_eq!(
        renamed.json::<Value>().await.expect("json"),
        json!({"id": 1, "alias": "Main", "has_alias": true})
    );
    assert_eq!(app.json("/api/v1/spreads").await[0]["account"], "Main");
    assert_eq!(
        app.json("/api/v1/positions").await[0]["account_alias"],
        "Main"
    );

    let too_long = patch("1", json!({"alias": "x".repeat(65)}))
        .await
        .expect("patch");
    assert_eq!(too_long.status(), 400);
    let not_json = app
        .http
        .patch(app.url("/api/v1/accounts/1"))
        .header("content-type", "application/json")
        .body("alias=Main")
        .send()
        .await
        .expect("patch");
    assert_eq!(not_json.status(), 400);
    // The alias must be there (null clears it): an empty object changes nothing.
    for body in [json!({}), json!({"alias": "x", "colour": "red"})] {
        let resp = patch("1", body.clone()).await.expect("patch");
        assert_eq!(resp.status(), 400, "{body}");
        let error: Value = resp.json().await.expect("json");
        assert_eq!(error["error"]["code"], "bad_parameter", "{body}");
    }
    assert_eq!(app.json("/api/v1/accounts").await[0]["alias"], "Main");
    assert_eq!(
        patch("99", json!({"alias": "x"}))
            .await
            .expect("patch")
            .status(),
        404
    );
    let cleared = patch("1", json!({"alias": null})).await.expect("patch");
    assert_eq!(
        cleared.json::<Value>().await.expect("json")["alias"],
        "Account Alias 1"
    );
}

#[sqlx::test]
async fn the_greeks_series_is_read_by_contract_and_range(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    for (i, contract) in [
        (0, "PORTFOLIO"),
        (1, "PORTFOLIO"),
        (2, "PORTFOLIO"),
        (1, "CL"),
    ] {
        sqlx::query(
            r#"INSERT INTO portfolio_greeks ("timestamp", contract, delta, gamma, vega, theta, underlying_price)
               VALUES ('2026-11-20T15:00:00Z'::timestamptz + make_interval(secs => $1 * 5), $2, $1, 0.1, 2, -3, NULL)"#,
        )
        .bind(f64::from(i))
        .bind(contract)
        .execute(&pool)
        .await
        .expect("row");
    }
    let range = "from=2026-11-20T14:59:00Z&to=2026-11-20T16:00:00Z";
    let all = app.json(&format!("/api/v1/greeks?{range}")).await;
    assert_eq!(all["contract"], "PORTFOLIO");
    let deltas: Vec<f64> = all["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["delta"].as_f64().expect("delta"))
        .collect();
    assert_eq!(deltas, [0.0, 1.0, 2.0], "oldest first");
    let newest = app.json(&format!("/api/v1/greeks?{range}&limit=1")).await;
    assert_eq!(newest["points"][0]["delta"], 2.0, "the newest when limited");
    let cl = app
        .json(&format!("/api/v1/greeks?contract=CL&{range}"))
        .await;
    assert_eq!(cl["points"].as_array().expect("points").len(), 1);
    assert_eq!(
        app.json("/api/v1/greeks?contract=CL&from=2026-11-20T15:00:06Z&to=2026-11-20T16:00:00Z")
            .await["points"],
        json!([])
    );
    // A range that ends before it starts holds nothing.
    assert_eq!(
        app.json("/api/v1/greeks?from=2026-11-20T16:00:00Z&to=2026-11-20T14:59:00Z")
            .await["points"],
        json!([])
    );
}

#[sqlx::test]
async fn one_accounts_greeks_are_read_by_its_id_and_shown_by_alias(pool: PgPool) {
    let app = spawn_app(pool.clone(), AppOptions::default()).await;
    let (first, second) = (
        account_id(&pool, "DU1234567").await,
        account_id(&pool, "DU7654321").await,
    );
    sqlx::query("UPDATE accounts SET alias = 'Hedges' WHERE id = $1")
        .bind(second)
        .execute(&pool)
        .await
        .expect("alias");
    // One tick: every account together (delta 3), then each account's own rows.
    for (account, delta) in [
        (None, 3.0),
        (Some("DU1234567"), 1.0),
        (Some("DU7654321"), 2.0),
    ] {
        sqlx::query(
            r#"INSERT INTO portfolio_greeks ("timestamp", account, contract, delta, gamma, vega, theta,
                   underlying_price, delta_dollars, gamma_dollars, vega_lt30, vega_30_90, vega_gt90,
                   theta_lt30, theta_30_90, theta_gt90)
               VALUES ('2026-11-20T15:00:00Z', $1, 'CL', $2, 10, 100 * $2, -5 * $2, 72, 72000 * $2,
                       512 * $2, 50 * $2, 50 * $2, 0, -2 * $2, -3 * $2, 0)"#,
        )
        .bind(account)
        .bind(delta)
        .execute(&pool)
        .await
        .expect("row");
    }
    let range = "contract=CL&from=2026-11-20T14:59:00Z&to=2026-11-20T16:00:00Z";

    let all = app.json(&format!("/api/v1/greeks?{range}")).await;
    assert_eq!(
        (&all["account_id"], &all["account"]),
        (&Value::Null, &Value::Null),
        "every account together"
    );
    assert_eq!(
        all["points"],
        json!([{
            "timestamp": "2026-11-20T15:00:00Z",
            "delta": 3.0, "gamma": 10.0, "vega": 300.0, "theta": -15.0,
            "underlying_price": 72.0,
            "delta_dollars": 216000.0, "gamma_dollars": 1536.0,
            "vega_lt30": 150.0, "vega_30_90": 150.0, "vega_gt90": 0.0,
            "theta_lt30": -6.0, "theta_30_90": -9.0, "theta_gt90": 0.0,
        }]),
        "the all-accounts rows only, with every figure"
    );

    for (id, alias, delta) in [
        (first, format!("Account Alias {first}"), 1.0),
        (second, "Hedges".to_owned(), 2.0),
    ] {
        let (status, body) = app
            .get(&format!("/api/v1/greeks?account_id={id}&{range}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        for code in ["DU1234567", "DU7654321"] {
            assert!(!body.contains(code), "a raw account code leaked: {body}");
        }
        let one: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(one["account_id"], id);
        assert_eq!(one["account"], alias.as_str());
        let points = one["points"].as_array().expect("points");
        assert_eq!(points.len(), 1, "{one}");
        assert_eq!(points[0]["delta"], delta, "that account's row: {one}");
        assert_eq!(points[0]["delta_dollars"], 72000.0 * delta);
    }

    assert_eq!(
        error_of(&app, &format!("/api/v1/greeks?account_id=99999&{range}")).await,
        (404, "not_found".into(), None),
        "an account that does not exist"
    );
}

#[sqlx::test]
async fn the_status_says_when_a_login_is_needed(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    let status = app.json("/api/v1/status").await;
    assert_eq!(status["client_portal"]["state"], "authenticated");
    assert_eq!(status["transport"]["mode"], "PORTAL");
    assert_eq!(status["attention"], json!([]));
    assert!(
        status["combos_synced_at"].is_null(),
        "synced outside the queue"
    );
    assert_eq!(status["spool"]["breaker"], "closed");

    app.sim.control().cp().expire();
    let mut session = app.session.clone();
    within(
        "the keeper noticing",
        session
            .wait_for(|s| s.state == portfolio_bridge::ibkr::portal::SessionState::ReauthRequired),
    )
    .await
    .expect("keeper");
    let status = app.json("/api/v1/status").await;
    assert_eq!(status["attention"][0]["kind"], "reauth");
    assert!(
        status["attention"][0]["message"]
            .as_str()
            .expect("message")
            .starts_with("Re-auth required: log in to the Client Portal Gateway at "),
        "{status}"
    );
}

#[sqlx::test]
async fn jobs_are_enqueued_once_and_listed(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    let post = |body: Value| app.http.post(app.url("/api/v1/jobs")).json(&body).send();
    let first = post(json!({"job_type": "combo_positions.sync"}))
        .await
        .expect("post");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["created"], true);
    assert_eq!(first["job"]["status"], "queued");
    assert_eq!(first["job"]["source"], "api");
    let again = post(json!({"job_type": "combo_positions.sync"}))
        .await
        .expect("post");
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.expect("json");
    assert_eq!(
        (&again["created"], &again["job"]["id"]),
        (&json!(false), &first["job"]["id"])
    );
    let unknown = post(json!({"job_type": "contracts.sync"}))
        .await
        .expect("post");
    assert_eq!(unknown.status(), 400);

    let listed = app.json("/api/v1/jobs?type=combo_positions.sync").await;
    assert_eq!(ids(&listed), [first["job"]["id"].as_i64().expect("id")]);
    let one = app
        .json(&format!("/api/v1/jobs/{}", first["job"]["id"]))
        .await;
    assert_eq!(one["job_type"], "combo_positions.sync");
}

#[sqlx::test]
async fn with_a_token_every_call_and_page_needs_it(pool: PgPool) {
    let app = spawn_app(
        pool,
        AppOptions {
            token: true,
            ..AppOptions::default()
        },
    )
    .await;
    let (status, body) = app.get("/api/v1/spreads", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"code\":\"unauthorized\""), "{body}");
    assert_eq!(
        app.get("/api/v1/spreads", Some("wrong-token-000000"))
            .await
            .0,
        401
    );
    assert_eq!(app.get("/api/v1/spreads", Some(TOKEN)).await.0, 200);
    assert_eq!(app.get("/metrics", None).await.0, 401);
    assert_eq!(app.get("/api/openapi.json", None).await.0, 401);
    assert_eq!(
        app.get("/healthz", None).await.0,
        200,
        "liveness stays open"
    );

    let page = app
        .http
        .get(app.url("/greeks?hours=2"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"],
        "/login?next=%2Fgreeks%3Fhours%3D2"
    );
    let login = |token: &str| {
        app.http
            .post(app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", token)
                    .append_pair("next", "/greeks?hours=2")
                    .finish(),
            )
            .send()
    };
    assert_eq!(login("not-it").await.expect("login").status(), 401);
    let signed_in = login(TOKEN).await.expect("login");
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/greeks?hours=2");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    assert!(
        signed_in.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("HttpOnly")
    );
    let page = app
        .http
        .get(app.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("Native Combo"));
}

#[sqlx::test]
async fn without_a_token_the_api_is_open(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    for path in [
        "/api/v1/spreads",
        "/api/v1/accounts",
        "/metrics",
        "/api/openapi.json",
        "/",
    ] {
        assert_eq!(app.get(path, None).await.0, 200, "{path}");
    }
}

#[sqlx::test]
async fn metrics_count_requests_by_route_and_jobs_by_status(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    app.json("/api/v1/spreads/1").await;
    app.get("/api/v1/spreads/99999", None).await;
    let (status, text) = app.get("/metrics", None).await;
    assert_eq!(status, 200);
    for expected in [
        r#"portfolio_bridge_http_request_duration_seconds_count{method="GET",route="/api/v1/spreads/{spread_id}",status="200"} 1"#,
        r#"portfolio_bridge_http_request_duration_seconds_count{method="GET",route="/api/v1/spreads/{spread_id}",status="404"} 1"#,
        "portfolio_bridge_breaker_open 0",
        "portfolio_bridge_portal_authenticated 1",
        "# TYPE portfolio_bridge_jobs gauge",
        "portfolio_bridge_feed_connected 1",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
}

#[sqlx::test]
async fn every_documented_route_is_served(pool: PgPool) {
    let app = spawn_app(pool, AppOptions::default()).await;
    let doc = app.json("/api/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(|method| (method.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(routes.len(), 14, "{routes:?}");
    for (method, path) in routes {
        let concrete = path
            .replace("{spread_id}", "1")
            .replace("{account_id}", "1")
            .replace("{job_id}", "1");
        let req = match method.as_str() {
            "get" => app.http.get(app.url(&concrete)),
            "post" => app
                .http
                .post(app.url(&concrete))
                .json(&json!({"job_type": "positions.sync"})),
            "patch" => app
                .http
                .patch(app.url(&concrete))
                .json(&json!({"alias": null})),
            other => panic!("{other}"),
        };
        let status = req.send().await.expect("answer").status().as_u16();
        assert!(
            status != 404 || concrete.contains("/jobs/1"),
            "{method} {concrete}: {status}"
        );
        assert_ne!(status, 405, "{method} {concrete}");
    }
}

#[sqlx::test]
async fn a_long_greeks_window_is_read_whole_at_a_charts_resolution(pool: PgPool) {
    use portfolio_bridge::store::greeks::{Resolution, Whose, series_binned, series_of};
    // 40 hours at 5 s, with the bridge stopped for 2 hours in the middle, rolled up into
    // minutes (stretches of a minute or more are read from the rollups).
    sqlx::raw_sql(
        r#"INSERT INTO portfolio_greeks ("timestamp", contract, delta, gamma, vega, theta)
           SELECT now() - make_interval(secs => n * 5), 'PORTFOLIO', n, 0, 0, 0
             FROM generate_series(0, 28800) AS n
            WHERE n NOT BETWEEN 10000 AND 11440;
           INSERT INTO greeks_rollup_pending (lo, hi)
           SELECT min("timestamp"), max("timestamp") FROM portfolio_greeks"#,
    )
    .execute(&pool)
    .await
    .expect("rows");
    portfolio_bridge::store::history::roll_up_pending(&pool)
        .await
        .expect("rolled up");
    let to = jiff::Timestamp::now();
    let from = to
        .saturating_sub(jiff::SignedDuration::from_hours(72))
        .expect("in range");
    let bucket = std::time::Duration::from_secs(72 * 3600 / 2000);
    // Rows from before bridges had names are every bridge's.
    let anyone = portfolio_bridge::domain::ids::BridgeName::parse("any").expect("valid");
    let points = series_binned(
        &pool,
        (Whose::AllAccounts(&anyone), Resolution::Minute),
        "PORTFOLIO",
        from,
        to,
        bucket,
    )
    .await
    .expect("binned");
    assert!(
        points.len() <= 2000 && points.len() > 900,
        "{}",
        points.len()
    );
    // The oldest row's stretch is there: the window is drawn whole, not its newest 20,000 rows.
    let oldest = points.first().expect("points").timestamp;
    assert!(to.duration_since(oldest).as_hours() >= 39, "{oldest}");
    let capped = series_of(
        &pool,
        (Whose::AllAccounts(&anyone), Resolution::Raw),
        "PORTFOLIO",
        from,
        to,
        20_000,
    )
    .await
    .expect("capped");
    assert!(
        to.duration_since(capped[0].timestamp).as_hours() < 39,
        "the newest 20,000 rows stop short"
    );
    // The two hours without rows are still a gap between two points.
    let widest = points
        .windows(2)
        .map(|w| w[1].timestamp.duration_since(w[0].timestamp).as_mins())
        .max()
        .expect("pairs");
    assert!(widest >= 115, "{widest} min");
}
