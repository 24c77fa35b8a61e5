//! Ticker: every `GREEKS_INTERVAL_SECONDS`, on the interval boundary, computes the net greeks
//! from a snapshot of the portfolio and hands the rows — all stamped with the tick's time — to
//! the writer. It never waits for the database: handing over is an unbounded channel send.
//!
//! A tick that comes too late (the process was held up past the next boundary) is skipped,
//! not bunched: the next tick is always the next boundary after now. While the feed is down,
//! or up but still delivering its positions list, no rows are written — a gap says "no data"
//! more truthfully than sums over stale or half-known positions (a fresh start would write
//! zeros) — and the status says so. The first row is at the first boundary after both.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::record::Record;
use super::writer::RecordSender;
use crate::Shutdown;
use crate::clock::Clock;
use crate::domain::expiry;
use crate::domain::ids::BridgeName;
use crate::domain::net_greeks::{LeftOut, net_greeks};
use crate::domain::portfolio::{Portfolio, SharedPortfolio};

/// The first interval boundary strictly after `now` (boundaries are whole multiples of
/// `interval` since the Unix epoch).
pub fn next_boundary(now: Timestamp, interval: Duration) -> Timestamp {
    let step = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let ms = now.as_millisecond();
    let next = (ms.div_euclid(step) + 1) * step;
    Timestamp::from_millisecond(next).unwrap_or(now)
}

/// Why a tick writes no rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holdback {
    /// The feed is down: what it described is stale.
    FeedDown,
    /// The feed is up but has not delivered its whole positions list since it connected.
    PositionsLoading,
}

/// Whether a tick over `p` must write nothing, and why.
pub fn holdback(p: &Portfolio) -> Option<Holdback> {
    if !p.health().connected {
        Some(Holdback::FeedDown)
    } else if p.positions_complete().is_none() {
        Some(Holdback::PositionsLoading)
    } else {
        None
    }
}

/// What the last tick did, for the status API.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TickStatus {
    /// The last tick whose rows were handed to the writer.
    pub last_tick: Option<Timestamp>,
    /// Rows handed over since start.
    pub rows: u64,
    /// Positions in the last tick's sums.
    pub counted: usize,
    /// Positions left out of the last tick's sums, with the reason.
    pub left_out: Vec<LeftOut>,
    /// Ticks skipped because the feed was down or its positions still loading.
    pub skipped: u64,
    /// How long after its boundary the last tick handed its rows over (the tick's jitter).
    pub lateness: Duration,
}

#[derive(Clone)]
pub struct TickerSettings {
    /// Whose rows these are.
    pub bridge: BridgeName,
    pub interval: Duration,
    pub max_age: Duration,
    pub clock: Arc<dyn Clock>,
}

/// Ticks until `shutdown`.
pub async fn run(
    portfolio: SharedPortfolio,
    settings: TickerSettings,
    out: RecordSender,
    status: watch::Sender<TickStatus>,
    mut shutdown: Shutdown,
) {
    let clock = settings.clock.clone();
    let mut was_up = true;
    loop {
        let at = next_boundary(clock.now(), settings.interval);
        tokio::select! {
            _ = clock.sleep_until(at) => {}
            _ = shutdown.wait() => return,
        }
        let snapshot = portfolio.snapshot();
        let held = holdback(&snapshot);
        let up = held != Some(Holdback::FeedDown);
        if up != was_up {
            match up {
                true => info!("feed up: greeks rows resume"),
                false => warn!(
                    "feed down: no greeks rows until it is back ({})",
                    snapshot.health().message
                ),
            }
            was_up = up;
        }
        if let Some(why) = held {
            debug!(at = %at, ?why, "greeks tick skipped");
            status.send_modify(|s| s.skipped += 1);
            continue;
        }
        // Options' time to expiry counts from the exchange's date, as their expiry is given.
        let today = expiry::exchange_date(at);
        let net = net_greeks(&snapshot, at, today, settings.max_age);
        let records: Vec<Record> = net
            .rows
            .iter()
            .map(|row| Record::greeks(at, &settings.bridge, row))
            .collect();
        let count = records.len() as u64;
        if out.send(records).is_err() {
            warn!("the writer is gone: stopping the ticker");
            return;
        }
        let lateness = clock.now().duration_since(at).unsigned_abs();
        debug!(
            at = %at,
            rows = count,
            late_ms = lateness.as_secs_f64() * 1e3,
            "greeks tick"
        );
        status.send_modify(|s| {
            if s.left_out != net.left_out && !net.left_out.is_empty() {
                warn!(
                    "{} positions left out of the greeks (missing or stale data)",
                    net.left_out.len()
                );
            }
            s.last_tick = Some(at);
            s.rows += count;
            s.counted = net.counted;
            s.left_out = net.left_out;
            s.lateness = lateness;
        });
    }
}

#[cfg(test)]
#[path = "ticker_tests.rs"]
mod tests;
