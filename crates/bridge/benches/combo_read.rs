//! Reading one account's combos in-process, with `criterion`: what the bridge's own part of
//! `combo_positions.sync` costs per account before the database — the gateway's answer (2,000
//! CL calendar combos of two legs, 1.8 MB, as ibkr-sim and IBKR's documented example shape
//! it) read into checked combos with their content hashes. The sync reads every account's
//! answer this way at every run, changed or not. `cargo bench -p portfolio-bridge --bench
//! combo_read`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portfolio_bridge::domain::ids::AccountCode;
use portfolio_bridge::ibkr::portal::wire;
use portfolio_bridge::jobs::combo_sync;
use serde_json::{Value, json};

const COMBOS: i64 = 2_000;
const ACCOUNT: &str = "DU1000000";

/// A leg row as the combo endpoint sends it (deprecated fields null, strike 0.0).
fn row(conid: i64, position: f64) -> Value {
    json!({
        "acctId": ACCOUNT, "assetClass": "FOP", "avgCost": 1100.0, "avgPrice": 1.1,
        "conExchMap": [], "conid": conid,
        "contractDesc": format!("CL     JAN2027 {} C [LOG7 C{conid} 1000]", conid % 97),
        "currency": "USD", "exchs": null, "exerciseStyle": null, "expiry": null,
        "mktPrice": 51.7, "mktValue": -51700.0 * position, "multiplier": null,
        "position": position, "putOrCall": null, "realizedPnl": 0.0, "strike": 0.0,
        "undConid": 0, "unrealizedPnl": -50600.0 * position,
    })
}

/// One account's `/portfolio/{accountId}/combo/positions` answer, as text.
fn answer() -> String {
    let combos: Vec<Value> = (0..COMBOS)
        .map(|i| {
            let (a, b) = (900_000_000 + i, 900_100_000 + i);
            json!({
                "name": format!("CP.CP{i:08x}"),
                "description": format!("-1*{a}+1*{b}"),
                "legs": [{"conid": a.to_string(), "ratio": -1}, {"conid": b.to_string(), "ratio": 1}],
                "positions": [row(a, -1.0), row(b, 1.0)],
            })
        })
        .collect();
    Value::Array(combos).to_string()
}

fn combo_read(c: &mut Criterion) {
    let account = AccountCode::parse(ACCOUNT).expect("a valid account code");
    let body = answer();
    c.bench_function("combo sync: read one account's 2,000 combos", |b| {
        b.iter(|| {
            let combos = wire::combos(black_box(&body)).expect("readable combos");
            black_box(combo_sync::snapshot(&account, combos).map(|s| s.len()))
        })
    });
}

criterion_group!(benches, combo_read);
criterion_main!(benches);
