//! Watchdog (second spec, US-7.5): keeps the TWS socket connected through IBKR's daily resets.
//!
//! Every `WATCHDOG_INTERVAL_SECONDS` it checks the connection; it also acts at once when the
//! source reports the connection lost, and it probes a connection that has gone quiet (socket
//! open, nothing received) with a request that must answer in time. When the connection is
//! down:
//!
//! - if it was lost and it is now inside IBKR's reset window (`IB_RESET_WINDOW`, by default
//!   23:40-00:05 New York time), it waits for the window's end;
//! - otherwise it connects at once, up to 3 attempts with exponential backoff, then waits for
//!   the next check — it never gives up for good.
//!
//! The window is about reconnecting: a process that has never connected (a start, or a
//! restart after a crash, inside the window) tries at once, because the gateway may well be up
//! and waiting would cost the rest of the window's data; if refused, it follows the retry policy.
//!
//! **With ibapi's own reconnect.** The source builds every `ibapi` client with its automatic
//! reconnect turned off, and the watchdog owns reconnecting alone: a new client for each new
//! connection, every subscription opened afresh. ibapi's reconnect would retry through the
//! reset window on its own backoff, use up its attempts unseen by `api_logs`, and leave
//! resubscribing to be coordinated with it; one owner keeps the policy in one place, every
//! attempt in `api_logs`, and makes "ibapi gave up" impossible by construction.
//!
//! A round whose every attempt failed is recorded in the feed's health
//! ([`crate::domain::portfolio::Refusal`]): a gateway that keeps refusing outside the window is
//! likely logged out, and the alerts call a human for it.
//!
//! The window rule is [`ResetWindow::resume_at`], a pure function of `now`; the loop reads
//! time only through a [`Clock`], so tests inject one.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::Shutdown;
use crate::api_log::ApiLog;
use crate::clock::Clock;
use crate::domain::api_log::{ApiLogEntry, ApiMode, LogStatus};
use crate::domain::reset_window::ResetWindow;
use crate::ibkr::socket::{SocketConnection, SocketEvent, SocketSource};

/// Reconnect attempts per round, and the first pause between them (doubling).
pub const ATTEMPTS: u32 = 3;

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
    /// When a lost connection waits instead of reconnecting.
    pub reset: ResetWindow,
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
    // The reset window applies to reconnecting only, never to the first connect.
    let mut ever_connected = false;
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

        // A loop: the end of one window may be the start of the next.
        while let Some(at) = ever_connected
            .then(|| settings.reset.resume_at(clock.now()))
            .flatten()
        {
            entry(
                LogStatus::Warning,
                format!(
                    "disconnected during IBKR's daily reset (IB_RESET_WINDOW={}): waiting until \
                     {} to reconnect",
                    settings.reset,
                    settings.reset.local(at)
                ),
            );
            tokio::select! {
                _ = clock.sleep_until(at) => {}
                _ = shutdown.wait() => return,
            }
        }
        let mut last_error = String::new();
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
                    ever_connected = true;
                    break;
                }
                Err(e) => {
                    entry(
                        LogStatus::Error,
                        format!("attempt {attempt} of {ATTEMPTS} failed: {e}"),
                    );
                    last_error = e.to_string();
                    source.mark_down(&last_error);
                }
            }
        }
        if connection.is_none() {
            source.round_failed(clock.now(), &last_error);
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
