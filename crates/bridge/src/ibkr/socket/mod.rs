//! The TWS / IB Gateway socket (`ibapi` 5.5): one connection's streams into the portfolio.
//! Reconnecting is the [`watchdog`](crate::watchdog)'s job, not this module's.
//!
//! - [`source`]: connecting, and the positions, account-update, contract and market-data
//!   streams.
//! - [`ticks`]: market-data ticks to prices and greeks (pure).
//! - [`error`]: what can go wrong, worded for the operator.

pub mod error;
pub mod source;
pub mod ticks;

pub use error::SocketError;
pub use source::{SocketConnection, SocketEvent, SocketSettings, SocketSource};
