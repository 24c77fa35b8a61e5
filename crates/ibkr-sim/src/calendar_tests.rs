use super::*;
use jiff::civil::date;

fn month(year: i16, month: i8) -> ContractMonth {
    ContractMonth::new(year, month).expect("test months are 1..=12")
}

#[test]
fn new_accepts_only_months_1_to_12() {
    assert_eq!(
        ContractMonth::new(2026, 1),
        Some(ContractMonth {
            year: 2026,
            month: 1
        })
    );
    assert_eq!(
        ContractMonth::new(2026, 12),
        Some(ContractMonth {
            year: 2026,
            month: 12
        })
    );
    for bad in [-1, 0, 13, i8::MAX] {
        assert_eq!(ContractMonth::new(2026, bad), None, "month {bad}");
    }
}

#[test]
fn next_wraps_into_the_following_year_and_order_is_chronological() {
    assert_eq!(month(2026, 11).next(), month(2026, 12));
    assert_eq!(month(2026, 12).next(), month(2027, 1));
    assert!(month(2026, 12) < month(2027, 1));
    assert!(month(2026, 3) < month(2026, 10));
}

#[test]
fn month_codes_follow_the_exchange_letters() {
    let codes: String = (1..=12).map(|m| month(2026, m).month_code()).collect();
    assert_eq!(codes, "FGHJKMNQUVXZ");
}

#[test]
fn formats_yyyymm_and_mmm_yyyy() {
    assert_eq!(month(2027, 3).yyyymm(), "202703");
    assert_eq!(month(2026, 12).yyyymm(), "202612");
    assert_eq!(month(2027, 3).mmm_yyyy(), "MAR2027");
    assert_eq!(month(2030, 1).mmm_yyyy(), "JAN2030");
    assert_eq!(month(2026, 9).mmm_yyyy(), "SEP2026");
}

#[test]
fn root_parse_is_case_sensitive_and_round_trips() {
    for root in [Root::Cl, Root::Es] {
        assert_eq!(Root::parse(root.symbol()), Some(root));
    }
    assert_eq!(Root::parse("cl"), None);
    assert_eq!(Root::parse("Es"), None);
    assert_eq!(Root::parse("NQ"), None);
    assert_eq!(Root::parse(""), None);
}

#[test]
fn local_symbols_use_a_one_digit_year() {
    assert_eq!(Root::Cl.local_symbol(month(2027, 3)), "CLH7");
    assert_eq!(Root::Es.local_symbol(month(2026, 12)), "ESZ6");
    assert_eq!(Root::Cl.local_symbol(month(2029, 12)), "CLZ9");
    // The decade wraps: 2030 is "0".
    assert_eq!(Root::Cl.local_symbol(month(2030, 1)), "CLF0");
    assert_eq!(Root::Es.local_symbol(month(2030, 3)), "ESH0");
}

#[test]
fn the_contract_month_not_the_expiry_month_names_the_contract() {
    // Regression pin: deriving the code from the expiry date turned CL August 2026, which
    // stops trading in July, into "CLN6".
    let august = month(2026, 8);
    let last_trade = Root::Cl.last_trade_date(august);
    assert_eq!((last_trade.year(), last_trade.month()), (2026, 7));
    assert_eq!(Root::Cl.local_symbol(august), "CLQ6");
    assert_eq!(august.yyyymm(), "202608");
}

#[test]
fn cl_last_trade_dates_match_hand_counted_business_days() {
    let cases = [
        // 25 Jun 2026 is a Thursday: Wed 24, Tue 23, Mon 22.
        (month(2026, 7), date(2026, 6, 22)),
        // 25 Jul 2026 is a Saturday, so four days: Fri 24, Thu 23, Wed 22, Tue 21.
        (month(2026, 8), date(2026, 7, 21)),
        // 25 Aug 2026 is a Tuesday: Mon 24, Fri 21, Thu 20.
        (month(2026, 9), date(2026, 8, 20)),
        // 25 Oct 2026 is a Sunday, so four days: Fri 23, Thu 22, Wed 21, Tue 20.
        (month(2026, 11), date(2026, 10, 20)),
        // 25 Nov 2026 is a Wednesday: Tue 24, Mon 23, Fri 20.
        (month(2026, 12), date(2026, 11, 20)),
        // 25 Dec 2026 is a Friday, a business day here because holidays are ignored
        // (NYMEX itself ends CLF7 on 21 Dec): Thu 24, Wed 23, Tue 22.
        (month(2027, 1), date(2026, 12, 22)),
        // 25 Jan 2027 is a Monday: Fri 22, Thu 21, Wed 20.
        (month(2027, 2), date(2027, 1, 20)),
    ];
    for (contract, expected) in cases {
        assert_eq!(
            Root::Cl.last_trade_date(contract),
            expected,
            "CL {}",
            contract.yyyymm()
        );
    }
}

#[test]
fn es_last_trade_dates_are_third_fridays() {
    let cases = [
        (month(2026, 6), date(2026, 6, 19)),
        (month(2026, 9), date(2026, 9, 18)),
        (month(2026, 12), date(2026, 12, 18)),
        (month(2027, 3), date(2027, 3, 19)),
        // The month starts on a Friday: the earliest possible third Friday.
        (month(2028, 9), date(2028, 9, 15)),
        // The month starts on a Saturday: the latest possible third Friday.
        (month(2029, 9), date(2029, 9, 21)),
    ];
    for (contract, expected) in cases {
        assert_eq!(
            Root::Es.last_trade_date(contract),
            expected,
            "ES {}",
            contract.yyyymm()
        );
    }
}

#[test]
fn option_last_trade_date_is_one_business_day_before_for_cl_only() {
    // Future ends Tue 21 Jul 2026; the option the day before.
    assert_eq!(
        Root::Cl.option_last_trade_date(month(2026, 8)),
        date(2026, 7, 20)
    );
    // Future ends Mon 22 Jun 2026; the option skips the weekend back to Friday.
    assert_eq!(
        Root::Cl.option_last_trade_date(month(2026, 7)),
        date(2026, 6, 19)
    );
    // ES quarterly options end with the future.
    assert_eq!(
        Root::Es.option_last_trade_date(month(2026, 12)),
        date(2026, 12, 18)
    );
}

#[test]
fn cl_lists_every_month_and_es_only_quarters() {
    for m in 1..=12 {
        assert!(Root::Cl.lists(month(2026, m)), "CL month {m}");
        assert_eq!(
            Root::Es.lists(month(2026, m)),
            [3, 6, 9, 12].contains(&m),
            "ES month {m}"
        );
    }
}

#[test]
fn cl_front_month_rolls_after_its_last_trade_date() {
    // CLQ6 trades through Tue 21 Jul 2026.
    let on_last_day = Root::Cl.listed_months(date(2026, 7, 21), 3);
    assert_eq!(
        on_last_day,
        [month(2026, 8), month(2026, 9), month(2026, 10)]
    );
    let day_after = Root::Cl.listed_months(date(2026, 7, 22), 3);
    assert_eq!(
        day_after,
        [month(2026, 9), month(2026, 10), month(2026, 11)]
    );
}

#[test]
fn cl_listed_months_cross_the_year_boundary() {
    // CLF7 trades through Tue 22 Dec 2026.
    let before = Root::Cl.listed_months(date(2026, 12, 22), 3);
    assert_eq!(before, [month(2027, 1), month(2027, 2), month(2027, 3)]);
    let after = Root::Cl.listed_months(date(2026, 12, 23), 3);
    assert_eq!(after, [month(2027, 2), month(2027, 3), month(2027, 4)]);
}

#[test]
fn es_listed_months_are_quarterly_and_roll_after_the_third_friday() {
    let summer = Root::Es.listed_months(date(2026, 7, 1), 4);
    assert_eq!(
        summer,
        [
            month(2026, 9),
            month(2026, 12),
            month(2027, 3),
            month(2027, 6)
        ]
    );
    let expiry_day = Root::Es.listed_months(date(2026, 12, 18), 3);
    assert_eq!(
        expiry_day,
        [month(2026, 12), month(2027, 3), month(2027, 6)]
    );
    let day_after = Root::Es.listed_months(date(2026, 12, 19), 3);
    assert_eq!(day_after, [month(2027, 3), month(2027, 6), month(2027, 9)]);
}

#[test]
fn listed_months_with_zero_count_is_empty() {
    assert!(Root::Cl.listed_months(date(2026, 7, 1), 0).is_empty());
}

#[test]
fn listed_months_are_never_expired_and_never_skip_a_contract() {
    for root in [Root::Cl, Root::Es] {
        let mut today = date(2026, 1, 1);
        while today < date(2029, 1, 1) {
            let listed = root.listed_months(today, 5);
            assert_eq!(listed.len(), 5);
            // Consecutive listed months from the front, each still trading.
            let mut expected = listed[0];
            for &contract in &listed {
                assert_eq!(contract, expected, "{root:?} on {today}: {listed:?}");
                assert!(
                    root.last_trade_date(contract) >= today,
                    "{root:?} on {today}"
                );
                expected = contract.next();
                while !root.lists(expected) {
                    expected = expected.next();
                }
            }
            assert!(root.lists(listed[0]));
            // The listed contract before the front month must already have expired.
            let mut earlier = listed[0].previous();
            while !root.lists(earlier) {
                earlier = earlier.previous();
            }
            assert!(
                root.last_trade_date(earlier) < today,
                "{root:?} on {today}: {listed:?}"
            );
            today = today
                .tomorrow()
                .expect("test dates are far from jiff's limits");
        }
    }
}

#[test]
fn hours_are_in_ibs_format_with_weekends_closed() {
    // Friday 2026-12-04 to Monday 2026-12-07.
    let (trading, liquid) = hours(Sessions::Globex, date(2026, 12, 4), 4);
    assert_eq!(
        trading,
        "20261203:1800-20261204:1700;20261205:CLOSED;20261206:CLOSED;20261206:1800-20261207:1700"
    );
    assert_eq!(
        liquid,
        "20261204:0930-20261204:1600;20261205:CLOSED;20261206:CLOSED;20261207:0930-20261207:1600"
    );
    let (stock, _) = hours(Sessions::Stock, date(2026, 12, 4), 1);
    assert_eq!(stock, "20261204:0400-20261204:2000");
    let (option, _) = hours(Sessions::StockOption, date(2026, 12, 4), 1);
    assert_eq!(option, "20261204:0930-20261204:1600");
}
