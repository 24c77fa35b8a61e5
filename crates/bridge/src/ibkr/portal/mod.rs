//! The Client Portal Gateway (REST): the HTTP client with its pacing and errors, the wire
//! format, the session keeper, and the PORTAL-mode source.
//!
//! - [`client`]: requests, retries, TLS policy; [`pacer`]: the gateway's rate limits.
//! - [`wire`]: lenient reading of IBKR's JSON into domain types.
//! - [`session`]: the keep-alive and the shared session state.
//! - [`source`]: PORTAL mode's polling into the portfolio.
//! - [`error`]: what can go wrong, worded for the operator.

pub mod client;
pub mod error;
pub mod pacer;
pub mod session;
pub mod source;
pub mod wire;

pub use client::PortalClient;
pub use error::PortalError;
pub use session::{PortalSession, SessionKeeper, SessionState};
pub use source::PortalSource;
