use ibkr_sim::calendar::{ContractMonth, Root};
use jiff::civil::date;

use super::*;

fn future(conid: i64, local: &str, last: Date) -> Contract {
    let mut c = Contract::new(ConId::new(conid).unwrap(), "CL", SecType::Future);
    c.local_symbol = Some(local.into());
    c.last_trade_date = Some(last);
    c
}

fn cl(year: i16, month: i8) -> Date {
    Root::Cl.last_trade_date(ContractMonth::new(year, month).unwrap())
}

#[test]
fn days_left_count_business_days_after_today_up_to_the_last_trade_date() {
    // The simulator's CLF7 (January 2027) stops on Tuesday 22 December 2026.
    let last = cl(2027, 1);
    assert_eq!(last, date(2026, 12, 22));
    assert_eq!(business_days_between(date(2026, 12, 2), last, &[]), 14);
    assert_eq!(business_days_between(date(2026, 12, 15), last, &[]), 5);
    // From a Friday, the weekend does not count.
    assert_eq!(business_days_between(date(2026, 12, 18), last, &[]), 2);
    assert_eq!(business_days_between(date(2026, 12, 19), last, &[]), 2);
    assert_eq!(business_days_between(last, last, &[]), 0);
    // Held past it: negative.
    assert_eq!(business_days_between(date(2026, 12, 23), last, &[]), -1);
    assert_eq!(business_days_between(date(2026, 12, 28), last, &[]), -4);
}

#[test]
fn holidays_passed_in_are_not_business_days() {
    let thanksgiving = date(2026, 11, 26);
    assert_eq!(
        business_days_between(date(2026, 11, 24), date(2026, 12, 1), &[]),
        5
    );
    assert_eq!(
        business_days_between(date(2026, 11, 24), date(2026, 12, 1), &[thanksgiving]),
        4
    );
    assert!(!is_business_day(thanksgiving, &[thanksgiving]));
}

#[test]
fn only_held_futures_within_the_limit_are_expiring_cl_first() {
    let front = future(1, "CLF7", cl(2027, 1));
    let back = future(2, "CLG7", cl(2027, 2));
    let mut es = future(3, "ESZ6", date(2026, 12, 18));
    es.symbol = "ES".into();
    let flat = future(4, "CLH7", date(2026, 12, 16));
    let mut option = future(5, "LOF7 C70", date(2026, 12, 21));
    option.sec_type = SecType::FutureOption;
    let today = date(2026, 12, 15);
    let held = [
        (&es, 1.0),
        (&back, 2.0),
        (&front, -2.0),
        (&flat, 0.0),
        (&option, 1.0),
    ];
    let out = expiring(held, today, 5, &[]);
    let names: Vec<_> = out
        .iter()
        .map(|e| (e.name.as_str(), e.business_days_left))
        .collect();
    // CLG7 stops on 20 January 2027, far away; ESZ6 is 3 days out but comes after CL.
    assert_eq!(names, [("CLF7", 5), ("ESZ6", 3)]);
    assert_eq!(out[0].quantity, -2.0);
    assert!(expiring([(&front, 1.0)], date(2026, 12, 14), 5, &[]).is_empty());
}

#[test]
fn a_future_without_a_last_trade_date_is_never_expiring() {
    let mut c = future(1, "CLF7", cl(2027, 1));
    c.last_trade_date = None;
    assert!(expiring([(&c, 1.0)], date(2026, 12, 21), 5, &[]).is_empty());
}

#[test]
fn the_day_starts_at_midnight_in_chicago() {
    // 2027-01-15 10:00 UTC is 04:00 in Chicago (UTC−6): the day began at 06:00 UTC.
    let now: Timestamp = "2027-01-15T10:00:00Z".parse().unwrap();
    assert_eq!(exchange_day_start(now).to_string(), "2027-01-15T06:00:00Z");
    // 03:00 UTC is still the 14th in Chicago.
    let late: Timestamp = "2027-01-15T03:00:00Z".parse().unwrap();
    assert_eq!(exchange_day_start(late).to_string(), "2027-01-14T06:00:00Z");
}
