//! Failpoints: named places where a crash test stops the bridge so it can be killed there
//! (`SIGKILL`) — in the middle of a spool append, or after a drain committed but before the
//! spool was trimmed.
//!
//! Inert unless `PORTFOLIO_BRIDGE_FAILPOINT` names the point: then, on reaching it, the
//! process prints `failpoint <name> reached` to standard error and stops every thread there,
//! waiting to be killed. Never set in production.

use std::sync::LazyLock;

static ARMED: LazyLock<Option<String>> = LazyLock::new(|| {
    std::env::var("PORTFOLIO_BRIDGE_FAILPOINT")
        .ok()
        .filter(|s| !s.is_empty())
});

/// Whether the failpoint `name` is armed.
pub fn armed(name: &str) -> bool {
    ARMED.as_deref() == Some(name)
}

/// Stops here for good if `name` is armed.
pub fn hit(name: &str) {
    if armed(name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::park();
        }
    }
}
