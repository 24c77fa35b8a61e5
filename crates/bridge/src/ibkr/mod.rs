//! The IBKR boundary: the transports the bridge reads from. Each turns IBKR's payloads into
//! domain types at the edge and writes them into the shared portfolio; none reads the
//! database or serves HTTP.
//!
//! - [`portal`]: the Client Portal Gateway (REST): client, session keeper, PORTAL source.
//! - [`socket`]: the TWS / IB Gateway socket API through `ibapi`: SOCKET mode's source.

pub mod portal;
pub mod socket;
