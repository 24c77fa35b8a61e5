use serde_json::json;

use super::*;

fn view(attention: serde_json::Value) -> StatusView {
    serde_json::from_value(json!({
        "transport": {"mode": "SOCKET", "connected": true, "since": "2026-11-21T14:00:00Z",
                      "message": "connected to TWS API at 127.0.0.1:4001", "reconnects": 2},
        "client_portal": {"enabled": true, "state": "reauth_required", "authenticated": false,
                          "competing": false, "last_tickle": null,
                          "message": "Re-auth required: log in at https://localhost:5000"},
        "greeks": {"last_tick": "2026-11-21T14:05:05Z", "last_row": null, "rows_written": 12,
                   "positions_counted": 5, "ticks_skipped": 0,
                   "left_out": [{"account": "Main", "con_id": 7, "symbol": "CL",
                                 "reason": "missing_greeks"}]},
        "spool": {"breaker": "closed", "spooled": 0, "in_memory": 0, "dropped": 0, "stored": 40,
                  "last_error": null},
        "jobs": [{"id": 3, "job_type": "combo_positions.sync", "status": "failed", "attempts": 3,
                  "max_attempts": 3, "source": "scheduler",
                  "created_at": "2026-11-21T14:00:00Z", "available_at": "2026-11-21T14:00:00Z",
                  "started_at": "2026-11-21T14:00:01Z", "completed_at": "2026-11-21T14:00:02Z",
                  "last_error": "Re-auth required", "result": null, "locked_by": null}],
        "combos_synced_at": null,
        "database_reachable": true,
        "attention": attention,
    }))
    .expect("a status the API sends")
}

#[test]
fn an_unspecified_address_is_asked_on_loopback() {
    let url = |a: &str| status_url(a.parse().expect("addr"));
    assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080/api/v1/status");
    assert_eq!(url("[::]:8080"), "http://[::1]:8080/api/v1/status");
    assert_eq!(url("10.1.2.3:9000"), "http://10.1.2.3:9000/api/v1/status");
}

#[test]
fn attention_comes_first_with_what_to_do() {
    let text = report(&view(json!([
        {"kind": "reauth", "message": "Re-auth required: log in at https://localhost:5000"}
    ])));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "portfolio-bridge: NEEDS ATTENTION (1)");
    assert_eq!(
        lines[1],
        "  ! [reauth] Re-auth required: log in at https://localhost:5000"
    );
    assert!(text.contains(
        "Transport            SOCKET — connected (connected to TWS API at 127.0.0.1:4001), 2 reconnects"
    ));
    assert!(text.contains(
        "Last job             combo_positions.sync failed at 2026-11-21 14:00:02 UTC Re-auth required"
    ));
    assert!(text.contains("Main — CL (7): greeks missing"), "{text}");
}

#[test]
fn active_alerts_are_listed_with_what_to_do_and_where_they_go() {
    let mut v = view(json!([]));
    v.alerts = serde_json::from_value(json!({
        "checked_at": "2026-11-21T14:05:06Z",
        "active": [{"kind": "feed_down", "key": "", "severity": "critical",
                    "title": "IBKR feed down for 4 min", "text": "No IBKR data since …",
                    "action": "Check the gateway.", "started_at": "2026-11-21T14:01:00Z",
                    "resolved_at": null, "told": true}],
        "recent": [], "held_back": 0,
        "delivery": {"targets": ["slack https://hooks.slack.com/…"], "delivered": 1,
                     "failed_attempts": 0, "pending": 0, "dropped": 0, "last_error": null}
    }))
    .expect("an alerts view");
    let text = report(&v);
    assert!(text.contains(
        "Alerts               1 active; 1 notices delivered, 0 waiting, 0 dropped to slack https://hooks.slack.com/…"
    ), "{text}");
    assert!(text.contains(
        "  [critical] feed_down since 2026-11-21 14:01:00 UTC: IBKR feed down for 4 min — Check the gateway."
    ), "{text}");
}

#[test]
fn nothing_to_do_says_ok() {
    let text = report(&view(json!([])));
    assert_eq!(text.lines().next(), Some("portfolio-bridge: OK"));
    assert!(!text.contains('!'));
}
