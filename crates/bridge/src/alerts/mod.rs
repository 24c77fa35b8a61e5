//! Alerts: the bridge calls a human when one is needed, and says what to do.
//!
//! - [`notice`]: what an alert says, the generic JSON every target receives.
pub mod notice;
pub mod policy;
pub mod rules;
