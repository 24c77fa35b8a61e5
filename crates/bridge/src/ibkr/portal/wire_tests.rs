use serde_json::json;

use super::*;

#[test]
fn numbers_come_in_many_costumes() {
    for (v, want) in [
        (json!(1.5), Some(1.5)),
        (json!("1,300"), Some(1300.0)),
        (json!("31.2%"), Some(31.2)),
        (json!("C71.20"), Some(71.2)),
        (json!("H1.5"), Some(1.5)),
        (json!(" -0.11 "), Some(-0.11)),
        (json!("None"), None),
        (json!(""), None),
        (json!(null), None),
        (json!("N/A"), None),
        (json!(true), None),
    ] {
        assert_eq!(number(&v), want, "{v}");
    }
    assert_eq!(integer(&json!("649180695")), Some(649_180_695));
    assert_eq!(integer(&json!(6.0)), Some(6));
    assert_eq!(text(&json!("None")), None);
    assert_eq!(boolean(&json!("true")), Some(true));
}

#[test]
fn epochs_may_be_seconds_or_milliseconds() {
    let ms = epoch(&json!(1_712_596_911_593_i64)).expect("ms");
    let s = epoch(&json!(1_712_596_911)).expect("s");
    assert_eq!(ms.as_second(), s.as_second());
    assert_eq!(yyyymmdd(&json!("20270120")), Date::new(2027, 1, 20).ok());
    assert_eq!(yyyymmdd(&json!(20270120)), Date::new(2027, 1, 20).ok());
    assert_eq!(yyyymmdd(&json!("None")), None);
}

#[test]
fn tickle_and_auth_status() {
    // IBKR's documented authenticated reply.
    let t = json!({"session":"bb665d0f55b6289d70bc7380089fc96f","ssoExpires":460311,"collission":false,
        "userId":123456789,"hmds":{"error":"no bridge"},
        "iserver":{"authStatus":{"authenticated":true,"competing":false,"connected":true,"message":"","MAC":"98:F2:B3:23:BF:A0"}}});
    let status = tickle(&t).expect("ok");
    assert_eq!(
        status,
        AuthStatus {
            authenticated: true,
            connected: true,
            competing: false,
            message: String::new(),
            session: status.session,
        }
    );
    // The session id is kept as a fingerprint only: equal ids match, another login's does not.
    assert!(status.session.is_some());
    assert_eq!(tickle(&t).expect("ok").session, status.session);
    let other = json!({"session":"0000000000000000000000000000beef",
        "iserver":{"authStatus":{"authenticated":true,"competing":false,"connected":true}}});
    assert_ne!(tickle(&other).expect("ok").session, status.session);
    // A live 2021 reply: `tickle: true`, not authenticated.
    let t = json!({"iserver":{"tickle":true,"authStatus":{"authenticated":false,"competing":false,"connected":true,"message":"","MAC":"x"}}});
    assert!(!tickle(&t).expect("ok").authenticated);
    assert!(tickle(&json!({"error":"failed to process request"})).is_err());
    assert!(tickle(&json!([1])).is_err());
    let s = auth_status(
        &json!({"authenticated":false,"competing":true,"connected":true,"fail":"taken over"}),
    )
    .expect("ok");
    assert!(s.competing && s.connected && !s.authenticated);
    assert_eq!(s.message, "taken over");
}

#[test]
fn accounts_need_an_id() {
    let v = json!([{"id":"DU123456","accountId":"DU123456","accountTitle":"John Smith, LLC","currency":"USD","faclient":false}]);
    let a = accounts(&v).expect("ok");
    assert_eq!(a[0].code.as_str(), "DU123456");
    assert_eq!(a[0].title.as_deref(), Some("John Smith, LLC"));
    assert_eq!(a[0].raw, v[0]);
    assert!(accounts(&json!([{"accountTitle":"nobody"}])).is_err());
    assert!(accounts(&json!({"accounts":[]})).is_err());
    let codes = iserver_accounts(&json!({"accounts":["U1234567"],"selectedAccount":"U1234567"}))
        .expect("ok");
    assert_eq!(codes[0].as_str(), "U1234567");
}

#[test]
fn position_rows_follow_ibkrs_example() {
    // IBKR's documented option row (strike a string, multiplier a number).
    let v = json!([{"acctId":"DU123456","conid":584891614,"contractDesc":"SPY    JAN2025 440 C [SPY   250117C00440000 100]",
        "assetClass":"OPT","position":1.0,"mktPrice":95.70706175,"mktValue":9570.71,"avgCost":5801.0401,
        "avgPrice":58.010401,"realizedPnl":0.0,"unrealizedPnl":3769.67,"currency":"USD","expiry":"20250117",
        "lastTradingDay":"20250117","putOrCall":"C","strike":"440","multiplier":100.0,"undConid":756733,
        "undSym":"SPY","ticker":"SPY","listingExchange":"AMEX","pageSize":100,"time":26}]);
    let p = &positions(&v).expect("ok")[0];
    assert_eq!(
        (p.account.as_str(), p.contract.conid.get(), p.quantity),
        ("DU123456", 584891614, 1.0)
    );
    let c = &p.contract;
    assert_eq!(
        (
            c.symbol.as_str(),
            &c.sec_type,
            c.strike,
            c.right,
            c.multiplier
        ),
        (
            "SPY",
            &SecType::Option,
            Some(440.0),
            Some(Right::Call),
            Some(100.0)
        )
    );
    assert_eq!(c.underlying_conid.map(ConId::get), Some(756733));
    assert_eq!(c.last_trade_date, Date::new(2025, 1, 17).ok());
    assert_eq!(p.values.avg_cost, Some(5801.0401));
    assert_eq!(p.values.unrealized_pnl, Some(3769.67));
    // A futures row where IBKR leaves the deprecated fields "None" and 0.
    let f = json!([{"acctId":"DU1","conid":"810000001","contractDesc":"CL       JAN2027","assetClass":"FUT","position":"-3",
        "multiplier":"None","strike":0.0,"undConid":0,"putOrCall":null}]);
    let p = &positions(&f).expect("ok")[0];
    assert_eq!(
        (
            p.contract.symbol.as_str(),
            p.quantity,
            p.contract.multiplier,
            p.contract.strike,
            p.contract.underlying_conid
        ),
        ("CL", -3.0, None, None, None)
    );
    assert!(
        positions(&json!([{"acctId":"DU1","position":1}])).is_err(),
        "no conid"
    );
    assert!(
        positions(&json!([{"acctId":"DU1","conid":1}])).is_err(),
        "no quantity"
    );
}

#[test]
fn combos_follow_ibkrs_example() {
    let v = json!([{"name":"CP.CP695fcbb4","description":"1*649180695-1*654503299",
        "legs":[{"conid":"649180695","ratio":1},{"conid":"654503299","ratio":-1}],
        "positions":[
          {"acctId":"DU5240685","conid":649180695,"contractDesc":"ES       MAR2026","position":1.0,"mktPrice":6962.0,
           "mktValue":348100.0,"currency":"USD","avgCost":348114.52,"avgPrice":6962.2904,"realizedPnl":0.0,
           "unrealizedPnl":-14.52,"exchs":null,"expiry":null,"putOrCall":null,"multiplier":null,"strike":0.0,
           "exerciseStyle":null,"conExchMap":[],"assetClass":"FUT","undConid":0},
          {"acctId":"DU5240685","conid":654503299,"contractDesc":"ES       DEC2028","position":-1.0,"mktPrice":7530.1928711,
           "mktValue":-376509.64,"currency":"USD","avgCost":49997.98,"avgPrice":999.9596,"realizedPnl":0.0,
           "unrealizedPnl":-326511.66,"exchs":null,"expiry":"None","putOrCall":"None","multiplier":"None","strike":"0",
           "exerciseStyle":null,"conExchMap":[],"assetClass":"FUT","undConid":0}]}]);
    let c = &combos(&v.to_string()).expect("ok")[0];
    assert_eq!(c.name.as_deref(), Some("CP.CP695fcbb4"));
    assert_eq!(c.legs.len(), 2);
    assert_eq!(
        (c.legs[0].conid.get(), c.legs[0].ratio, c.legs[0].position),
        (649180695, Some(1.0), Some(1.0))
    );
    assert_eq!(
        (c.legs[1].ratio, c.legs[1].avg_price),
        (Some(-1.0), Some(999.9596))
    );
    assert_eq!(c.raw.value(), v[0]);
    assert_eq!(c.legs[1].raw.value(), v[0]["positions"][1]);
    assert_eq!(combos("[]").expect("no combos"), vec![]);
    assert_eq!(
        combos(r#"{"unexpected":"shape"}"#),
        Err("expected an array of combos, got an object".to_owned())
    );
    let bad = combos(
        &json!([{"name":"CP.CPgood","legs":[{"conid":"5","ratio":1}]},
                             {"name":"CP.CPbad","legs":[{"ratio":1}]}])
        .to_string(),
    );
    assert!(
        bad.as_ref()
            .is_err_and(|e| e.starts_with("combo CP.CPbad: a leg without a conid")),
        "{bad:?}"
    );
    let unnamed = combos(r#"[{"legs":[]}]"#);
    assert_eq!(unnamed, Err("combo #1 (unnamed): no legs".to_owned()));
}

/// The combo reader parses only the fields it uses: each combo and row keeps its text as
/// sent, and everything malformed is still refused whole.
#[test]
fn combos_keep_their_text_as_sent_and_refuse_what_they_cannot_read() {
    let sent = r#"[ {"name": "CP.CPa", "zzz": {"deep": [1, 2]},
        "legs": [{"conid": "5", "ratio": "-1"}, {"conid": 6, "ratio": 1}],
        "positions": [ {"conid": "5", "position": "-2", "mktValue": "1,300", "acctId": "DU1"} ]} ]"#;
    let c = &combos(sent).expect("ok")[0];
    assert!(
        c.raw.as_str().starts_with(r#"{"name": "CP.CPa", "zzz""#),
        "{}",
        c.raw.as_str()
    );
    assert_eq!(
        c.legs[0].raw.as_str(),
        r#"{"conid": "5", "position": "-2", "mktValue": "1,300", "acctId": "DU1"}"#
    );
    assert_eq!(
        (
            c.legs[0].ratio,
            c.legs[0].position,
            c.legs[0].values.market_value
        ),
        (Some(-1.0), Some(-2.0), Some(1300.0))
    );
    assert_eq!((c.legs[1].conid.get(), c.legs[1].raw.as_str()), (6, "null"));
    let refused = [
        ("[{\"name\": ", "not JSON"),
        (
            r#"[{"name":"CP.CPx","legs":null}]"#,
            "combo CP.CPx: expected an array of legs, got null",
        ),
        (
            r#"[{"name":"CP.CPx","legs":[{"conid":5,"ratio":1}],"positions":{"conid":5}}]"#,
            "combo CP.CPx: expected an array of positions, got an object",
        ),
        (
            r#"[{"name":"CP.CPx","legs":[{"conid":5,"ratio":1}],"positions":["DU1234567"]}]"#,
            "combo CP.CPx: position row 1: not an object but a string",
        ),
        (
            r#"[{"name":"CP.CPx","name":"CP.CPy"}]"#,
            "combo #1 (unnamed): an object with a key twice",
        ),
        (r#"[7]"#, "combo #1 (unnamed): not an object but a number"),
    ];
    for (text, reason) in refused {
        let got = combos(text).expect_err(text);
        assert!(got.starts_with(reason), "{text}: {got}");
    }
}

#[test]
fn snapshots_preflight_and_fields() {
    let first = snapshots(&json!([{"conid":265598,"conidEx":"265598"}])).expect("ok");
    assert!(!first[0].has_data());
    let v = json!([{"conid":820000001,"conidEx":"820000001","_updated":1712596911593_i64,"6509":"DpB",
        "31":"1.45","7635":"1.46","7308":"0.523","7309":"0.0871","7310":"-0.0213","7311":"0.0912","7633":"36.0%","6457":810000002}]);
    let s = &snapshots(&v).expect("ok")[0];
    assert!(s.has_data());
    assert_eq!(s.price(), Some(1.46));
    let g = s.greeks();
    assert_eq!(
        (g.delta, g.gamma, g.theta, g.vega),
        (Some(0.523), Some(0.0871), Some(-0.0213), Some(0.0912))
    );
    assert!((g.implied_vol.expect("iv") - 0.36).abs() < 1e-12);
    assert_eq!(s.underlying_conid().map(ConId::get), Some(810000002));
    assert_eq!(s.kind(), Some(DataKind::Delayed));
    assert!(s.updated.is_some());
}

#[test]
fn secdef_and_contract_info() {
    let v = json!({"secdef":[{"conid":820000003,"ticker":"CL","assetClass":"FOP","multiplier":1000.0,"strike":"65",
        "putOrCall":"P","undConid":810000002,"expiry":"20270119","currency":"USD"}]});
    let (c, raw) = &secdefs(&v).expect("ok")[0];
    assert_eq!(
        (
            c.multiplier,
            c.strike,
            c.right,
            c.underlying_conid.map(ConId::get)
        ),
        (Some(1000.0), Some(65.0), Some(Right::Put), Some(810000002))
    );
    assert_eq!(raw["ticker"], "CL");
    let info = contract_info(
        &json!({"con_id":810000001,"symbol":"CL","local_symbol":"CLF7","instrument_type":"FUT",
        "multiplier":"1000","maturity_date":"20261222","underlying_con_id":0}),
    )
    .expect("ok");
    assert_eq!(
        (
            info.local_symbol.as_deref(),
            info.multiplier,
            info.underlying_conid
        ),
        (Some("CLF7"), Some(1000.0), None)
    );
    assert_eq!(
        error_message(r#"{"error":"Bad Request: no bridge","statusCode":400}"#).as_deref(),
        Some("Bad Request: no bridge")
    );
    assert_eq!(error_message("<html>"), None);
}

#[test]
fn reasons_name_the_place_and_never_quote_an_account() {
    let cases = [
        positions(&json!([{"acctId":"DU1234567","conid":5,"position":1},
                           {"acctId":"DU1234567","position":2}]))
        .map(|_| ()),
        positions(&json!([{"acctId":"DU1234567","conid":5}])).map(|_| ()),
        accounts(&json!([{"accountId":"DU1234567"},{"desc":"DU7654321"}])).map(|_| ()),
        iserver_accounts(&json!({"accounts":["DU1234567", 7]})).map(|_| ()),
        combos(
            r#"[{"name":"CP.CPx","legs":[{"conid":"5","ratio":1}],
                 "positions":[{"acctId":"DU1234567","position":1}]}]"#,
        )
        .map(|_| ()),
        combos(r#"["DU1234567"]"#).map(|_| ()),
        combos(r#"{"DU1234567": "DU1234567"}"#).map(|_| ()),
        combos(
            r#"[{"name":"CP.CPx","legs":[{"conid":5,"ratio":1}],"positions":[7, "DU1234567"]}]"#,
        )
        .map(|_| ()),
    ];
    let reasons: Vec<String> = cases
        .into_iter()
        .map(|r| r.expect_err("malformed"))
        .collect();
    for r in &reasons {
        assert!(!r.contains("DU"), "{r}");
    }
    assert_eq!(reasons[0], "position row 2 has no conid");
    assert_eq!(reasons[1], "position row 1 (conid 5) has no quantity");
    assert_eq!(reasons[2], "account 2 has no valid accountId");
    assert_eq!(reasons[3], "account code 2 is not valid");
}

/// IBKR's documented example responses (the OpenAPI document of its Web API, version 2.29.0,
/// `examples/`) for every endpoint the bridge reads: each is read without a complaint and
/// gives what the example says.
mod ibkr_examples {
    use serde_json::Value;

    use super::super::*;
    use crate::domain::contract::{Right, SecType};

    fn example(text: &str) -> Value {
        serde_json::from_str(text).expect("the example is JSON")
    }

    #[test]
    fn session_answers() {
        let status =
            auth_status(&example(include_str!("examples/auth_status.json"))).expect("auth status");
        assert!(status.authenticated && status.connected && !status.competing);
        let tickle = tickle(&example(include_str!("examples/tickle.json"))).expect("tickle");
        assert!(tickle.authenticated && tickle.session.is_some());
    }

    #[test]
    fn symbol_search() {
        let found = secdef_search(&example(include_str!("examples/secdef_search.json")))
            .expect("search results");
        assert_eq!(found, 3, "IBM on two exchanges and its bonds");
    }

    #[test]
    fn accounts() {
        let accounts =
            super::super::accounts(&example(include_str!("examples/portfolio_accounts.json")))
                .expect("portfolio accounts");
        assert!(!accounts.is_empty());
        let codes = iserver_accounts(&example(include_str!("examples/iserver_accounts.json")))
            .expect("iserver accounts");
        assert_eq!(codes.len(), 1);
    }

    #[test]
    fn positions_of_a_stock_an_option_and_a_crypto() {
        let rows = positions(&example(include_str!("examples/positions.json"))).expect("rows");
        assert_eq!(rows.len(), 3);
        let option = rows
            .iter()
            .find(|p| p.contract.sec_type == SecType::Option)
            .expect("the SPY option");
        assert_eq!(option.contract.strike, Some(440.0), "a strike sent as text");
        assert_eq!(option.contract.right, Some(Right::Call));
        assert_eq!(option.contract.multiplier, Some(100.0));
        let stock = rows
            .iter()
            .find(|p| p.contract.sec_type == SecType::Stock)
            .expect("IBM");
        assert_eq!(stock.quantity, 1412.0);
        assert_eq!(stock.values.market_value, Some(261468.5));
    }

    #[test]
    fn combo_positions_with_none_as_text() {
        let combos = combos(include_str!("examples/combo_positions.json")).expect("combos");
        assert_eq!(combos.len(), 1);
        let legs = &combos[0].legs;
        assert_eq!(legs.len(), 2);
        assert_eq!(
            legs.iter().map(|l| l.ratio).collect::<Vec<_>>(),
            [Some(1.0), Some(-1.0)]
        );
        assert_eq!(legs[1].position, Some(-1.0));
    }

    #[test]
    fn summary_with_segments() {
        let s = summary(&example(include_str!("examples/summary.json"))).expect("summary");
        assert_eq!(s.net_liquidation, Some(206415536.0));
        assert_eq!(s.total_cash, Some(205646432.0));
        assert_eq!(s.gross_position_value, Some(659611.375));
    }

    #[test]
    fn snapshots_before_and_after_the_preflight() {
        let first = snapshots(&example(include_str!("examples/snapshot_preflight.json")))
            .expect("preflight");
        assert!(
            first.iter().all(|s| !s.has_data()),
            "the pre-flight carries no data"
        );
        let rows = snapshots(&example(include_str!("examples/snapshot.json"))).expect("data");
        assert!(rows.iter().all(Snapshot::has_data));
        assert_eq!(rows[0].price(), Some(168.42));
    }

    #[test]
    fn contract_definitions() {
        let defs = secdefs(&example(include_str!("examples/trsrv_secdef.json"))).expect("secdef");
        assert!(!defs.is_empty());
        let option = contract_info(&example(include_str!("examples/contract_info_option.json")))
            .expect("option info");
        assert_eq!(option.sec_type, SecType::Option);
        assert_eq!(option.multiplier, Some(100.0));
        let stock = contract_info(&example(include_str!("examples/contract_info_stock.json")))
            .expect("stock info");
        assert_eq!(stock.sec_type, SecType::Stock);
    }
}
