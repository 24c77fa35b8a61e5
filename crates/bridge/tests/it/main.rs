//! The bridge's integration tests: one binary, against a real PostgreSQL (`DATABASE_URL`, which
//! `scripts/test` provides) and the real `portfolio-bridge` executable.
//!
//! - `alerts`: alerts delivered to a webhook receiver in the test as the simulator, the
//!   gateway session and PostgreSQL fail and recover; `alerts test` against every target shape.
//! - `api`: the read API over HTTP against data the real syncs wrote from ibkr-sim (`app`
//!   starts it all: `spawn_app()`).
//! - `bridges`: several bridges (`BRIDGE_NAME`) on one database, a taken name refused.
//! - `browser`: the web page in headless Chromium, the OpenAPI document validated (node).
//! - `cli`: the binary as an operator runs it — configuration errors, `.env`, `migrate`,
//!   `config`, `status`.
//! - `contract`: schemathesis checks the API against its OpenAPI document.
//! - `demo`: `scripts/demo` comes up, serves combos, and Ctrl-C leaves no process behind.
//! - `drain`: the drain's bulk path into PostgreSQL — rows partly stored already, values that
//!   must come back exactly.
//! - `greeks`: the greeks series through database outages and crashes, with a cluster of its own.
//! - `history`: partitioning an existing greeks table under a live writer, rollups, retention.
//! - `jobs`: the job queue (racing workers, leases, retries) and the position and combo syncs.
//! - `packaging`: the systemd unit, verified by systemd-analyze.
//! - `security`: the `Host` and `Origin` checks, sign-in redirects, the bearer scheme, the
//!   session cookie and the sign-in rate limit, over real HTTP.
//! - `schema`: migrations on fresh and pre-existing databases, read back from the catalog.
//! - `portal`: the Client Portal client, session keeper and PORTAL source against ibkr-sim.
//! - `timeouts`: the read API answers within its bound while PostgreSQL is locked or silent.
//! - `socket`: the TWS socket source and the watchdog against ibkr-sim, through ibapi.

mod alerts;
mod api;
mod app;
mod bridges;
mod browser;
mod cli;
mod contract;
mod demo;
mod drain;
mod greeks;
mod helpers;
mod history;
mod jobs;
mod packaging;
mod portal;
mod schema;
mod security;
mod socket;
mod timeouts;
