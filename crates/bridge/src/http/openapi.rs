//! The API's OpenAPI 3.1 document, served at `/api/openapi.json`. Written out by hand next to
//! the handlers; a test checks that it lists exactly the routes [`super::api::ROUTES`] serves,
//! and the browser suite validates it and checks real answers against its schemas.

use serde_json::{Value, json};

fn nullable(kind: &str) -> Value {
    json!({"type": [kind, "null"]})
}

fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn nullable_time() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(name: &str) -> Value {
    json!({"type": "array", "items": reference(name)})
}

/// An object schema whose every property is required.
fn object(props: Value) -> Value {
    let required: Vec<String> = props
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "properties": props, "required": required})
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description,
           "schema": {"type": "integer", "minimum": 1}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn error(description: &str) -> Value {
    ok(description, reference("Error"))
}

/// The responses every API operation may give besides its own.
fn with_errors(mut responses: Value, extra: &[(&str, &str)]) -> Value {
    for (code, description) in extra {
        responses[*code] = error(description);
    }
    responses["401"] = error("BRIDGE_API_TOKEN is set and the request did not carry it");
    responses["503"] = error("PostgreSQL is unavailable");
    responses
}

fn account_id_query() -> Value {
    query(
        "account_id",
        "Only this account (`accounts.id`)",
        json!({"type": "integer"}),
    )
}

fn symbol_query() -> Value {
    query(
        "symbol",
        "Underlying symbol, any case; `*` for all",
        json!({"type": "string", "default": "CL"}),
    )
}

fn limit_query(default: i64, max: i64) -> Value {
    query(
        "limit",
        "How many at most",
        json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}),
    )
}

fn schemas() -> Value {
    let num = || nullable("number");
    let text = || nullable("string");
    json!({
        "Error": object(json!({
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": ["bad_parameter", "not_found", "unauthorized",
                                                       "database_unavailable", "internal"]},
                    "message": {"type": "string"},
                    "parameter": {"type": "string", "description": "The parameter at fault (400 only)"}
                },
                "required": ["code", "message"]
            }
        })),
        "SpreadLeg": object(json!({
            "con_id": {"type": "integer"}, "symbol": text(), "local_symbol": text(),
            "description": text(), "sec_type": text(), "last_trade_date": text(),
            "ratio": num(), "position": num(), "avg_price": num(), "market_value": num(),
            "unrealized_pnl": num(), "realized_pnl": num()
        })),
        "Spread": object(json!({
            "id": {"type": "integer"}, "account_id": {"type": "integer"},
            "account": {"type": "string", "description": "The account's alias"},
            "name": text(), "description": text(), "symbol": text(),
            "legs_text": {"type": "string", "examples": ["-1 CLH7 / +1 CLM7"]},
            "position": num(), "avg_price": num(), "market_value": num(),
            "unrealized_pnl": num(), "realized_pnl": num(),
            "fetched_at": time(), "updated_at": time(), "last_synced_at": time(),
            "stale": {"type": "boolean"},
            "legs": array_of("SpreadLeg")
        })),
        "UnmatchedLeg": object(json!({
            "account_id": {"type": "integer"}, "account": {"type": "string"},
            "con_id": {"type": "integer"}, "symbol": text(), "local_symbol": text(),
            "sec_type": text(), "last_trade_date": text(), "strike": num(), "right": text(),
            "position": {"type": "number", "description": "held - in_combos"},
            "held": {"type": "number"}, "in_combos": {"type": "number"},
            "avg_cost": {"type": "number", "description": "Per contract, multiplier included"},
            "avg_price": num(), "market_price": num(), "unrealized_pnl": num(),
            "fetched_at": time()
        })),
        "Position": object(json!({
            "id": {"type": "integer"}, "account_alias": {"type": "string"},
            "con_id": {"type": "integer"}, "symbol": text(), "sec_type": text(),
            "exchange": text(), "primary_exchange": text(), "currency": text(),
            "local_symbol": text(), "trading_class": text(), "last_trade_date": text(),
            "strike": num(), "right": text(), "multiplier": text(),
            "position": {"type": "number"}, "avg_cost": {"type": "number"},
            "fetched_at": time(), "account_id": {"type": "integer"},
            "market_price": num(), "market_value": num(), "unrealized_pnl": num(),
            "realized_pnl": num(), "underlying_con_id": nullable("integer"), "source": text()
        })),
        "Account": object(json!({
            "id": {"type": "integer"},
            "alias": {"type": "string", "description": "The alias, or `Account Alias {id}`"},
            "has_alias": {"type": "boolean"}
        })),
        "AliasChange": {
            "type": "object",
            "properties": {"alias": {"type": ["string", "null"], "maxLength": 64}},
            "required": ["alias"]
        },
        "GreeksPoint": object(json!({
            "timestamp": time(), "delta": num(), "gamma": num(), "vega": num(),
            "theta": num(), "underlying_price": num()
        })),
        "GreeksSeries": object(json!({
            "contract": {"type": "string"}, "from": time(), "to": time(),
            "points": array_of("GreeksPoint")
        })),
        "Job": object(json!({
            "id": {"type": "integer"}, "job_type": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "running", "completed", "failed"]},
            "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"},
            "source": {"type": "string"}, "created_at": time(), "available_at": time(),
            "started_at": nullable_time(), "completed_at": nullable_time(),
            "last_error": text(), "result": {"description": "The job's metrics, or what a failure kept"},
            "locked_by": {"type": ["string", "null"], "description": "The worker running it"}
        })),
        "EnqueueRequest": {
            "type": "object",
            "properties": {
                "job_type": {"type": "string", "enum": ["positions.sync", "combo_positions.sync"]},
                "allow_duplicate": {"type": "boolean", "default": false}
            },
            "required": ["job_type"]
        },
        "Enqueueing": object(json!({
            "created": {"type": "boolean"}, "job": reference("Job")
        })),
        "Attention": object(json!({
            "kind": {"type": "string", "enum": ["reauth", "portal", "feed", "stale", "database", "spool"]},
            "message": {"type": "string"}
        })),
        "Status": object(json!({
            "transport": object(json!({
                "mode": {"type": "string", "enum": ["SOCKET", "PORTAL"]},
                "connected": {"type": "boolean"}, "since": nullable_time(),
                "message": {"type": "string"}, "reconnects": {"type": "integer"}
            })),
            "client_portal": object(json!({
                "enabled": {"type": "boolean"},
                "state": {"type": ["string", "null"], "enum": ["starting", "authenticated",
                          "reauth_required", "competing", "unreachable", "degraded", null]},
                "authenticated": {"type": "boolean"}, "competing": {"type": "boolean"},
                "last_tickle": nullable_time(), "message": text()
            })),
            "greeks": object(json!({
                "last_tick": nullable_time(),
                "last_row": {"oneOf": [reference("GreeksPoint"), {"type": "null"}]},
                "rows_written": {"type": "integer"}, "positions_counted": {"type": "integer"},
                "left_out": {"type": "array", "items": object(json!({
                    "account": {"type": "string"}, "con_id": {"type": "integer"},
                    "symbol": text(),
                    "reason": {"type": "string", "enum": ["unknown_contract", "unknown_multiplier",
                               "missing_greeks", "stale_greeks", "not_valued"]}
                }))},
                "ticks_skipped": {"type": "integer"}
            })),
            "spool": object(json!({
                "breaker": {"type": "string", "enum": ["closed", "open"]},
                "spooled": {"type": "integer"}, "in_memory": {"type": "integer"},
                "dropped": {"type": "integer"}, "stored": {"type": "integer"},
                "last_error": text()
            })),
            "jobs": array_of("Job"),
            "combos_synced_at": nullable_time(),
            "database_reachable": {"type": "boolean"},
            "attention": array_of("Attention")
        }))
    })
}

/// The whole document.
pub fn document() -> Value {
    let bad = [("400", "A parameter is wrong; `error.parameter` names it")];
    let bad_or_missing = [
        ("400", "A parameter is wrong; `error.parameter` names it"),
        ("404", "No such id"),
    ];
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "portfolio-bridge read API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "CL calendar spreads from IBKR-native combos, leg positions, net greeks and the bridge's health. Accounts appear by alias only. With BRIDGE_API_TOKEN set, send `Authorization: Bearer <token>`."
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {
                "summary": "Liveness: the process answers", "security": [],
                "responses": {"200": ok("Alive", object(json!({"status": {"const": "ok"}})))}
            }},
            "/metrics": {"get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "401": error("BRIDGE_API_TOKEN is set and the request did not carry it")
                }
            }},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": with_errors(json!({"200": ok("The OpenAPI document", json!({"type": "object"}))}), &[])
            }},
            "/api/v1/spreads": {"get": {
                "summary": "Native combo spreads with their legs",
                "parameters": [account_id_query(), symbol_query(), limit_query(100, 1000),
                    query("include_stale", "Also combos the gateway no longer reports",
                          json!({"type": "boolean", "default": false}))],
                "responses": with_errors(json!({"200": ok("Spreads, by account then id", array_of("Spread"))}), &bad)
            }},
            "/api/v1/spreads/unmatched-legs": {"get": {
                "summary": "Leg quantity no current native combo of the same account explains",
                "parameters": [account_id_query(), symbol_query(), limit_query(100, 1000)],
                "responses": with_errors(json!({"200": ok("Unmatched legs", array_of("UnmatchedLeg"))}), &bad)
            }},
            "/api/v1/spreads/{spread_id}": {"get": {
                "summary": "One spread, stale or not",
                "parameters": [path_param("spread_id", "The spread's id")],
                "responses": with_errors(json!({"200": ok("The spread", reference("Spread"))}), &bad_or_missing)
            }},
            "/api/v1/positions": {"get": {
                "summary": "Leg positions, in the existing application's shape",
                "parameters": [account_id_query(),
                    query("symbol", "Only this symbol, any case", json!({"type": "string"})),
                    limit_query(1000, 10000)],
                "responses": with_errors(json!({"200": ok("Positions", array_of("Position"))}), &bad)
            }},
            "/api/v1/accounts": {"get": {
                "summary": "Accounts, by alias",
                "responses": with_errors(json!({"200": ok("Accounts", array_of("Account"))}), &[])
            }},
            "/api/v1/accounts/{account_id}": {"patch": {
                "summary": "Set or clear an account's alias",
                "parameters": [path_param("account_id", "The account's id")],
                "requestBody": {"required": true, "content": {"application/json": {"schema": reference("AliasChange")}}},
                "responses": with_errors(json!({"200": ok("The account", reference("Account"))}), &bad_or_missing)
            }},
            "/api/v1/greeks": {"get": {
                "summary": "The net-greeks series of the portfolio or an underlying",
                "parameters": [
                    query("contract", "`PORTFOLIO` or an underlying's symbol", json!({"type": "string", "default": "PORTFOLIO"})),
                    query("from", "Start (RFC 3339); default an hour before `to`", json!({"type": "string", "format": "date-time"})),
                    query("to", "End (RFC 3339); default now", json!({"type": "string", "format": "date-time"})),
                    limit_query(2000, 20000)],
                "responses": with_errors(json!({"200": ok("The newest points in the range, oldest first", reference("GreeksSeries"))}), &bad)
            }},
            "/api/v1/status": {"get": {
                "summary": "The bridge's health and what needs attention",
                "responses": with_errors(json!({"200": ok("Status", reference("Status"))}), &[])
            }},
            "/api/v1/jobs": {
                "get": {
                    "summary": "The newest jobs",
                    "parameters": [
                        query("type", "Only this job type", json!({"type": "string"})),
                        query("status", "Only this status", json!({"type": "string", "enum": ["queued", "running", "completed", "failed"]})),
                        limit_query(50, 1000)],
                    "responses": with_errors(json!({"200": ok("Jobs, newest first", array_of("Job"))}), &bad)
                },
                "post": {
                    "summary": "Enqueue a sync",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": reference("EnqueueRequest")}}},
                    "responses": with_errors(json!({
                        "201": ok("Enqueued", reference("Enqueueing")),
                        "200": ok("A job of the type was already queued or running; that one", reference("Enqueueing"))
                    }), &bad)
                }
            },
            "/api/v1/jobs/{job_id}": {"get": {
                "summary": "One job",
                "parameters": [path_param("job_id", "The job's id")],
                "responses": with_errors(json!({"200": ok("The job", reference("Job"))}), &bad_or_missing)
            }}
        }
    })
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
