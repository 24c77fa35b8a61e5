//! Futures contract months, local symbols and last trade dates, so that a default scenario
//! can list CL and ES contracts that are never expired; and the trading and liquid hours
//! contract details report.
//!
//! Pure: never reads the clock ("today" is always passed in) and does no I/O.
//!
//! Business days are Monday to Friday. Exchange holidays are ignored, so near a holiday a
//! date computed here can fall later than the exchange's own; the simulator only needs
//! dates that are plausible and consistent.
//!
//! The contract month, never the expiry month, names a contract: CL August 2026 stops
//! trading in July 2026 and is still `CLQ6`.

use jiff::civil::{Date, Weekday};

/// A futures contract month.
///
/// The methods here and on [`Root`] panic on a month outside 1..=12, which only a struct
/// literal can produce (use [`ContractMonth::new`]), and the date methods panic on a year
/// jiff cannot represent (outside −9999..=9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContractMonth {
    pub year: i16,
    /// 1..=12.
    pub month: i8,
}

/// Month code and upper-case English abbreviation, January first.
const MONTHS: [(char, &str); 12] = [
    ('F', "JAN"),
    ('G', "FEB"),
    ('H', "MAR"),
    ('J', "APR"),
    ('K', "MAY"),
    ('M', "JUN"),
    ('N', "JUL"),
    ('Q', "AUG"),
    ('U', "SEP"),
    ('V', "OCT"),
    ('X', "NOV"),
    ('Z', "DEC"),
];

impl ContractMonth {
    /// `None` if `month` is outside 1..=12.
    pub fn new(year: i16, month: i8) -> Option<ContractMonth> {
        (1..=12)
            .contains(&month)
            .then_some(ContractMonth { year, month })
    }

    /// The following month: December 2026 is followed by January 2027.
    pub fn next(self) -> ContractMonth {
        if self.month == 12 {
            ContractMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            ContractMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The previous month: December 2026 comes before January 2027.
    fn previous(self) -> ContractMonth {
        if self.month == 1 {
            ContractMonth {
                year: self.year - 1,
                month: 12,
            }
        } else {
            ContractMonth {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// `"202703"` for March 2027.
    pub fn yyyymm(self) -> String {
        format!("{:04}{:02}", self.year, self.month)
    }

    /// F G H J K M N Q U V X Z for January to December.
    pub fn month_code(self) -> char {
        MONTHS[self.index()].0
    }

    /// `"MAR2027"` for March 2027.
    pub fn mmm_yyyy(self) -> String {
        format!("{}{:04}", MONTHS[self.index()].1, self.year)
    }

    fn index(self) -> usize {
        usize::try_from(self.month)
            .ok()
            .and_then(|month| month.checked_sub(1))
            .filter(|&i| i < MONTHS.len())
            .expect("ContractMonth::month is 1..=12 (see ContractMonth::new)")
    }

    /// The given day of this month; only called with days every month has.
    fn day(self, day: i8) -> Date {
        Date::new(self.year, self.month, day)
            .expect("ContractMonth holds a month jiff can represent (see its docs)")
    }
}

/// The roots the simulator knows how to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// NYMEX WTI crude oil, options LO.
    Cl,
    /// CME E-mini S&P 500.
    Es,
}

impl Root {
    /// `"CL"` or `"ES"`, case-sensitive as IB spells them.
    pub fn parse(symbol: &str) -> Option<Root> {
        match symbol {
            "CL" => Some(Root::Cl),
            "ES" => Some(Root::Es),
            _ => None,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Root::Cl => "CL",
            Root::Es => "ES",
        }
    }

    /// IB local symbol: root + month code + ONE-digit year, e.g. CL March 2027 -> "CLH7",
    /// ES December 2026 -> "ESZ6".
    pub fn local_symbol(self, month: ContractMonth) -> String {
        format!(
            "{}{}{}",
            self.symbol(),
            month.month_code(),
            month.year.rem_euclid(10)
        )
    }

    /// Last trade date of the future.
    ///
    /// CL: three business days before the 25th of the month BEFORE the contract month, four
    /// if that 25th is not a business day. ES: the third Friday of the contract month.
    pub fn last_trade_date(self, month: ContractMonth) -> Date {
        match self {
            Root::Cl => {
                let twenty_fifth = month.previous().day(25);
                let days = if is_business_day(twenty_fifth) { 3 } else { 4 };
                (0..days).fold(twenty_fifth, |date, _| previous_business_day(date))
            }
            Root::Es => month
                .day(1)
                .nth_weekday_of_month(3, Weekday::Friday)
                .expect("every month has a third Friday"),
        }
    }

    /// Last trade date of the monthly (CL) or quarterly (ES) futures option on that
    /// contract month.
    ///
    /// CL (LO): the business day before the future's last trade date, a simplification of
    /// the exchange rule. ES: the same day as the future.
    pub fn option_last_trade_date(self, month: ContractMonth) -> Date {
        let future = self.last_trade_date(month);
        match self {
            Root::Cl => previous_business_day(future),
            Root::Es => future,
        }
    }

    /// Whether the root lists this month: CL every month, ES only March, June, September
    /// and December.
    pub fn lists(self, month: ContractMonth) -> bool {
        match self {
            Root::Cl => true,
            Root::Es => month.month % 3 == 0,
        }
    }

    /// The `count` nearest listed contract months whose future still trades on `today`
    /// (last trade date on or after `today`), front month first.
    pub fn listed_months(self, today: Date, count: usize) -> Vec<ContractMonth> {
        // Every earlier contract month has already stopped trading: CL stops the month
        // before and ES within its contract month.
        let mut month = ContractMonth {
            year: today.year(),
            month: today.month(),
        };
        let mut listed = Vec::with_capacity(count);
        while listed.len() < count {
            if self.lists(month) && self.last_trade_date(month) >= today {
                listed.push(month);
            }
            month = month.next();
        }
        listed
    }
}

/// The sessions an instrument trades in, as contract details describe them (New York time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions {
    /// CME Globex futures and their options: Sunday to Friday from 18:00 to 17:00 the next
    /// day; liquid hours the day session, 09:30 to 16:00.
    Globex,
    /// US stocks: 04:00 to 20:00, liquid 09:30 to 16:00, Monday to Friday.
    Stock,
    /// US stock options: 09:30 to 16:00, Monday to Friday.
    StockOption,
}

/// `(trading_hours, liquid_hours)` for the `days` days from `from`, in IB's format: sessions
/// `yyyymmdd:hhmm-yyyymmdd:hhmm` separated by `;`, a day without one `yyyymmdd:CLOSED`.
pub fn hours(sessions: Sessions, from: Date, days: i32) -> (String, String) {
    let ymd = |d: Date| d.strftime("%Y%m%d").to_string();
    let (mut trading, mut liquid) = (Vec::new(), Vec::new());
    let mut day = from;
    for _ in 0..days {
        let d = ymd(day);
        if is_business_day(day) {
            let open = match sessions {
                // The session ending today opened at 18:00 the day before (Sunday for Monday).
                Sessions::Globex => format!(
                    "{}:1800-{d}:1700",
                    ymd(day.yesterday().expect("a date after jiff's first"))
                ),
                Sessions::Stock => format!("{d}:0400-{d}:2000"),
                Sessions::StockOption => format!("{d}:0930-{d}:1600"),
            };
            trading.push(open);
            liquid.push(format!("{d}:0930-{d}:1600"));
        } else {
            trading.push(format!("{d}:CLOSED"));
            liquid.push(format!("{d}:CLOSED"));
        }
        day = day.tomorrow().expect("a date before jiff's last");
    }
    (trading.join(";"), liquid.join(";"))
}

fn is_business_day(date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The latest business day strictly before `date`. Only used on dates after the middle of a
/// month, so the result is always in the same month and exists.
fn previous_business_day(date: Date) -> Date {
    let mut day = date;
    loop {
        day = day
            .yesterday()
            .expect("a mid-month date has a previous day");
        if is_business_day(day) {
            return day;
        }
    }
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
