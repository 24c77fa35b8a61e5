//! How every page writes numbers, prices, quantities and times: one convention, so a figure reads
//! the same on Spreads, Greeks, Positions, Status and Risk. Pure.
//!
//! - Numbers group thousands with `,` and mark negatives with a real minus `−`.
//! - Prices carry the instrument's tick precision ([`price_decimals`]), never fewer than 2
//!   places; money has 2; quantities are signed (`+2`, `−1`).
//! - Times are instants: the server writes them in UTC with "UTC" shown, inside
//!   `<time datetime>` or beside a `data-t` attribute, and the page's script (`base.html`)
//!   rewrites them in the browser's zone with that zone shown. [`Clock`] names the layouts both
//!   sides share.

use jiff::Timestamp;

/// `1234567.891` → `1,234,567.89` with `decimals` places; `−` for negatives, never `−0.00`.
pub fn number(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let zero = value.abs() < 0.5 * 10f64.powi(-(decimals as i32));
    let sign = if value < 0.0 && !zero { "−" } else { "" };
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// What an unknown value shows.
const UNKNOWN: &str = "–";

/// A money amount (2 places), or `–` when unknown.
pub fn money(value: Option<f64>) -> String {
    value.map_or_else(|| UNKNOWN.into(), |v| number(v, 2))
}

/// A price at `symbol`'s tick precision (see [`price_decimals`]), or `–` when unknown.
pub fn instrument_price(
    value: Option<f64>,
    symbol: Option<&str>,
    sec_type: Option<&str>,
) -> String {
    let decimals = price_decimals(symbol.unwrap_or(""), sec_type.unwrap_or(""));
    value.map_or_else(|| UNKNOWN.into(), |v| number(v, decimals))
}

/// A futures root: its minimum price increment, and the unit its price is quoted per.
struct Root {
    symbol: &'static str,
    tick: f64,
    unit: &'static str,
}

const fn root(symbol: &'static str, tick: f64, unit: &'static str) -> Root {
    Root { symbol, tick, unit }
}

/// The futures roots a trader on this bridge is likely to hold (CME Group specifications).
/// Their options (`FOP`, same symbol at IBKR) are quoted in the same unit and, for these roots,
/// at a tick no finer than the future's, so one table serves both.
const ROOTS: &[Root] = &[
    root("CL", 0.01, "bbl"),
    root("MCL", 0.01, "bbl"),
    root("BZ", 0.01, "bbl"),
    root("QM", 0.025, "bbl"),
    root("NG", 0.001, "MMBtu"),
    root("HO", 0.0001, "gal"),
    root("RB", 0.0001, "gal"),
    root("GC", 0.1, "oz"),
    root("MGC", 0.1, "oz"),
    root("SI", 0.005, "oz"),
    root("HG", 0.0005, "lb"),
    root("ES", 0.25, "index pt"),
    root("MES", 0.25, "index pt"),
    root("NQ", 0.25, "index pt"),
    root("MNQ", 0.25, "index pt"),
    root("RTY", 0.1, "index pt"),
    root("YM", 1.0, "index pt"),
    root("6E", 0.00005, "EUR"),
    root("6J", 0.0000005, "JPY"),
    root("6B", 0.0001, "GBP"),
];

fn futures_root(symbol: &str, sec_type: &str) -> Option<&'static Root> {
    let futures = matches!(sec_type.to_ascii_uppercase().as_str(), "FUT" | "FOP");
    let symbol = symbol.trim();
    futures
        .then(|| ROOTS.iter().find(|r| r.symbol.eq_ignore_ascii_case(symbol)))
        .flatten()
}

/// Places that show every multiple of `tick` exactly: `0.25` → 2, `0.005` → 3, `1` → 0.
fn tick_decimals(tick: f64) -> usize {
    (0..=8)
        .find(|&d| {
            let scaled = tick * 10f64.powi(d as i32);
            scaled.round() >= 1.0 && (scaled - scaled.round()).abs() < 1e-9 * scaled
        })
        .unwrap_or(8)
}

/// Decimal places for a price of `symbol` (IBKR's root, `CL`) of `sec_type` (`FUT`, `FOP`,
/// `STK`, `OPT`, …): the tick's, never fewer than 2 so prices line up with money. Futures and
/// their options follow the root's tick (CL 0.01 → 2, ES 0.25 → 2, NG 0.001 → 3, 6E 0.00005 →
/// 5); stocks and equity options tick in cents; anything unknown gets 2.
pub fn price_decimals(symbol: &str, sec_type: &str) -> usize {
    futures_root(symbol, sec_type).map_or(2, |r| tick_decimals(r.tick).max(2))
}

/// The unit a price of `symbol` is quoted per (`bbl` for CL, `index pt` for ES, `share` for a
/// stock or an equity option), when known.
pub fn price_unit(symbol: &str, sec_type: &str) -> Option<&'static str> {
    match sec_type.to_ascii_uppercase().as_str() {
        "STK" | "OPT" => Some("share"),
        _ => futures_root(symbol, sec_type).map(|r| r.unit),
    }
}

/// A quantity: whole when it is, else 2 places; signed both ways (`+2`, `−1`, `0`).
pub fn quantity(value: Option<f64>) -> String {
    match value {
        None => UNKNOWN.into(),
        Some(v) => {
            let text = number(v, if v.fract() == 0.0 { 0 } else { 2 });
            if v > 0.0 { format!("+{text}") } else { text }
        }
    }
}

/// A greek: whole above 100, else 2 places, 4 below 1 (a gamma is often hundredths).
pub fn greek(v: f64) -> String {
    let a = v.abs();
    number(
        v,
        if a >= 100.0 {
            0
        } else if a >= 1.0 || a == 0.0 {
            2
        } else {
            4
        },
    )
}

/// A PnL cell: the amount and whether to mark it negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pnl {
    pub text: String,
    pub negative: bool,
}

/// A PnL amount (as [`money`]); a loss that rounds to zero is not marked.
pub fn pnl(value: Option<f64>) -> Pnl {
    Pnl {
        text: money(value),
        negative: value.is_some_and(|v| v < -0.005),
    }
}

/// The layouts a time is shown in. The page's script knows the same names (`data-fmt`) and
/// writes the same layout in the browser's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// `2026-11-21 14:05:05 UTC`: a table's or a fact's time.
    DateTime,
    /// `14:05:05 UTC`: a chart's hover value within a day's window.
    Time,
    /// `Sat 14:05:05 UTC`: a chart's hover value when the window spans days.
    DayTime,
    /// `14:05`: a time-axis label (the axis shows its zone once).
    HourMinute,
    /// `Sat 14:00`: a time-axis label when the window spans days.
    DayHourMinute,
    /// `Sat 21`: a time-axis label a day apart from the next.
    Day,
}

impl Clock {
    /// The name the script reads from `data-fmt`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::DateTime => "datetime",
            Clock::Time => "time",
            Clock::DayTime => "daytime",
            Clock::HourMinute => "hm",
            Clock::DayHourMinute => "dhm",
            Clock::Day => "day",
        }
    }

    fn strftime(self) -> &'static str {
        match self {
            Clock::DateTime => "%Y-%m-%d %H:%M:%S UTC",
            Clock::Time => "%H:%M:%S UTC",
            Clock::DayTime => "%a %H:%M:%S UTC",
            Clock::HourMinute => "%H:%M",
            Clock::DayHourMinute => "%a %H:%M",
            Clock::Day => "%a %-d",
        }
    }
}

/// `t` in UTC in `clock`'s layout: what a page read without JavaScript shows.
pub fn utc_clock(t: Timestamp, clock: Clock) -> String {
    t.strftime(clock.strftime()).to_string()
}

/// An instant for `<time datetime=…>`, and its UTC text for pages read without JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// RFC 3339, `2026-11-21T14:05:05Z`: what the script reads.
    pub iso: String,
    /// `2026-11-21 14:05:05 UTC`.
    pub text: String,
}

/// `t` for a `<time datetime="{iso}">{text}</time>` element in the [`Clock::DateTime`] layout.
pub fn when(t: Timestamp) -> When {
    When {
        iso: t.to_string(),
        text: utc_clock(t, Clock::DateTime),
    }
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
