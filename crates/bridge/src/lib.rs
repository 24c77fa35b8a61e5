//! portfolio-bridge connects Interactive Brokers to PostgreSQL for traders who run their own
//! IB Gateway: a 5-second net-greeks series that survives database outages, leg and native
//! combo positions synced through a job queue, and a read API and web page for CL calendar
//! spreads. See `DESIGN.md` for the data flow; this is the map of the code.
//!
//! - [`config`]: every variable the bridge reads, parsed and validated once at startup.
//! - [`domain`]: ids, contracts, the in-memory portfolio and api-log entries (pure).
//! - [`ibkr`]: the IBKR transports (TWS socket, Client Portal), writing into the shared portfolio.
//! - [`watchdog`]: keeps the TWS socket connected through IBKR's daily resets.
//! - [`clock`]: the one place the wall clock is read, so tests can inject another.
//! - [`greeks`]: the 5-second net-greeks ticker, the writer with its circuit breaker and spool.
//! - [`heartbeat`]: a running bridge's claim on its `BRIDGE_NAME` in a shared database.
//! - [`jobs`]: the PostgreSQL job queue's worker and scheduler, and the sync jobs
//!   (`positions.sync`, `combo_positions.sync`).
//! - [`api_log`]: the handle every part reports `api_logs` entries through.
//! - [`alerts`]: calls a human when one is needed — rules, deduplication, webhooks, a command.
//! - [`failpoint`]: named stops for crash tests; inert unless armed.
//! - [`http`]: the read API, the web page, `/healthz`, `/metrics`, the OpenAPI document.
//! - [`store`]: every SQL statement, the embedded migrations and the startup schema check.
//! - [`status_check`]: `portfolio-bridge status`, a running bridge's health for cron and monitors.
//! - [`runtime`]: `portfolio-bridge run`: wires the modules together and stops them cleanly.
//! - [`cli`]: the `portfolio-bridge` command line, a thin shell over the modules above.
//!
//! Dependencies point one way: `http → store`, `jobs → ibkr, store`, `greeks → domain, store`,
//! `ibkr → domain`, `status_check → http` (its status type), `alerts → domain` (and the live
//! state types of `greeks`, `ibkr`, `jobs`); nothing depends on `cli`.

pub mod alerts;
pub mod api_log;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod failpoint;
pub mod greeks;
pub mod heartbeat;
pub mod http;
pub mod ibkr;
pub mod jobs;
pub mod runtime;
pub mod status_check;
pub mod store;
pub mod watchdog;

/// This machine's name, as worker names and alerts carry it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A signal that the bridge is stopping; every long-running task holds one.
#[derive(Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    /// A signal and the sender that fires it.
    pub fn new() -> (tokio::sync::watch::Sender<bool>, Shutdown) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// Resolves once shutdown is requested (or its sender is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether shutdown has been requested.
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }
}
