//! The tick-ingestion reference: a bare `ibapi` client that subscribes to the market data of
//! every option position, as the bridge does, and only counts what arrives — no portfolio, no
//! greeks, no database. Run as `pb-bench --tap ADDR`; it prints `subscribed N` once its
//! subscriptions are open, then answers each line on its standard input with `ticks T` (data
//! items since start), until its input ends. It must never do more per tick than count it: it
//! is the rate the bridge is compared with.

use anyhow::Context;
use ibapi::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Connects and reads the option positions whole: a connection whose positions stream fell
/// behind (ibapi dropped some of the burst) is replaced, as the bridge does.
async fn connect(addr: &str) -> anyhow::Result<(Client, Vec<Contract>)> {
    for _ in 0..5 {
        let client = Client::builder()
            .address(addr)
            .client_id(900)
            .connect()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        // The bridge asks for the same: live where permitted, delayed elsewhere.
        client
            .switch_market_data_type(MarketDataType::Delayed)
            .await?;
        let mut contracts = Vec::new();
        let mut whole = false;
        let mut positions = client.positions().await?;
        while let Some(item) = positions.next().await {
            match item? {
                SubscriptionItem::Data(PositionUpdate::Position(p)) => {
                    let option = matches!(
                        p.contract.security_type,
                        SecurityType::Option | SecurityType::FuturesOption
                    );
                    if option && p.position != 0.0 {
                        contracts.push(p.contract);
                    }
                }
                SubscriptionItem::Data(PositionUpdate::PositionEnd) => {
                    whole = true;
                    break;
                }
                SubscriptionItem::Notice(n) if n.code == ibapi::SUBSCRIPTION_LAG_CODE => break,
                SubscriptionItem::Notice(_) => {}
            }
        }
        if whole {
            return Ok((client, contracts));
        }
        eprintln!("the positions stream fell behind: connecting again");
        client.disconnect().await;
    }
    anyhow::bail!("the positions stream fell behind on 5 connections")
}

pub async fn run(addr: &str) -> anyhow::Result<()> {
    let (client, contracts) = connect(addr).await?;
    let client = Arc::new(client);

    let ticks = Arc::new(AtomicU64::new(0));
    let mut streams = tokio::task::JoinSet::new();
    for mut contract in contracts.iter().cloned() {
        if contract.exchange.to_string().is_empty() {
            contract.exchange = Exchange::from("SMART");
        }
        let mut sub = client.market_data(&contract).subscribe().await?;
        let ticks = ticks.clone();
        streams.spawn(async move {
            while let Some(item) = sub.next().await {
                if let Ok(SubscriptionItem::Data(_)) = item {
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    println!("subscribed {}", contracts.len());
    let mut questions = BufReader::new(tokio::io::stdin()).lines();
    while questions.next_line().await?.is_some() {
        println!("ticks {}", ticks.load(Ordering::Relaxed));
    }
    Ok(())
}
