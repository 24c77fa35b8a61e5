//! portfolio-bridge connects Interactive Brokers to PostgreSQL for traders who run their own
//! IB Gateway: a 5-second net-greeks series that survives database outages, leg and native
//! combo positions synced through a job queue, and a read API and web page for CL calendar
//! spreads. See `DESIGN.md` for the data flow; this is the map of the code.
//!
//! - [`config`]: every variable the bridge reads, parsed and validated once at startup.
//! - [`store`]: every SQL statement, the embedded migrations and the startup schema check.
//! - [`cli`]: the `portfolio-bridge` command line, a thin shell over the modules above.
//!
//! Dependencies point one way: `http → store`, `jobs → ibkr, store`, `greeks → domain, store`,
//! `ibkr → domain`; nothing depends on `http` or `cli`.

pub mod cli;
pub mod config;
pub mod store;
