//! Alerts: the bridge calls a human when one is needed, and says what to do.
//!
//! - [`notice`]: what an alert says, the generic JSON every target receives.
//! - [`target`]: where alerts go (a webhook in its shape, or a command), shown without secrets.
//! - [`deliver`]: sends notices to every target, each on its own, retrying until it answers.
pub mod deliver;
pub mod notice;
pub mod target;
