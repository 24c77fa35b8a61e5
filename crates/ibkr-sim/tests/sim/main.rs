//! ibkr-sim against real clients: the `ibapi` 5.5 async client on the TWS side and a plain
//! HTTPS client on the Client Portal side, plus the binary and its control API.
//!
//! - `tws`: handshake, positions, account updates, PnL, contract details, market data.
//! - `tws_faults`: restarts and reconnects, notices, stalls, accept-then-close, client ids.
//! - `cp`: every Client Portal endpoint's shape and types, the session model, pacing.
//! - `cp_faults`: injected statuses, delays and malformed payloads.
//! - `openapi`: every served response against IBKR's published OpenAPI schemas.
//! - `consistency`: both protocols serve the same conids, quantities and prices.
//! - `cli`: the `ibkr-sim` binary and its control API over HTTP.
//! - `clients`: ib_async and IBKR's official Python client, text protocol to protobuf.

mod cli;
mod clients;
mod consistency;
mod cp;
mod cp_faults;
mod helpers;
mod openapi;
mod tws;
mod tws_faults;
