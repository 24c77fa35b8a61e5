//! Front-month expiry: how many business days a held futures leg has left before its last
//! trade date. A CL future held past it goes to delivery (CL is physically settled), so a
//! missed roll is a delivery notice; the alert says so days ahead.
//!
//! Pure: `today` is the exchange's date, passed in. Business days are Monday to Friday minus
//! the holidays the caller passes; the bridge knows none yet (the dates IBKR gives already
//! include the exchange's holidays, so only the count of days left can be off by one near a
//! holiday, never the last trade date itself).

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use super::contract::{Contract, SecType};
use super::ids::ConId;

/// The exchange calendar's zone: the date a CL or ES future's last trade date is counted in,
/// and the date an option's time to expiry is counted from.
pub const EXCHANGE_ZONE: &str = "America/Chicago";

/// The exchange's time zone. The time zone database is compiled into the binary
/// (`tzdb-bundle-always`), so looking up this constant name cannot fail at run time; the unit
/// tests prove the name is in it.
fn exchange_zone() -> TimeZone {
    TimeZone::get(EXCHANGE_ZONE).expect("the bundled tzdb has America/Chicago")
}

/// The exchange's date at `now`.
pub fn exchange_date(now: Timestamp) -> Date {
    now.to_zoned(exchange_zone()).date()
}

/// Midnight at the start of the exchange's day at `now`: where "today" begins for it.
pub fn exchange_day_start(now: Timestamp) -> Timestamp {
    exchange_date(now)
        .to_zoned(exchange_zone())
        .map_or(now, |z| z.timestamp())
}

/// A held futures leg near its last trade date.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiring {
    pub conid: ConId,
    /// `CLF7` where IBKR gave a local symbol, else the symbol.
    pub name: String,
    pub symbol: String,
    pub last_trade_date: Date,
    /// Business days after today up to and including the last trade date: 0 on the last
    /// trade date itself, negative once it has passed.
    pub business_days_left: i32,
    /// The net quantity held, over every account.
    pub quantity: f64,
}

pub fn is_business_day(date: Date, holidays: &[Date]) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !holidays.contains(&date)
}

/// Business days from `today` (exclusive) to `last` (inclusive); negative, counted the same
/// way backwards, once `last` has passed.
pub fn business_days_between(today: Date, last: Date, holidays: &[Date]) -> i32 {
    let (from, to, sign) = match today <= last {
        true => (today, last, 1),
        false => (last, today, -1),
    };
    let mut days = 0;
    let mut day = from;
    while day < to {
        // `to` is a later date, so a next day exists.
        let Ok(next) = day.tomorrow() else { break };
        day = next;
        if is_business_day(day, holidays) {
            days += 1;
        }
    }
    sign * days
}

/// The futures legs held (non-zero net quantity) whose last trade date is at most `within`
/// business days away, or past: CL first, then by days left and name.
pub fn expiring<'a>(
    held: impl IntoIterator<Item = (&'a Contract, f64)>,
    today: Date,
    within: i32,
    holidays: &[Date],
) -> Vec<Expiring> {
    let mut out: Vec<Expiring> = held
        .into_iter()
        .filter(|(c, qty)| c.sec_type == SecType::Future && *qty != 0.0)
        .filter_map(|(c, quantity)| {
            let last = c.last_trade_date?;
            let left = business_days_between(today, last, holidays);
            (left <= within).then(|| Expiring {
                conid: c.conid,
                name: c.local_symbol.clone().unwrap_or_else(|| c.symbol.clone()),
                symbol: c.symbol.clone(),
                last_trade_date: last,
                business_days_left: left,
                quantity,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.symbol != "CL", a.business_days_left, &a.name).cmp(&(
            b.symbol != "CL",
            b.business_days_left,
            &b.name,
        ))
    });
    out
}

#[cfg(test)]
#[path = "expiry_tests.rs"]
mod tests;
