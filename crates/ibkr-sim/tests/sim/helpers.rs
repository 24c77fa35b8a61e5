//! Starting a simulator on ephemeral ports and the clients that talk to it.

use std::future::Future;
use std::time::Duration;

use ibapi::prelude::*;
use ibkr_sim::scenario::Scenario;
use ibkr_sim::world::NEW_YORK;
use ibkr_sim::{SimConfig, Simulator};

/// Long enough for anything that should happen; reaching it fails the test.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(NEW_YORK.clone()).date()
}

pub fn config() -> SimConfig {
    SimConfig::for_tests(Scenario::default_for(today()))
}

pub async fn start() -> Simulator {
    start_with(config()).await
}

pub async fn start_with(config: SimConfig) -> Simulator {
    Simulator::start(config)
        .await
        .expect("the simulator starts")
}

/// `fut`, or a panic naming `what` if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub async fn connect(sim: &Simulator, client_id: i32) -> Client {
    within(
        "connect",
        Client::connect(&sim.tws_addr().to_string(), client_id),
    )
    .await
    .expect("ibapi connects")
}

/// An HTTPS client that accepts the simulator's self-signed certificate, as the bridge does
/// for a loopback gateway.
pub fn http() -> reqwest::Client {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The next data item of a subscription, skipping notices.
pub async fn next_data<T, S>(sub: &mut S) -> T
where
    T: std::fmt::Debug,
    S: futures_core::Stream<Item = Result<SubscriptionItem<T>, ibapi::Error>> + Unpin,
{
    loop {
        match within("the next item", sub.next()).await {
            Some(Ok(SubscriptionItem::Data(d))) => return d,
            Some(Ok(SubscriptionItem::Notice(_))) => continue,
            other => panic!("subscription ended: {other:?}"),
        }
    }
}
