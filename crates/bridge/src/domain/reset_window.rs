//! IBKR's daily reset window: the hours in which a gateway restarts and refuses connections,
//! so that a connection lost then waits for the window's end instead of retrying into it.
//!
//! `IB_RESET_WINDOW` holds one or more `HH:MM-HH:MM` windows (a window may cross midnight),
//! read in `IB_RESET_TIMEZONE`; `none` means no window. The default, `23:40-00:05` New York,
//! is the spec's rule. Whether the rule applies at all (only to a connection that was lost, never
//! to a first connect) is the watchdog's decision; this module only answers "when may a
//! reconnect start?".
//!
//! Pure: never reads a clock — callers pass `now`.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// The default `IB_RESET_WINDOW`.
pub const DEFAULT_WINDOW: &str = "23:40-00:05";
/// The default `IB_RESET_TIMEZONE`.
pub const DEFAULT_TIMEZONE: &str = "America/New_York";

/// One window of local time, `[start, end)`; `start > end` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: Time,
    end: Time,
}

impl Window {
    /// When a reconnect may start if `local` (a local time on `date`) is inside this window:
    /// the window's end, on `date` or the next day.
    fn end_after(&self, date: Date, local: Time) -> Option<Date> {
        if self.start < self.end {
            (self.start <= local && local < self.end).then_some(date)
        } else if local >= self.start {
            date.tomorrow().ok()
        } else if local < self.end {
            Some(date)
        } else {
            None
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M")
        )
    }
}

fn parse_hhmm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

impl FromStr for Window {
    type Err = ();

    fn from_str(s: &str) -> Result<Window, ()> {
        let (start, end) = s.split_once('-').ok_or(())?;
        let (start, end) = (parse_hhmm(start).ok_or(())?, parse_hhmm(end).ok_or(())?);
        if start == end {
            return Err(());
        }
        Ok(Window { start, end })
    }
}

/// The windows of `IB_RESET_WINDOW`, in order; empty for `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows(Vec<Window>);

impl Windows {
    pub fn none() -> Windows {
        Windows(Vec::new())
    }
}

impl FromStr for Windows {
    type Err = ();

    fn from_str(s: &str) -> Result<Windows, ()> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(Windows::none());
        }
        s.split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Windows)
    }
}

impl fmt::Display for Windows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{w}")?;
        }
        Ok(())
    }
}

/// The reset windows and the zone they are read in.
#[derive(Debug, Clone, PartialEq)]
pub struct ResetWindow {
    windows: Windows,
    zone: TimeZone,
}

impl ResetWindow {
    pub fn new(windows: Windows, zone: TimeZone) -> ResetWindow {
        ResetWindow { windows, zone }
    }

    /// No window: every disconnect reconnects at once.
    pub fn none() -> ResetWindow {
        ResetWindow::new(Windows::none(), TimeZone::UTC)
    }

    /// The spec's rule: 23:40 to 00:05 New York time.
    pub fn default_new_york() -> ResetWindow {
        let windows = DEFAULT_WINDOW.parse().expect("the default window is valid");
        let zone = TimeZone::get(DEFAULT_TIMEZONE).expect("the bundled tzdb has New York");
        ResetWindow::new(windows, zone)
    }

    pub fn windows(&self) -> &Windows {
        &self.windows
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The zone's name, as `IB_RESET_TIMEZONE` spells it.
    pub fn zone_name(&self) -> &str {
        self.zone.iana_name().unwrap_or("UTC")
    }

    /// When a reconnect may start for a connection that is down at `now`: `Some(the end of the
    /// window)` inside a window (the latest end, if windows overlap), `None` (at once) outside.
    pub fn resume_at(&self, now: Timestamp) -> Option<Timestamp> {
        let local = now.to_zoned(self.zone.clone());
        self.windows
            .0
            .iter()
            .filter_map(|w| {
                let date = w.end_after(local.date(), local.time())?;
                let end = self.zone.to_ambiguous_zoned(date.to_datetime(w.end));
                // A wall time that a clock change skips resolves to the later instant; one it
                // repeats, to the first that is still ahead.
                let first = end.clone().compatible().ok()?.timestamp();
                match first > now {
                    true => Some(first),
                    false => Some(end.later().ok()?.timestamp()).filter(|t| *t > now),
                }
            })
            .max()
    }

    /// `at` as a wall time in the window's zone, for messages: `2026-11-21 00:05 America/New_York`.
    pub fn local(&self, at: Timestamp) -> String {
        let wall = at.to_zoned(self.zone.clone());
        format!("{} {}", wall.strftime("%Y-%m-%d %H:%M"), self.zone_name())
    }
}

impl fmt::Display for ResetWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.windows, self.zone_name())
    }
}

#[cfg(test)]
#[path = "reset_window_tests.rs"]
mod tests;
