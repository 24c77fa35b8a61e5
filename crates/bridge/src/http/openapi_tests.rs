use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

fn json(token_required: bool) -> Value {
    serde_json::from_slice(&served(token_required)).expect("json")
}

#[test]
fn the_document_lists_the_api_routes() {
    let doc = json(false);
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |method| format!("{method} {path}"))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "get /healthz",
        "get /metrics",
        "get /api/openapi.json",
        "get /api/v1/spreads",
        "get /api/v1/spreads/unmatched-legs",
        "get /api/v1/spreads/{spread_id}",
        "get /api/v1/positions",
        "get /api/v1/accounts",
        "patch /api/v1/accounts/{account_id}",
        "get /api/v1/greeks",
        "get /api/v1/status",
        "get /api/v1/jobs",
        "post /api/v1/jobs",
        "get /api/v1/jobs/{job_id}",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(documented, expected);
}

#[test]
fn every_reference_resolves() {
    for doc in [json(false), json(true)] {
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "unresolved $ref {name}");
        }
    }
}

#[test]
fn what_the_middleware_answers_is_documented_everywhere() {
    let doc = json(true);
    assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({"type": "http", "scheme": "bearer"})
    );
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let responses = &op["responses"];
            assert!(responses["421"].is_object(), "{method} {path}");
            let open = path == "/healthz";
            assert_eq!(responses["401"].is_object(), !open, "{method} {path}");
            assert_eq!(responses["503"].is_object(), !open, "{method} {path}");
            assert_eq!(
                responses["403"].is_object(),
                method != "get",
                "{method} {path}"
            );
        }
    }
    // Without a token nothing asks for one.
    let open = json(false);
    assert!(open["security"].is_null());
    assert!(
        open["paths"]["/api/v1/spreads"]["get"]["responses"]["401"].is_null(),
        "{open}"
    );
}

#[test]
fn ids_are_documented_as_the_server_reads_them() {
    let doc = json(false);
    let param = |path: &str, method: &str, name: &str| {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{method} {path}: {name}"))
    };
    let id = param("/api/v1/spreads", "get", "account_id");
    assert_eq!(id["schema"]["maximum"], 2147483647);
    assert_eq!(id["schema"]["minimum"], 1);
    let path_id = param("/api/v1/jobs/{job_id}", "get", "job_id");
    assert_eq!(path_id["required"], true);
    assert_eq!(path_id["schema"], id["schema"]);
    assert_eq!(
        param("/api/v1/spreads", "get", "symbol")["schema"]["default"],
        "CL"
    );
    assert_eq!(
        param("/api/v1/greeks", "get", "to")["schema"]["format"],
        "date-time"
    );
}

#[test]
fn every_greeks_figure_says_its_unit_and_an_account_is_asked_for_by_id() {
    let doc = json(false);
    let point = &doc["components"]["schemas"]["GreeksPoint"]["properties"];
    let figures: Vec<&String> = point
        .as_object()
        .expect("properties")
        .keys()
        .filter(|k| *k != "timestamp" && *k != "underlying_price")
        .collect();
    assert_eq!(figures.len(), 12, "{figures:?}");
    for name in figures {
        let text = point[name]["description"].as_str().unwrap_or_default();
        assert!(
            text.contains("dollars")
                || text.contains("units of the underlying")
                || text.contains("underlying units"),
            "{name}: {text:?}"
        );
    }
    for meaningless in ["delta", "gamma"] {
        let text = point[meaningless]["description"].as_str().expect("text");
        assert!(
            text.contains("PORTFOLIO") && text.contains("meaningless"),
            "{text}"
        );
    }
    let params = doc["paths"]["/api/v1/greeks"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let account = params
        .iter()
        .find(|p| p["name"] == "account_id")
        .expect("account_id");
    assert_eq!(account["schema"]["minimum"], 1);
    assert!(
        doc["paths"]["/api/v1/greeks"]["get"]["responses"]["404"].is_object(),
        "an unknown account is a documented 404"
    );
}
