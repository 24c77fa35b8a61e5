use super::*;

fn c(n: i64) -> ConId {
    ConId::new(n).expect("valid")
}

fn q(account_id: i32, conid: i64, quantity: f64) -> LegQuantity {
    LegQuantity {
        account_id,
        conid: c(conid),
        quantity,
        unrealized_pnl: Some(0.0),
    }
}

fn with_pnl(leg: LegQuantity, pnl: Option<f64>) -> LegQuantity {
    LegQuantity {
        unrealized_pnl: pnl,
        ..leg
    }
}

#[test]
fn legs_read_as_signed_ratios_and_names() {
    assert_eq!(
        legs_text([(-1.0, "CLH7"), (1.0, "CLM7")]),
        "-1 CLH7 / +1 CLM7"
    );
    assert_eq!(legs_text([(2.0, "CLZ6"), (-0.5, "X")]), "+2 CLZ6 / -0.5 X");
    assert_eq!(legs_text([]), "");
}

#[test]
fn a_fully_covered_leg_is_absent_and_a_partly_covered_one_shows_the_rest() {
    let held = [
        q(1, 810000001, -3.0), // combos hold -2 of it
        q(1, 810000002, 1.0),  // +2 in one combo, -1 in another
        q(1, 810000003, -1.0), // in no combo
        q(2, 810000001, 4.0),  // another account: its own combos only
    ];
    let combos = [
        q(1, 810000001, -2.0),
        q(1, 810000002, 2.0),
        q(1, 810000002, -1.0),
        q(2, 810000009, 1.0), // not held: explains nothing
    ];
    let got: Vec<(i32, i32, f64, f64)> = unmatched(&held, &combos)
        .into_iter()
        .map(|u| (u.account_id, u.conid.get(), u.in_combos, u.remainder))
        .collect();
    assert_eq!(
        got,
        [
            (1, 810000001, -2.0, -1.0),
            (1, 810000003, 0.0, -1.0),
            (2, 810000001, 0.0, 4.0),
        ]
    );
}

#[test]
fn rounding_is_not_a_position() {
    let held = [q(1, 5, 0.3)];
    let combos = [q(1, 5, 0.1), q(1, 5, 0.2)];
    assert!(unmatched(&held, &combos).is_empty());
}

#[test]
fn combo_shares_and_the_remainder_add_up_to_the_positions_pnl_to_the_cent() {
    // The observed case: CLF7 −3 held with 1,010.00 of PnL; a combo holds −2 of it, and IBKR
    // gives that share 760.00 (from the combo's own fill prices). The remainder carries the
    // rest — 250.00, not a third of the position's 1,010.00.
    let held = [with_pnl(q(1, 810000001, -3.0), Some(1010.0))];
    let combos = [with_pnl(q(1, 810000001, -2.0), Some(760.0))];
    let u = &unmatched(&held, &combos)[0];
    assert_eq!(u.remainder, -1.0);
    assert_eq!(u.remainder_pnl, Ok(250.0));
    let cents = |v: f64| (v * 100.0).round() as i64;
    assert_eq!(
        cents(760.0) + cents(u.remainder_pnl.unwrap()),
        cents(1010.0)
    );
}

#[test]
fn a_remainder_whose_pnl_cannot_be_told_says_why() {
    let held = [with_pnl(q(1, 7, 3.0), Some(90.0))];
    let combos = [with_pnl(q(1, 7, 1.0), None)];
    assert_eq!(
        unmatched(&held, &combos)[0].remainder_pnl,
        Err(Unreconciled::NoComboPnl)
    );
    let held = [with_pnl(q(1, 7, 3.0), None)];
    assert_eq!(
        unmatched(&held, &[])[0].remainder_pnl,
        Err(Unreconciled::NoPositionPnl)
    );
}

fn fut<'a>(ratio: f64, local: &'a str, last: Date) -> LabelLeg<'a> {
    LabelLeg {
        ratio,
        symbol: Some("CL"),
        local_symbol: Some(local),
        description: None,
        sec_type: Some("FUT"),
        last_trade_date: Some(last),
        strike: None,
        right: None,
    }
}

#[test]
fn a_calendar_is_named_by_its_months_front_first() {
    use jiff::civil::date;
    // CLF7 (January 2027) stops trading in December 2026: the name is its contract month.
    let legs = [
        fut(1.0, "CLG7", date(2027, 1, 20)),
        fut(-1.0, "CLF7", date(2026, 12, 21)),
    ];
    let l = label(&legs).expect("a calendar");
    assert_eq!(l.long, "CL Jan27/Feb27");
    assert_eq!(l.codes, "CL F7/G7");
    // The decade comes from the last trade date: CLF0 stops in December 2029.
    assert_eq!(
        ContractMonth::from_local_symbol("CLF0", date(2029, 12, 19)),
        Some(ContractMonth {
            year: 2030,
            month: 1
        })
    );
    assert_eq!(
        ContractMonth::from_local_symbol("C7000", date(2027, 1, 1)),
        None
    );
}

#[test]
fn a_month_is_read_from_ibkrs_description_when_there_is_no_local_symbol() {
    assert_eq!(
        ContractMonth::from_description("CL       JAN2027"),
        Some(ContractMonth {
            year: 2027,
            month: 1
        })
    );
    assert_eq!(
        ContractMonth::from_description("CL MAR 27").map(ContractMonth::short),
        Some("Mar27".to_owned())
    );
    assert_eq!(ContractMonth::from_description("AAPL"), None);
    let legs = [LabelLeg {
        local_symbol: None,
        description: Some("CL       FEB2027"),
        ..fut(1.0, "", jiff::civil::date(2027, 1, 20))
    }];
    assert_eq!(label(&legs).unwrap().long, "CL Feb27");
}

#[test]
fn an_option_spread_in_one_month_names_strikes_and_rights() {
    use jiff::civil::date;
    let opt = |strike, right| LabelLeg {
        ratio: 1.0,
        symbol: Some("CL"),
        local_symbol: Some("LOF7 C7000"),
        description: None,
        sec_type: Some("FOP"),
        last_trade_date: Some(date(2027, 1, 14)),
        strike: Some(strike),
        right: Some(right),
    };
    let l = label(&[opt(75.0, "C"), opt(70.0, "C")]).expect("a vertical");
    assert_eq!(l.long, "CL Jan27 70C/75C");
    assert_eq!(l.codes, "CL F7 70C/75C");
    let l = label(&[opt(72.5, "P")]).unwrap();
    assert_eq!(l.long, "CL Jan27 72.5P");
}

#[test]
fn legs_of_different_underlyings_or_unknown_months_have_no_trader_name() {
    use jiff::civil::date;
    let mut es = fut(1.0, "ESZ6", date(2026, 12, 18));
    es.symbol = Some("ES");
    assert_eq!(label(&[fut(1.0, "CLF7", date(2026, 12, 21)), es]), None);
    let unknown = LabelLeg {
        local_symbol: None,
        last_trade_date: None,
        ..fut(1.0, "", date(2026, 12, 21))
    };
    assert_eq!(label(&[unknown]), None);
    assert_eq!(label(&[]), None);
}

#[test]
fn a_spreads_price_is_its_legs_prices_times_ratios() {
    assert_eq!(
        price([(Some(-1.0), Some(71.69)), (Some(1.0), Some(71.34))]),
        Some(71.34 - 71.69)
    );
    assert_eq!(price([(Some(-1.0), Some(71.69)), (Some(1.0), None)]), None);
    assert_eq!(price([(None, Some(71.69)), (Some(1.0), Some(71.34))]), None);
}
