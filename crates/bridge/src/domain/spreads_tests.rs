use super::*;

fn c(n: i64) -> ConId {
    ConId::new(n).expect("valid")
}

fn q(account_id: i32, conid: i64, quantity: f64) -> LegQuantity {
    LegQuantity {
        account_id,
        conid: c(conid),
        quantity,
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
