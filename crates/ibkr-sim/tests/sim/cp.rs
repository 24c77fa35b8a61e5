//! The Client Portal side through a plain HTTPS client: every endpoint's shape and value
//! types, the session model and pacing.

use std::time::Duration;

use ibkr_sim::Simulator;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{config, http, start, start_with};

struct Cp {
    base: String,
    client: reqwest::Client,
}

impl Cp {
    fn new(sim: &Simulator) -> Cp {
        Cp {
            base: sim.cp_url(),
            client: http(),
        }
    }

    async fn call(&self, method: Method, path: &str) -> (StatusCode, String) {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if method == Method::POST {
            req = req.header("Content-Type", "application/json").body("{}");
        }
        let resp = req.send().await.expect("the gateway answers");
        (resp.status(), resp.text().await.expect("a body"))
    }

    async fn json(&self, method: Method, path: &str) -> Value {
        let (status, body) = self.call(method, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    async fn get(&self, path: &str) -> Value {
        self.json(Method::GET, path).await
    }

    async fn post(&self, path: &str) -> Value {
        self.json(Method::POST, path).await
    }
}

fn is_int(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_uses_a_self_signed_certificate_a_verifying_client_refuses() {
    let mut cfg = config();
    cfg.cp.tls = true;
    let sim = start_with(cfg).await;
    assert!(sim.cp_url().starts_with("https://"));
    let verifying = reqwest::Client::builder().build().expect("client");
    let err = verifying
        .get(format!("{}/portfolio/accounts", sim.cp_url()))
        .send()
        .await;
    assert!(
        err.is_err(),
        "a verifying client must refuse the gateway's certificate"
    );
    let tickle = Cp::new(&sim).post("/tickle").await;
    assert_eq!(tickle["iserver"]["authStatus"]["authenticated"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_endpoints_have_ibkrs_shapes() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    let t = cp.post("/tickle").await;
    let session = t["session"].as_str().expect("session string");
    assert_eq!(session.len(), 32);
    assert!(session.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(is_int(&t["ssoExpires"]) && t["collission"] == false && is_int(&t["userId"]));
    let a = &t["iserver"]["authStatus"];
    assert_eq!(
        (
            a["authenticated"].as_bool(),
            a["competing"].as_bool(),
            a["connected"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    assert!(a["MAC"].is_string() && a["serverInfo"]["serverVersion"].is_string());

    let status = cp.post("/iserver/auth/status").await;
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["established"], true);
    // IBKR documents POST; GET works too.
    assert_eq!(cp.get("/iserver/auth/status").await["connected"], true);

    let init = cp.post("/iserver/auth/ssodh/init").await;
    assert_eq!(init["authenticated"], true);
    assert_eq!(
        cp.post("/iserver/reauthenticate").await,
        serde_json::json!({"message": "triggered"})
    );

    let v = cp.get("/sso/validate").await;
    assert_eq!(v["RESULT"], true);
    assert!(
        v["AUTH_TIME"].as_i64().expect("ms") > 1_600_000_000_000,
        "epoch milliseconds"
    );
    assert!(is_int(&v["EXPIRES"]) && v["USER_NAME"].is_string());

    // The IBeam alias.
    let alias = cp
        .client
        .get(format!(
            "{}/sso/validate",
            cp.base.replace("/v1/api", "/v1/portal")
        ))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        alias.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the alias shares the 1/min limit"
    );

    assert_eq!(
        cp.post("/logout").await,
        serde_json::json!({"status": true})
    );
    let after = cp.post("/iserver/auth/status").await;
    assert_eq!(
        (
            after["authenticated"].as_bool(),
            after["connected"].as_bool()
        ),
        (Some(false), Some(false))
    );
    // Every other call needs a new login, reads included.
    for path in ["/portfolio/accounts", "/trsrv/futures?symbols=CL"] {
        let (status, body) = cp.call(Method::GET, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_positions_summary_and_combos() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    // `/portfolio/*` wants `/portfolio/accounts` first.
    let (status, body) = cp
        .call(Method::GET, "/portfolio/DU1234567/positions/0")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let accounts = cp.get("/portfolio/accounts").await;
    let ids: Vec<&str> = accounts
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["accountId"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["DU1234567", "DU7654321"]);
    let a = &accounts[0];
    assert!(
        a["faclient"].is_boolean() && a["accountAlias"].is_null() && is_int(&a["accountStatus"])
    );
    assert_eq!(a["id"], a["accountId"]);

    let rows = cp.get("/portfolio/DU1234567/positions/0").await;
    let rows = rows.as_array().expect("array");
    let now = cp.get("/portfolio2/DU1234567/positions").await;
    let now = now.as_array().expect("array");
    assert_eq!(now.len(), rows.len(), "the same positions, uncached");
    let r = &now[0];
    assert!(
        r["conid"].is_string()
            && r["position"].is_number()
            && is_int(&r["timestamp"])
            && r["assetClass"].is_string()
            && r["isLastToLoq"] == false,
        "{r}"
    );
    let sorted = cp
        .get("/portfolio2/DU1234567/positions?sort=position&direction=d")
        .await;
    let sizes: Vec<f64> = sorted
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["position"].as_f64().expect("a number"))
        .collect();
    assert!(
        sizes.len() > 1 && sizes.windows(2).all(|w| w[0] >= w[1]),
        "{sizes:?}"
    );
    let (status, _) = cp
        .call(Method::GET, "/portfolio2/DU1234567/positions?direction=x")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let legs = sim
        .control()
        .world()
        .legs("DU1234567", jiff::Timestamp::now());
    assert_eq!(rows.len(), legs.len());
    for row in rows {
        assert!(
            is_int(&row["conid"]),
            "positions[].conid is a number: {row}"
        );
        assert!(
            row["strike"].is_string() && row["multiplier"].is_number() && row["position"].is_f64()
        );
        assert!(
            row["acctId"].is_string()
                && row["contractDesc"].is_string()
                && row["assetClass"].is_string()
        );
        let leg = legs
            .iter()
            .find(|l| i64::from(l.instrument.conid) == row["conid"].as_i64().expect("conid"))
            .expect("a leg");
        assert_eq!(row["position"].as_f64(), Some(leg.quantity));
        let stock = leg.instrument.sec_type == ibkr_sim::scenario::SecType::Stock;
        assert_eq!(row["type"], if stock { "COMMON" } else { "" }, "{row}");
        let m = leg.instrument.multiplier;
        assert!(
            (row["avgCost"].as_f64().expect("avgCost")
                - row["avgPrice"].as_f64().expect("avgPrice") * m)
                .abs()
                < 1e-4
        );
    }
    let fut = rows
        .iter()
        .find(|r| r["conid"] == 810000001)
        .expect("CL month 1");
    assert_eq!(fut["assetClass"], "FUT");
    assert!(
        fut["contractDesc"]
            .as_str()
            .expect("desc")
            .starts_with("CL       ")
    );
    assert_eq!(fut["expiry"].as_str().map(str::len), Some(8));
    assert_eq!(
        cp.get("/portfolio/DU1234567/positions/1").await,
        serde_json::json!([]),
        "one page holds 100"
    );

    let summary = cp.get("/portfolio/DU1234567/summary").await;
    let nlv = &summary["netliquidation"];
    assert!(nlv["amount"].is_number() && nlv["currency"] == "USD" && nlv["isNull"] == false);
    assert!(nlv["timestamp"].as_i64().expect("ms") > 1_600_000_000_000);
    assert_eq!(summary["accountcode"]["value"], "DU1234567");
    // IBKR's OpenAPI document (Web API 2.29.0) lists these 114 keys for the summary.
    let segmented = [
        "accruedcash",
        "accrueddividend",
        "availablefunds",
        "availabletotrade",
        "availabletowithdraw",
        "billable",
        "equitywithloanvalue",
        "excessliquidity",
        "fullavailablefunds",
        "fullexcessliquidity",
        "fullinitmarginreq",
        "fullmaintmarginreq",
        "guarantee",
        "indianstockhaircut",
        "initmarginreq",
        "lookaheadavailablefunds",
        "lookaheadexcessliquidity",
        "lookaheadinitmarginreq",
        "lookaheadmaintmarginreq",
        "maintmarginreq",
        "netliquidation",
        "pasharesvalue",
        "physicalcertificatevalue",
        "postexpirationexcess",
        "postexpirationmargin",
        "totalcashvalue",
        "totaldebitcardpendingcharges",
    ];
    let securities = [
        "grosspositionvalue",
        "previousdayequitywithloanvalue",
        "regtequity",
        "regtmargin",
        "sma",
    ];
    let mut documented: Vec<String> = segmented
        .iter()
        .flat_map(|k| [k.to_string(), format!("{k}-c"), format!("{k}-s")])
        .chain(
            securities
                .iter()
                .flat_map(|k| [k.to_string(), format!("{k}-s")]),
        )
        .chain(
            [
                "buyingpower",
                "netliquidationuncertainty",
                "accountcode",
                "accountready",
                "accounttype",
                "cushion",
                "daytradesremaining",
                "daytradesremainingt+1",
                "daytradesremainingt+2",
                "daytradesremainingt+3",
                "daytradesremainingt+4",
                "depositoncredithold",
                "highestseverity",
                "lookaheadnextchange",
                "nlvandmargininreview",
                "whatifpmenabled",
                "columnprio-c",
                "columnprio-s",
                "segmenttitle-c",
                "segmenttitle-s",
                "daytradingstatus-s",
                "leverage-s",
                "tradingtype-s",
            ]
            .map(String::from),
        )
        .collect();
    documented.sort();
    let mut served: Vec<String> = summary
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    served.sort();
    assert_eq!(documented.len(), 114);
    assert_eq!(served, documented);
    for (key, v) in summary.as_object().expect("object") {
        let fields: Vec<&str> = v
            .as_object()
            .expect("a value object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), 6, "{key}: {v}");
        assert!(
            v["amount"].is_number() && v["isNull"] == false,
            "{key}: {v}"
        );
        assert!(v["value"].is_null() || v["value"].is_string(), "{key}: {v}");
    }
    let amount = |k: &str| summary[k]["amount"].as_f64().expect("amount");
    assert!(
        (amount("netliquidation-c") + amount("netliquidation-s") - amount("netliquidation")).abs()
            < 0.05,
        "the segments add up"
    );
    assert!(
        amount("maintmarginreq-c") > 0.0,
        "CL positions ask commodities margin"
    );

    let combos = cp
        .get("/portfolio/DU1234567/combo/positions?nocache=true")
        .await;
    let combos = combos.as_array().expect("array");
    assert_eq!(combos.len(), 2);
    for combo in combos {
        let name = combo["name"].as_str().expect("name");
        assert!(name.starts_with("CP.CP") && name.len() == 13, "{name}");
        for leg in combo["legs"].as_array().expect("legs") {
            assert!(leg["conid"].is_string(), "legs[].conid is a string: {leg}");
            assert!(is_int(&leg["ratio"]));
        }
        for p in combo["positions"].as_array().expect("positions") {
            assert!(is_int(&p["conid"]), "positions[].conid is a number: {p}");
            assert!(p["multiplier"].is_null() && p["expiry"].is_null() && p["putOrCall"].is_null());
            assert_eq!(p["strike"].as_f64(), Some(0.0));
            assert_eq!(p["undConid"], 0);
        }
    }
    let first = &combos[0];
    let desc = first["description"].as_str().expect("description");
    let legs = first["legs"].as_array().expect("legs");
    assert_eq!(
        desc,
        format!(
            "-1*{}+1*{}",
            legs[0]["conid"].as_str().expect("c"),
            legs[1]["conid"].as_str().expect("c")
        )
    );

    let (status, _) = cp
        .call(Method::GET, "/portfolio/U0000000/combo/positions")
        .await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "IBKR answers an unknown account with 500"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_cached_until_invalidated() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    cp.get("/portfolio/accounts").await;
    let before = cp.get("/portfolio/DU7654321/positions/0").await;
    sim.control()
        .world()
        .set_position("DU7654321", 830000001, 1.0, 6000.0)
        .expect("open");
    assert_eq!(
        cp.get("/portfolio/DU7654321/positions/0").await,
        before,
        "the cache is stale"
    );
    assert_eq!(
        cp.post("/portfolio/DU7654321/positions/invalidate").await,
        serde_json::json!({"message": "success"})
    );
    let after = cp.get("/portfolio/DU7654321/positions/0").await;
    assert!(
        after
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["conid"] == 830000001)
    );
    sim.control()
        .world()
        .set_position("DU7654321", 830000001, 0.0, 0.0)
        .expect("close");
    // /portfolio2 has no cache: the close shows at once, without an invalidate.
    let now = cp.get("/portfolio2/DU7654321/positions").await;
    let rows = now.as_array().expect("rows");
    assert!(!rows.iter().any(|r| r["conid"] == "830000001"), "{now}");
    let cached = cp.get("/portfolio/DU7654321/positions/0").await;
    assert!(
        cached
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["conid"] == 830000001),
        "the paged endpoint still serves its cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_need_iserver_accounts_and_a_preflight() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    let fields = "31,84,86,7308,7309,7310,7311,7633,6457,6509";
    let path = format!("/iserver/marketdata/snapshot?conids=820000001,810000002&fields={fields}");
    let (status, _) = cp.call(Method::GET, &path).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "`/iserver/accounts` comes first"
    );

    let accounts = cp.get("/iserver/accounts").await;
    assert_eq!(
        accounts["accounts"],
        serde_json::json!(["DU1234567", "DU7654321"])
    );
    assert!(accounts["aliases"].is_object() && accounts["acctProps"]["DU1234567"].is_object());
    cp.get("/iserver/secdef/search?symbol=CL").await;

    // The first call only starts streaming.
    let first = cp.get(&path).await;
    assert_eq!(
        first,
        serde_json::json!([{"conid": 820000001, "conidEx": "820000001"}, {"conid": 810000002, "conidEx": "810000002"}])
    );
    // Then prices, as strings; the greeks take another poll.
    let second = cp.get(&path).await;
    let opt = &second[0];
    assert!(
        opt["31"].is_string() && opt["84"].is_string() && opt["86"].is_string(),
        "{opt}"
    );
    assert!(
        opt.get("7308").is_none(),
        "greeks are not computed yet: {opt}"
    );
    assert_eq!(opt["6457"], 810000002, "6457 is an integer");
    assert!(opt["_updated"].as_i64().expect("ms") > 1_600_000_000_000);
    assert_eq!(opt["6509"], "RpB");
    // Greeks come on a later poll, not always the same one: the one the scenario's seed picks
    // for this conid, between the third and the sixth. (At most nine requests here: within
    // the pacing of ten a second.)
    let seed = sim.control().world().scenario().market.seed;
    let at = ibkr_sim::cp::greeks_poll(seed, 820000001);
    assert!(ibkr_sim::cp::GREEKS_FIRST_POLLS.contains(&at));
    for poll in 3..at {
        let answer = cp.get(&path).await;
        assert!(
            answer[0].get("7308").is_none(),
            "poll {poll} of {at}: {answer}"
        );
    }
    let with_greeks = cp.get(&path).await;
    let opt = &with_greeks[0];
    let delta: f64 = opt["7308"]
        .as_str()
        .expect("a string")
        .parse()
        .expect("a number");
    let model = sim
        .control()
        .world()
        .quote(820000001, jiff::Timestamp::now())
        .expect("q")
        .model
        .expect("model");
    assert!((delta - model.greeks.delta).abs() < 1e-3);
    assert!(opt["7633"].as_str().expect("iv").ends_with('%'));
    assert!(
        with_greeks[1].get("7308").is_none(),
        "a future has no greeks"
    );
    let last: f64 = with_greeks[1]["31"]
        .as_str()
        .expect("last")
        .parse()
        .expect("number");
    assert_eq!(
        last,
        sim.control()
            .world()
            .quote(810000002, jiff::Timestamp::now())
            .expect("q")
            .last
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derivative_snapshots_wait_for_a_search_of_their_underlying() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    cp.get("/iserver/accounts").await;
    let path = "/iserver/marketdata/snapshot?conids=820000001,265598&fields=31,84,86";
    cp.get(path).await;
    let unsearched = cp.get(path).await;
    assert!(unsearched[1]["31"].is_string(), "a stock needs no search");
    assert_eq!(
        unsearched[0],
        serde_json::json!({"conid": 820000001, "conidEx": "820000001"}),
        "no stream for an option whose underlying was not searched"
    );
    cp.get("/iserver/secdef/search?symbol=crude&name=true")
        .await;
    let by_name = cp.get(path).await;
    assert!(
        by_name[0].get("31").is_none(),
        "a search by name relays no derivatives: {by_name}"
    );

    cp.get("/iserver/secdef/search?symbol=CL").await;
    let preflight = cp.get(path).await;
    assert!(preflight[0].get("31").is_none(), "{preflight}");
    let streaming = cp.get(path).await;
    assert!(streaming[0]["31"].is_string(), "{streaming}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_lookups() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    let secdef = cp
        .get("/trsrv/secdef?conids=810000001,820000003,265598")
        .await;
    let items = secdef["secdef"].as_array().expect("secdef");
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|i| is_int(&i["conid"]) && i["strike"].is_string())
    );
    assert_eq!(items[1]["putOrCall"], "P");
    assert_eq!(items[1]["undConid"], 810000002);

    let fut = sim
        .control()
        .world()
        .instrument(810000002)
        .expect("CL2")
        .clone();
    let mmm_yyyy = fut.contract_month.expect("month").mmm_yyyy();
    let month = format!("{}{}", &mmm_yyyy[..3], &mmm_yyyy[5..]);
    let info = cp.get(&format!("/iserver/secdef/info?conid=810000002&sectype=FOP&month={month}&exchange=NYMEX&strike=75&right=C")).await;
    let info = info.as_array().expect("an array");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["conid"], 820000001);
    assert_eq!(info[0]["multiplier"], "1000", "a string here");
    assert!(info[0]["strike"].is_number());

    let contract = cp.get("/iserver/contract/810000001/info").await;
    assert_eq!(
        contract["local_symbol"].as_str(),
        Some(
            sim.control()
                .world()
                .instrument(810000001)
                .expect("CL1")
                .local_symbol
                .as_str()
        )
    );
    assert_eq!(contract["multiplier"], "1000");
    // IBKR's documented fields; an option's right as a word and strike as text.
    for field in [
        "allow_sell_long",
        "cfi_code",
        "classifier",
        "company_name",
        "con_id",
        "contract_clarification_type",
        "contract_month",
        "currency",
        "cusip",
        "exchange",
        "expiry_full",
        "instrument_type",
        "is_zero_commission_security",
        "local_symbol",
        "maturity_date",
        "multiplier",
        "r_t_h",
        "smart_available",
        "symbol",
        "text",
        "trading_class",
        "underlying_con_id",
        "underlying_issuer",
        "valid_exchanges",
    ] {
        assert!(contract.get(field).is_some(), "{field} missing: {contract}");
    }
    let option = cp.get("/iserver/contract/820000003/info").await;
    assert_eq!(option["right"], "PUT");
    assert!(
        option["strike"].is_string() && is_int(&option["con_id"]),
        "{option}"
    );
    assert_eq!(option["cfi_code"], "OPXXXS");
    let stock = cp.get("/iserver/contract/265598/info").await;
    assert!(
        stock["multiplier"].is_null() && stock["text"].is_null(),
        "{stock}"
    );
    assert!(stock.get("right").is_none(), "a stock has no right");

    let futures = cp.get("/trsrv/futures?symbols=CL").await;
    let cl = futures["CL"].as_array().expect("CL");
    assert_eq!(cl.len(), 5);
    assert!(
        cl.iter()
            .all(|f| is_int(&f["expirationDate"]) && is_int(&f["ltd"]))
    );
    assert!(
        cl.windows(2)
            .all(|w| w[0]["ltd"].as_i64() < w[1]["ltd"].as_i64())
    );
    assert!(
        cl.iter().all(|f| f["underlyingConid"] == 800000001),
        "futures name the index they are listed under"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_search_finds_stocks_and_futures_roots() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    // A symbol search: a stock with its options, a futures root under its index.
    let aapl = cp.get("/iserver/secdef/search?symbol=AAPL").await;
    let row = &aapl[0];
    assert_eq!(row["conid"], "265598", "a string here");
    assert_eq!(row["symbol"], "AAPL");
    let sections: Vec<&str> = row["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| s["secType"].as_str().expect("secType"))
        .collect();
    assert_eq!(sections, ["STK", "OPT"]);
    assert!(row["opt"].as_str().is_some_and(|d| d.len() == 8), "{row}");
    assert!(row["fop"].is_null() && row["war"].is_null());
    let cl_search = cp
        .client
        .post(format!("{}/iserver/secdef/search", cp.base))
        .header("Content-Type", "application/json")
        .body(r#"{"symbol":"cl"}"#)
        .send()
        .await
        .expect("answers");
    assert_eq!(cl_search.status(), StatusCode::OK);
    let cl_search: Value = cl_search.json().await.expect("json");
    let row = &cl_search[0];
    assert_eq!(row["conid"], "800000001", "the index, not a future");
    let fut_section = row["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .find(|s| s["secType"] == "FUT")
        .expect("a FUT section");
    assert_eq!(
        fut_section["months"].as_str().map(|m| m.split(';').count()),
        Some(5),
        "one month per listed future: {fut_section}"
    );
    assert!(row["fop"].as_str().is_some(), "{row}");
    let by_name = cp
        .get("/iserver/secdef/search?symbol=crude&name=true")
        .await;
    assert_eq!(by_name[0]["conid"], "800000001");
    assert_eq!(by_name[0]["sections"], serde_json::json!([]));
    let (status, _) = cp.call(Method::GET, "/iserver/secdef/search").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a symbol is required");
    let none = cp.get("/iserver/secdef/search?symbol=NOPE").await;
    assert_eq!(none, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_login_every_call_is_unauthenticated_until_the_login_page() {
    let mut cfg = config();
    cfg.cp.logged_in = false;
    let sim = start_with(cfg).await;
    let cp = Cp::new(&sim);
    for path in ["/tickle", "/iserver/auth/status"] {
        let (status, body) = cp.call(Method::POST, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body, r#"{"error":"no session"}"#);
    }
    let (status, _) = cp.call(Method::GET, "/portfolio/accounts").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let root = sim.cp_url().replace("/v1/api", "");
    let page = cp
        .client
        .get(format!("{root}/"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("<form") && page.contains("Not logged in"));
    let done = cp
        .client
        .post(format!("{root}/sso/Login"))
        .send()
        .await
        .expect("login");
    assert!(
        done.text()
            .await
            .expect("html")
            .contains("Client login succeeds")
    );
    assert_eq!(cp.post("/iserver/auth/status").await["authenticated"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redirect_style_sends_unauthenticated_calls_to_the_login_page() {
    let mut cfg = config();
    cfg.cp.logged_in = false;
    cfg.cp.unauthenticated = ibkr_sim::cp::Unauthenticated::Redirect;
    let sim = start_with(cfg).await;
    let resp = http()
        .post(format!("{}/iserver/auth/status", sim.cp_url()))
        .header("Content-Length", "0")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(
        resp.headers()["location"]
            .to_str()
            .expect("ascii")
            .starts_with("/sso/Login")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_drops_the_brokerage_session_and_ssodh_init_restores_it() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    cp.get("/iserver/accounts").await;
    // Any gap counts as idle from now on: the next call finds the brokerage session gone.
    sim.control().cp().set_idle_timeout(Duration::ZERO);
    let (status, body) = cp.call(Method::GET, "/iserver/accounts").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"{"error":"Bad Request: no bridge","statusCode":400}"#
    );
    let s = cp.post("/iserver/auth/status").await;
    assert_eq!(
        (s["authenticated"].as_bool(), s["connected"].as_bool()),
        (Some(false), Some(true))
    );
    sim.control()
        .cp()
        .set_idle_timeout(Duration::from_secs(360));
    assert_eq!(
        cp.post("/iserver/auth/ssodh/init").await["authenticated"],
        true
    );
    cp.get("/iserver/accounts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_competing_session_is_won_back_only_with_compete() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    sim.control().cp().compete();
    let s = cp.post("/iserver/auth/status").await;
    assert_eq!(
        (s["authenticated"].as_bool(), s["competing"].as_bool()),
        (Some(false), Some(true))
    );
    let polite = cp
        .client
        .post(format!("{}/iserver/auth/ssodh/init", cp.base))
        .json(&serde_json::json!({"publish": true, "compete": false}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        polite.json::<Value>().await.expect("json")["authenticated"],
        false
    );
    let forceful = cp
        .client
        .post(format!("{}/iserver/auth/ssodh/init", cp.base))
        .json(&serde_json::json!({"publish": true, "compete": true}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        forceful.json::<Value>().await.expect("json")["authenticated"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_needs_a_new_login() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    sim.control().cp().expire();
    assert_eq!(
        cp.call(Method::POST, "/tickle").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cp.call(Method::POST, "/iserver/auth/ssodh/init").await.0,
        StatusCode::UNAUTHORIZED
    );
    sim.control().cp().login();
    // Not /tickle again: it is paced at one a second.
    assert_eq!(cp.post("/iserver/auth/status").await["authenticated"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_post_needs_content_length_zero() {
    let sim = start().await;
    let url = format!("{}/iserver/auth/status", sim.cp_url());
    // reqwest sends no Content-Length for an empty body: IBKR's gateway answers 411.
    let bare = http().post(&url).send().await.expect("answer");
    assert_eq!(bare.status(), StatusCode::LENGTH_REQUIRED);
    let explicit = http()
        .post(&url)
        .header("Content-Length", "0")
        .send()
        .await
        .expect("answer");
    assert_eq!(explicit.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_content_length_gets_411() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = start().await;
    let mut tcp = tokio::net::TcpStream::connect(sim.control().cp().addr())
        .await
        .expect("connect");
    tcp.write_all(b"POST /v1/api/tickle HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).await.expect("read");
    assert!(reply.starts_with("HTTP/1.1 411"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_ten_requests_a_second_get_429_with_retry_after() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    // A burst of 30 at once lands well within one second; the exact windows are unit-tested.
    let burst = (0..30).map(|_| {
        cp.client
            .get(format!("{}/iserver/accounts", cp.base))
            .send()
    });
    let answers = futures_util::future::join_all(burst).await;
    let mut refused = 0;
    for resp in answers {
        let resp = resp.expect("answer");
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
            let retry: u64 = resp.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert_eq!(retry, 1);
        }
    }
    assert!(refused >= 20, "{refused} of 30 refused");
    assert_eq!(
        sim.control()
            .cp()
            .requests()
            .iter()
            .filter(|r| r.status == 429)
            .count(),
        refused
    );
}

/// Closes the first combo of DU1234567 (after a read that fills the cache); the answer before.
async fn combos_then_close_one(sim: &Simulator, cp: &Cp) -> Value {
    cp.get("/portfolio/accounts").await;
    let before = cp.get("/portfolio/DU1234567/combo/positions").await;
    let name = before[0]["name"].as_str().expect("a combo").to_owned();
    sim.control()
        .world()
        .close_combo("DU1234567", &name)
        .expect("closed");
    before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combos_are_cached_unless_asked_with_nocache() {
    let sim = start().await;
    let cp = Cp::new(&sim);
    let path = "/portfolio/DU1234567/combo/positions";
    let before = combos_then_close_one(&sim, &cp).await;
    assert_eq!(cp.get(path).await, before, "served from the cache");
    let fresh = cp.get(&format!("{path}?nocache=true")).await;
    assert_eq!(
        fresh.as_array().map(Vec::len),
        before.as_array().map(|c| c.len() - 1)
    );
    assert_eq!(cp.get(path).await, fresh, "nocache refreshed the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_combo_cache_is_not_served() {
    let mut cfg = config();
    cfg.cp.combo_cache = Duration::ZERO;
    let sim = start_with(cfg).await;
    let cp = Cp::new(&sim);
    let before = combos_then_close_one(&sim, &cp).await;
    let now = cp.get("/portfolio/DU1234567/combo/positions").await;
    assert_eq!(
        now.as_array().map(Vec::len),
        before.as_array().map(|c| c.len() - 1)
    );
}
