//! Watchdog (second spec, US-7.5): keeps the TWS socket connected through IBKR's daily resets.
//!
//! Every `WATCHDOG_INTERVAL_SECONDS` it checks the connection; it also acts at once when the
//! source reports the connection lost, and it probes a connection that has gone quiet (socket
//! open, nothing received) with a request that must answer in time. When the connection is
//! down:
//!
//! - between 23:40 and 23:59 New York time (IBKR's reset), it waits until 00:05 New York time;
//! - otherwise it reconnects at once, up to 3 attempts with exponential backoff, then waits
//!   for the next check — it never gives up for good.
//!
//! **With ibapi's own reconnect.** The source builds every `ibapi` client with its automatic
//! reconnect turned off, and the watchdog owns reconnecting alone: a new client for each new
//! connection, every subscription opened afresh. ibapi's reconnect would retry through the
//! reset window on its own backoff, use up its attempts unseen by `api_logs`, and leave
//! resubscribing to be coordinated with it; one owner keeps the policy in one place, every
//! attempt in `api_logs`, and makes "ibapi gave up" impossible by construction.
//!
//! The window rule is [`resume_at`], a pure function of `now`; the loop reads time only through
//! a [`Clock`], so tests inject one.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::time;
use jiff::tz::TimeZone;

use crate::Shutdown;
use crate::api_log::ApiLog;
use crate::clock::Clock;
use crate::domain::api_log::{ApiLogEntry, ApiMode, LogStatus};
use crate::ibkr::socket::{SocketConnection, SocketEvent, SocketSource};

/// IBKR's daily reset, in New York time: disconnections from `WINDOW_START` to midnight wait
/// for `RESUME`.
const WINDOW_START: jiff::civil::Time = time(23, 40, 0, 0);
const RESUME: jiff::civil::Time = time(0, 5, 0, 0);
/// Reconnect attempts per round, and the first pause between them (doubling).
pub const ATTEMPTS: u32 = 3;

static NEW_YORK: std::sync::LazyLock<TimeZone> = std::sync::LazyLock::new(|| {
    TimeZone::get("America/New_York").expect("the bundled tzdb has New York")
});

/// When to reconnect after a disconnect at `now`: `Some(00:05 New York the next day)` inside
/// the 23:40–23:59 New York window, `None` (at once) otherwise.
pub fn resume_at(now: Timestamp) -> Option<Timestamp> {
    let local = now.to_zoned(NEW_YORK.clone());
    if local.time() < WINDOW_START {
        return None;
    }
    let tomorrow = local.date().tomorrow().ok()?;
    tomorrow
        .to_datetime(RESUME)
        .to_zoned(NEW_YORK.clone())
        .ok()
        .map(|z| z.timestamp())
}

/// The pause before reconnect attempt `attempt` (1-based): none before the first, then `base`,
/// `2 × base`, ….
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    match attempt {
        0 | 1 => Duration::ZERO,
        n => base * 2u32.saturating_pow(n - 2),
    }
}

/// What the watchdog needs from a clock and its settings.
#[derive(Clone)]
pub struct WatchdogSettings {
    pub interval: Duration,
    /// The first pause between reconnect attempts.
    pub backoff: Duration,
    /// A connection silent this long is probed.
    pub quiet_after: Duration,
    /// How long the probe may take before the connection counts as stalled.
    pub probe_timeout: Duration,
    pub clock: Arc<dyn Clock>,
}

/// Keeps `source` connected until `shutdown`, logging every attempt, success and failure to
/// `api_logs` (`api_mode = 'SOCKET'`).
pub async fn run(
    source: SocketSource,
    settings: WatchdogSettings,
    log: ApiLog,
    mut shutdown: Shutdown,
) {
    let clock = settings.clock.clone();
    let addr = source.settings().addr.clone();
    let client_id = source.settings().client_id;
    let entry = |status, message: String| {
        log.record(ApiLogEntry::new(
            clock.now(),
            ApiMode::Socket,
            status,
            message,
        ))
    };
    let mut connection: Option<SocketConnection> = None;
    // Checks keep their rhythm whatever events arrive in between.
    let mut next_check = clock.now();
    loop {
        if let Some(conn) = connection.as_mut() {
            let lost = tokio::select! {
                event = conn.next_event() => match event {
                    SocketEvent::Lost(reason) => Some(format!("TWS API connection lost: {reason}")),
                    SocketEvent::Notice { code, message } => {
                        let status = if matches!(code, 1102) { LogStatus::Ok } else { LogStatus::Warning };
                        entry(status, format!("TWS notice {code}: {message}"));
                        None
                    }
                },
                _ = clock.sleep_until(next_check) => {
                    next_check = later(clock.now(), settings.interval);
                    health(conn, &settings).await
                }
                _ = shutdown.wait() => {
                    if let Some(conn) = connection.take() {
                        conn.close().await;
                    }
                    return;
                }
            };
            if let Some(reason) = lost {
                entry(LogStatus::Error, reason.clone());
                source.mark_down(&reason);
                if let Some(conn) = connection.take() {
                    conn.close().await;
                }
            }
            continue;
        }

        if let Some(at) = resume_at(clock.now()) {
            let local = at.to_zoned(NEW_YORK.clone());
            entry(
                LogStatus::Warning,
                format!(
                    "disconnected during IBKR's daily reset (23:40-23:59 New York): waiting until {} New York to reconnect",
                    local.strftime("%Y-%m-%d %H:%M")
                ),
            );
            tokio::select! {
                _ = clock.sleep_until(at) => {}
                _ = shutdown.wait() => return,
            }
        }
        for attempt in 1..=ATTEMPTS {
            let pause = backoff(settings.backoff, attempt);
            if !pause.is_zero() {
                tokio::select! {
                    _ = clock.sleep(pause) => {}
                    _ = shutdown.wait() => return,
                }
            }
            entry(
                LogStatus::Warning,
                format!(
                    "connecting to TWS API at {addr} as client {client_id} (attempt {attempt} of {ATTEMPTS})"
                ),
            );
            let result = tokio::select! {
                r = source.connect() => r,
                _ = shutdown.wait() => return,
            };
            match result {
                Ok(conn) => {
                    entry(
                        LogStatus::Ok,
                        format!("connected to TWS API at {addr} as client {client_id}"),
                    );
                    connection = Some(conn);
                    break;
                }
                Err(e) => {
                    entry(
                        LogStatus::Error,
                        format!("attempt {attempt} of {ATTEMPTS} failed: {e}"),
                    );
                    source.mark_down(&e.to_string());
                }
            }
        }
        if connection.is_none() {
            entry(
                LogStatus::Warning,
                format!(
                    "still disconnected; next try in {} s",
                    settings.interval.as_secs_f64()
                ),
            );
            tokio::select! {
                _ = clock.sleep(settings.interval) => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    now.checked_add(by).unwrap_or(now)
}

/// The periodic check of a live connection: still open, and answering if it has gone quiet.
async fn health(conn: &SocketConnection, settings: &WatchdogSettings) -> Option<String> {
    if !conn.is_connected() {
        return Some("TWS API connection is closed".into());
    }
    if conn.quiet_for() < settings.quiet_after {
        return None;
    }
    conn.probe(settings.probe_timeout)
        .await
        .err()
        .map(|e| e.to_string())
}

#[cfg(test)]
#[path = "watchdog_tests.rs"]
mod tests;
