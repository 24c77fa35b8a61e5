//! The daily restart schedule: the next time a New York wall-clock time comes round.
//!
//! Pure: `now` is passed in. Across daylight-saving changes the restart keeps its New York
//! wall-clock time; a time that does not exist that day (in the spring gap) is moved later,
//! as jiff's compatible disambiguation does.

use jiff::Timestamp;
use jiff::civil::Time;

use crate::world::NEW_YORK;

/// The first instant after `now` at which New York clocks show `at`.
pub fn next_daily(now: Timestamp, at: Time) -> Timestamp {
    let today = now.to_zoned(NEW_YORK.clone()).date();
    let mut day = today;
    loop {
        let candidate = day.to_datetime(at).to_zoned(NEW_YORK.clone());
        if let Ok(zoned) = candidate
            && zoned.timestamp() > now
        {
            return zoned.timestamp();
        }
        day = day.tomorrow().expect("dates far from jiff's limits");
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
