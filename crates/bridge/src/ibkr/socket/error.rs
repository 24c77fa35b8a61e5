//! The TWS socket boundary's errors, worded for the operator.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    #[error(
        "IB Gateway / TWS at {addr} did not complete the connection within {} s: is it running, \
         logged in, and is the API enabled on that port?",
        .timeout.as_secs_f64()
    )]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error(
        "{var}={client_id} is already in use on {addr} (TWS error 326): set {var} to an id no \
         other API program uses, or close the other program"
    )]
    ClientIdInUse {
        addr: String,
        /// The variable that set the id: the bridge connects twice, with two ids.
        var: &'static str,
        client_id: i32,
    },
    #[error("cannot connect to IB Gateway / TWS at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("IB Gateway / TWS at {addr} gave no answer to a probe within {} s: the connection has stalled", .timeout.as_secs_f64())]
    Stalled { addr: String, timeout: Duration },
    #[error("the TWS API connection to {addr} was lost: {reason}")]
    Lost { addr: String, reason: String },
}
