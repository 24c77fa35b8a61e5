//! The Client Portal Gateway's pacing: 10 requests per second overall and tighter limits on
//! some endpoints (`/tickle` 1/s, `/portfolio/accounts` and the partitioned PnL 1 per 5 s,
//! `/sso/validate` 1/min, snapshots 10/s), with an optional penalty box after a violation.
//!
//! Pure: `now` is passed in. Sliding windows of request times, so the answer is exact.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// One limit: at most `max` requests in any `window`.
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

/// The overall limit for a Client Portal Gateway user.
pub const GLOBAL: Limit = limit(10, 1000);

/// The per-endpoint limit of a path (below `/v1/api`), if it has one.
pub fn endpoint_limit(path: &str) -> Option<(&'static str, Limit)> {
    let table: [(&str, Limit); 6] = [
        ("/tickle", limit(1, 1000)),
        ("/portfolio/accounts", limit(1, 5000)),
        ("/portfolio/subaccounts", limit(1, 5000)),
        ("/iserver/account/pnl/partitioned", limit(1, 5000)),
        ("/sso/validate", limit(1, 60_000)),
        ("/iserver/marketdata/snapshot", limit(10, 1000)),
    ];
    table.into_iter().find(|(p, _)| *p == path)
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    global: VecDeque<Instant>,
    endpoints: HashMap<&'static str, VecDeque<Instant>>,
    penalty_until: Option<Instant>,
    /// How long a violation keeps every request refused (IBKR: 10–15 minutes); zero for none.
    pub penalty: Duration,
}

/// Records `now` in `times` if `limit` allows it; else how long until it would.
fn admit(times: &mut VecDeque<Instant>, limit: Limit, now: Instant) -> Result<(), Duration> {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= limit.window)
    {
        times.pop_front();
    }
    if times.len() >= limit.max {
        let oldest = *times.front().expect("len >= max >= 1");
        return Err(limit.window.saturating_sub(now.duration_since(oldest)));
    }
    times.push_back(now);
    Ok(())
}

impl RateLimiter {
    pub fn new(penalty: Duration) -> RateLimiter {
        RateLimiter {
            penalty,
            ..RateLimiter::default()
        }
    }

    /// Counts a request to `path`; `Err(retry_after)` when it must be refused with 429.
    pub fn check(&mut self, path: &str, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.penalty_until.filter(|t| *t > now) {
            return Err(until - now);
        }
        let result = match endpoint_limit(path) {
            Some((key, l)) => {
                let times = self.endpoints.entry(key).or_default();
                // The endpoint's own limit first, so a refused call does not use up the
                // global budget.
                admit(times, l, now).and_then(|()| {
                    admit(&mut self.global, GLOBAL, now).inspect_err(|_| {
                        times.pop_back();
                    })
                })
            }
            None => admit(&mut self.global, GLOBAL, now),
        };
        if result.is_err() && !self.penalty.is_zero() {
            self.penalty_until = Some(now + self.penalty);
            return Err(self.penalty);
        }
        result
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
