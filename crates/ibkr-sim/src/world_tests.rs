use jiff::civil::date;

use super::*;
use crate::scenario::{ComboLegSpec, ComboSpec};

fn world() -> Arc<World> {
    World::new(Scenario::default_for(date(2026, 11, 21)))
}

fn now() -> Timestamp {
    "2026-11-21T15:00:00Z".parse().expect("timestamp")
}

#[test]
fn legs_add_combo_parts_to_outside_holdings() {
    let w = world();
    let legs = w.legs("DU1234567", now());
    let qty = |conid: i32| {
        legs.iter()
            .find(|l| l.instrument.conid == conid)
            .map(|l| l.quantity)
    };
    // CL month 1: -2 from the first combo, -1 outside.
    assert_eq!(qty(810000001), Some(-3.0));
    // CL month 2: +2 from the first combo, -1 from the second.
    assert_eq!(qty(810000002), Some(1.0));
    assert_eq!(qty(810000004), Some(1.0));
    assert_eq!(qty(265598), Some(100.0));
    assert_eq!(qty(810000006), None, "held by the other account only");
}

#[test]
fn combo_legs_are_valued_as_each_leg_alone_even_when_combos_share_one() {
    let w = world();
    // The account's two combos share CL month 2, priced once for both.
    let combos = w.combos("DU1234567", now());
    assert_eq!(combos.len(), 2);
    for combo in combos {
        for (leg, (conid, ratio)) in combo.legs.iter().zip(&combo.ratios) {
            let alone = w
                .leg(
                    "DU1234567",
                    *conid,
                    combo.quantity * f64::from(*ratio),
                    leg.avg_price,
                    0.0,
                    now(),
                )
                .expect("a leg");
            assert_eq!(leg, &alone);
        }
    }
}

#[test]
fn values_agree_with_prices_and_multipliers() {
    let w = world();
    for leg in w.all_legs(now()) {
        let m = leg.instrument.multiplier;
        assert!((leg.market_value - leg.quantity * m * leg.market_price).abs() < 1e-6);
        assert!(
            (leg.unrealized_pnl - leg.quantity * m * (leg.market_price - leg.avg_price)).abs()
                < 1e-6
        );
        let q = w.quote(leg.instrument.conid, now()).expect("quote");
        assert_eq!(q.last, leg.market_price);
        assert!(q.bid < q.last && q.last < q.ask);
    }
}

#[test]
fn futures_follow_the_term_structure_and_options_have_greeks() {
    let w = world();
    let f1 = w.quote(810000001, now()).expect("CL1").last;
    let f2 = w.quote(810000002, now()).expect("CL2").last;
    assert!(f2 > f1, "contango: {f1} < {f2}");
    assert!(w.quote(810000001, now()).expect("CL1").model.is_none());
    let call = w
        .quote(820000001, now())
        .expect("call")
        .model
        .expect("greeks");
    assert_eq!(call.underlying_price, f2);
    assert!(call.greeks.delta > 0.0 && call.greeks.delta < 1.0);
    assert!(call.greeks.gamma > 0.0 && call.greeks.vega > 0.0 && call.greeks.theta < 0.0);
    let put = w
        .quote(820000003, now())
        .expect("put")
        .model
        .expect("greeks");
    assert!(put.greeks.delta < 0.0);
}

#[test]
fn the_walk_is_seeded_and_announced() {
    let (a, b) = (world(), world());
    let mut events = a.subscribe();
    a.advance(10);
    b.advance(10);
    assert_eq!(a.spots(), b.spots(), "same seed, same walk");
    assert_ne!(a.spots()["CL"], 71.40);
    assert_eq!(events.try_recv().expect("an event"), Event::Prices);
}

#[test]
fn a_frozen_market_only_moves_by_hand() {
    let w = world();
    w.freeze(true);
    w.step();
    assert_eq!(w.spots()["CL"], 71.40);
    w.set_price("CL", 80.0).expect("known");
    assert_eq!(w.spots()["CL"], 80.0);
    assert!(w.set_price("XX", 1.0).is_err());
    assert!(w.set_price("CL", -1.0).is_err());
}

#[test]
fn positions_and_combos_change_and_announce() {
    let w = world();
    let mut events = w.subscribe();
    w.set_position("DU1234567", 810000003, 0.0, 0.0)
        .expect("close");
    assert!(
        w.legs("DU1234567", now())
            .iter()
            .all(|l| l.instrument.conid != 810000003)
    );
    assert_eq!(
        events.try_recv().expect("event"),
        Event::Book {
            account: "DU1234567".into()
        }
    );

    let legs = vec![
        ComboLegSpec {
            conid: 810000003,
            ratio: -1,
            avg_price: 72.0,
        },
        ComboLegSpec {
            conid: 810000004,
            ratio: 1,
            avg_price: 72.5,
        },
    ];
    let spec = ComboSpec {
        account: "DU1234567".into(),
        name: None,
        quantity: 1.0,
        legs,
    };
    let name = w.open_combo(spec).expect("open");
    assert!(name.starts_with("CP.CP") && name.len() == 13, "{name}");
    assert_eq!(w.combos("DU1234567", now()).len(), 3);
    w.close_combo("DU1234567", &name).expect("close");
    assert_eq!(w.combos("DU1234567", now()).len(), 2);
    assert!(w.close_combo("DU1234567", &name).is_err());
    assert!(w.set_position("DU0", 1, 1.0, 1.0).is_err());
}

#[test]
fn combo_names_are_stable() {
    let legs = vec![
        ComboLegSpec {
            conid: 1,
            ratio: -1,
            avg_price: 0.0,
        },
        ComboLegSpec {
            conid: 2,
            ratio: 1,
            avg_price: 0.0,
        },
    ];
    assert_eq!(combo_name("DU1", &legs), combo_name("DU1", &legs));
    assert_ne!(combo_name("DU1", &legs), combo_name("DU2", &legs));
}

#[test]
fn account_summary_adds_up() {
    let w = world();
    let s = w.account_summary("DU1234567", now()).expect("known");
    let legs = w.legs("DU1234567", now());
    let unrealized: f64 = legs.iter().map(|l| l.unrealized_pnl).sum();
    assert!((s.unrealized_pnl - unrealized).abs() < 1e-6);
    assert_eq!(s.cash, 400_000.0);
    assert!(w.account_summary("nobody", now()).is_none());
}

#[test]
fn margin_follows_the_positions() {
    let w = world();
    let before = w.account_summary("DU7654321", now()).expect("known").funds;
    // Short 25 CL futures outside any combo: more margin, less to trade with.
    w.set_position("DU7654321", 810000003, -25.0, 70.0)
        .expect("a holding");
    let after = w.account_summary("DU7654321", now()).expect("known").funds;
    assert!(
        after.maint_margin > before.maint_margin,
        "{before:?} {after:?}"
    );
    assert!(after.init_margin > after.maint_margin);
    assert!(after.available_funds < before.available_funds);
    assert!(after.buying_power < before.buying_power);
    assert!((after.excess_liquidity - (after.equity_with_loan - after.maint_margin)).abs() < 1e-6);
}

#[test]
fn the_segments_add_up_to_the_account() {
    let w = world();
    let s = w.account_summary("DU1234567", now()).expect("known");
    let (c, sec) = (s.commodities, s.securities);
    assert!((c.net_liquidation + sec.net_liquidation - s.net_liquidation).abs() < 1e-6);
    assert_eq!(
        (c.cash, sec.cash),
        (0.0, s.cash),
        "cash is kept with securities"
    );
    let (cf, sf) = (c.funds(), sec.funds());
    assert!((cf.maint_margin + sf.maint_margin - s.funds.maint_margin).abs() < 1e-6);
    assert!((cf.init_margin + sf.init_margin - s.funds.init_margin).abs() < 1e-6);
    assert!(
        cf.maint_margin > 0.0,
        "the CL positions ask margin of the commodities segment"
    );
}

#[test]
fn a_position_set_by_hand_is_paid_for_so_net_liquidation_does_not_jump() {
    let w = world();
    let account = "DU7654321";
    let before = w.account_summary(account, now()).expect("known");
    let price = w.quote(265598, now()).expect("AAPL").last;
    w.set_position(account, 265598, 200.0, price)
        .expect("a holding");
    let bought = w.account_summary(account, now()).expect("known");
    assert!((bought.cash - (before.cash - 200.0 * price)).abs() < 1e-6);
    assert!(
        (bought.net_liquidation - before.net_liquidation).abs() < 1e-6,
        "{before:?} {bought:?}"
    );
    // A future costs nothing up front: its P&L settles daily.
    w.set_position(account, 810000003, -2.0, 70.0)
        .expect("a holding");
    let short = w.account_summary(account, now()).expect("known");
    assert_eq!(short.cash, bought.cash);
    w.set_position(account, 265598, 0.0, 0.0).expect("closed");
    let sold = w.account_summary(account, now()).expect("known");
    assert!(
        (sold.cash - before.cash).abs() < 1e-6,
        "sold back at its cost"
    );
}

#[test]
fn a_combo_opened_by_hand_is_paid_for_and_closing_it_gives_the_cost_back() {
    let w = world();
    let account = "DU7654321";
    let before = w.account_summary(account, now()).expect("known").cash;
    let legs = w.legs("DU1234567", now());
    let options: Vec<&Leg> = legs
        .iter()
        .filter(|l| l.instrument.sec_type.is_option())
        .take(2)
        .collect();
    assert_eq!(options.len(), 2, "the scenario holds options");
    let spec = ComboSpec {
        account: account.to_owned(),
        name: None,
        quantity: 3.0,
        legs: vec![
            ComboLegSpec {
                conid: options[0].instrument.conid,
                ratio: 1,
                avg_price: 2.0,
            },
            ComboLegSpec {
                conid: options[1].instrument.conid,
                ratio: -1,
                avg_price: 0.5,
            },
        ],
    };
    let multiplier = options[0].instrument.multiplier;
    assert_eq!(multiplier, options[1].instrument.multiplier);
    let name = w.open_combo(spec.clone()).expect("opened");
    let paid = w.account_summary(account, now()).expect("known").cash;
    assert!(
        (before - paid - 3.0 * 1.5 * multiplier).abs() < 1e-6,
        "{before} {paid}"
    );
    w.open_combo(spec).expect("replaced, not added");
    assert_eq!(w.account_summary(account, now()).expect("known").cash, paid);
    w.close_combo(account, &name).expect("closed");
    let back = w.account_summary(account, now()).expect("known").cash;
    assert!((back - before).abs() < 1e-6);
}
