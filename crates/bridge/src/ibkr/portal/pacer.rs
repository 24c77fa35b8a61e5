//! Pacing: keeps every caller of the Client Portal, together, under the gateway's limits —
//! 10 requests/s overall and the per-endpoint limits (`/tickle` 1/s, `/portfolio/accounts`
//! and `/portfolio/subaccounts` 1 per 5 s, `/sso/validate` 1/min, snapshots 10/s) — with a
//! margin, and holds everyone back after a 429 until its `Retry-After` has passed.
//!
//! [`Pacing`] is the pure bookkeeping (`now` passed in); [`Pacer`] waits on it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// At most `max` requests in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
}

const fn limit(max: usize, millis: u64) -> Limit {
    Limit {
        max,
        window: Duration::from_millis(millis),
    }
}

/// The bridge's overall budget: one below the gateway's 10/s, so clock jitter between the
/// bridge and the gateway never tips a burst over.
pub const GLOBAL: Limit = limit(9, 1000);

/// The per-endpoint limit of `path` (below `/v1/api`), 10% wider than the gateway's own.
pub fn endpoint_limit(path: &str) -> Option<(&'static str, Limit)> {
    const TABLE: [(&str, Limit); 5] = [
        ("/tickle", limit(1, 1100)),
        ("/portfolio/accounts", limit(1, 5500)),
        ("/portfolio/subaccounts", limit(1, 5500)),
        ("/sso/validate", limit(1, 66_000)),
        ("/iserver/marketdata/snapshot", limit(9, 1000)),
    ];
    TABLE.into_iter().find(|(p, _)| *p == path)
}

/// Request times per window, and the hold a 429 imposed.
#[derive(Debug, Default)]
pub struct Pacing {
    global: VecDeque<Instant>,
    endpoints: HashMap<&'static str, VecDeque<Instant>>,
    held_until: Option<Instant>,
}

/// How long until `limit` admits one more request at `now`; `None` if it does now.
fn wait(times: &mut VecDeque<Instant>, limit: Limit, now: Instant) -> Option<Duration> {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= limit.window)
    {
        times.pop_front();
    }
    (times.len() >= limit.max).then(|| {
        let oldest = times[times.len() - limit.max];
        limit.window.saturating_sub(now.duration_since(oldest))
    })
}

impl Pacing {
    /// Takes a slot for a request to `path` at `now`, or says how long to wait before asking
    /// again.
    pub fn try_acquire(&mut self, path: &str, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.held_until.filter(|t| *t > now) {
            return Err(until - now);
        }
        let endpoint = endpoint_limit(path);
        let mut longest = wait(&mut self.global, GLOBAL, now);
        if let Some((key, l)) = endpoint {
            let times = self.endpoints.entry(key).or_default();
            longest = longest.max(wait(times, l, now));
        }
        if let Some(w) = longest {
            return Err(w);
        }
        self.global.push_back(now);
        if let Some((key, _)) = endpoint {
            self.endpoints.entry(key).or_default().push_back(now);
        }
        Ok(())
    }

    /// Holds every request until `until` (the gateway answered 429 with `Retry-After`).
    pub fn hold_until(&mut self, until: Instant) {
        self.held_until = Some(self.held_until.map_or(until, |t| t.max(until)));
    }
}

/// Shared pacing for every caller of one gateway.
#[derive(Debug, Default)]
pub struct Pacer(Mutex<Pacing>);

impl Pacer {
    /// Waits until a request to `path` may go, and takes its slot.
    pub async fn acquire(&self, path: &str) {
        loop {
            let result = self
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .try_acquire(path, Instant::now());
            match result {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    pub fn hold_for(&self, duration: Duration) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hold_until(Instant::now() + duration);
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
