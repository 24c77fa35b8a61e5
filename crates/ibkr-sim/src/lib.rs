//! ibkr-sim: an IBKR gateway simulator that speaks Client Portal REST and the TWS socket
//! protocol from one scenario, so that the demo and every test of the bridge run without an
//! IBKR account.
//!
//! Not built yet: this crate only reserves its place in the workspace. Its own issue fills it
//! in; until then the binary says so and exits with an error.
