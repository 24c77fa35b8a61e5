//! Both protocols serve one world: the same conids, quantities and prices.

use std::collections::BTreeMap;

use ibapi::prelude::*;

use crate::helpers::{connect, http, next_data, start, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tws_and_client_portal_report_the_same_positions_and_prices() {
    let sim = start().await;
    let client = connect(&sim, 30).await;
    let mut tws = BTreeMap::new();
    let mut sub = within("positions", client.positions())
        .await
        .expect("positions");
    while let PositionUpdate::Position(p) = next_data(&mut sub).await {
        tws.insert((p.account, i64::from(p.contract.contract_id)), p.position);
    }

    let http = http();
    let base = sim.cp_url();
    http.get(format!("{base}/portfolio/accounts"))
        .send()
        .await
        .expect("accounts");
    let mut cp = BTreeMap::new();
    let mut cp_prices = BTreeMap::new();
    for account in ["DU1234567", "DU7654321"] {
        let rows: serde_json::Value = http
            .get(format!("{base}/portfolio/{account}/positions/0"))
            .send()
            .await
            .expect("positions")
            .json()
            .await
            .expect("json");
        for row in rows.as_array().expect("rows") {
            let conid = row["conid"].as_i64().expect("conid");
            cp.insert(
                (account.to_owned(), conid),
                row["position"].as_f64().expect("position"),
            );
            cp_prices.insert(conid, row["mktPrice"].as_f64().expect("price"));
        }
    }
    assert_eq!(tws, cp);

    let account = AccountId::from("DU1234567");
    let mut updates = within("updates", client.account_updates(&account))
        .await
        .expect("updates");
    loop {
        match next_data(&mut updates).await {
            AccountUpdate::PortfolioValue(p) => {
                assert_eq!(
                    Some(&p.market_price),
                    cp_prices.get(&i64::from(p.contract.contract_id))
                );
            }
            AccountUpdate::End => break,
            _ => {}
        }
    }
}
