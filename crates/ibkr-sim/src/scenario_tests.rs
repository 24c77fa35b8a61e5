use jiff::civil::date;

use super::*;

const TODAY: Date = date(2026, 11, 21);

fn default() -> Scenario {
    Scenario::default_for(TODAY)
}

#[test]
fn the_default_scenario_has_what_the_demo_needs() {
    let s = default();
    assert_eq!(s.accounts.len(), 2);
    let inst = |c: i32| &s.instruments[&c];
    // CL months are computed from the date: on 21 Nov 2026 CL Dec 2026 has expired, so the
    // front month is Jan 2027.
    assert_eq!(inst(810000001).local_symbol, "CLF7");
    assert_eq!(inst(810000002).local_symbol, "CLG7");
    assert_eq!(inst(810000006).local_symbol, "CLM7");
    assert!(
        s.instruments
            .values()
            .all(|i| i.last_trade_date.is_none_or(|d| d >= TODAY))
    );
    // Native combos: short a near month, long a later one.
    let spreads: Vec<&ComboSpec> = s.combos.iter().collect();
    assert_eq!(spreads.len(), 3);
    assert!(
        spreads
            .iter()
            .all(|c| c.legs.len() == 2 && c.legs[0].ratio == -1 && c.legs[1].ratio == 1)
    );
    // A CL leg partly covered by a combo: combos hold -2 of CL month 1, the account -1 more.
    assert!(
        s.positions
            .iter()
            .any(|p| p.account == "DU1234567" && p.conid == 810000001)
    );
    // Futures options, an ES future and a stock.
    assert_eq!(inst(820000001).sec_type, SecType::FutureOption);
    assert_eq!(inst(820000001).underlying_conid, Some(810000002));
    assert_eq!(inst(830000001).local_symbol, "ESZ6");
    assert_eq!(inst(265598).sec_type, SecType::Stock);
}

#[test]
fn futures_options_take_their_expiry_from_their_future() {
    let s = default();
    let fop = &s.instruments[&820000001];
    let fut = &s.instruments[&810000002];
    assert_eq!(fop.contract_month, fut.contract_month);
    assert!(fop.last_trade_date < fut.last_trade_date);
    assert_eq!(fop.multiplier, 1000.0);
    assert_eq!(fop.local_symbol, "LOG7 C7500");
    assert_eq!(fop.price_symbol, "CL");
}

#[test]
fn the_months_roll_with_the_date() {
    let later = Scenario::default_for(date(2026, 12, 28));
    assert_eq!(later.instruments[&810000001].local_symbol, "CLG7");
}

#[test]
fn contract_descriptions_follow_ibkr() {
    let s = default();
    assert_eq!(
        s.instruments[&810000001].contract_desc(),
        "CL       JAN2027"
    );
    assert_eq!(s.instruments[&265598].contract_desc(), "AAPL");
    assert!(
        s.instruments[&820000001]
            .contract_desc()
            .starts_with("CL     JAN2027 75 C [")
    );
}

fn with(extra: &str) -> Result<Scenario, ScenarioError> {
    let base = r#"
[[underlyings]]
symbol = "CL"
price = 70.0
volatility = 0.3
[[accounts]]
id = "DU1"
[[instruments]]
conid = 1
symbol = "CL"
sec_type = "FUT"
month = 1
exchange = "NYMEX"
multiplier = 1000
"#;
    Scenario::from_toml(&format!("{base}{extra}"), TODAY)
}

#[test]
fn bad_scenarios_say_where() {
    assert!(with("").is_ok());
    let err = |extra: &str| with(extra).expect_err("invalid").to_string();
    assert!(
        err("[[positions]]\naccount = \"DU9\"\nconid = 1\nquantity = 1\navg_price = 1")
            .contains("unknown account DU9")
    );
    assert!(
        err("[[positions]]\naccount = \"DU1\"\nconid = 2\nquantity = 1\navg_price = 1")
            .contains("unknown conid 2")
    );
    assert!(err("[[instruments]]\nconid = 1\nsymbol = \"CL\"\nsec_type = \"FUT\"\nmonth = 2\nexchange = \"NYMEX\"\nmultiplier = 1000").contains("listed twice"));
    assert!(err("[[instruments]]\nconid = 5\nsymbol = \"CL\"\nsec_type = \"FOP\"\nunderlying_conid = 9\nstrike = 70\nright = \"C\"\nexchange = \"NYMEX\"").contains("underlying conid 9"));
    assert!(err("[[instruments]]\nconid = 5\nsymbol = \"CL\"\nsec_type = \"FOP\"\nunderlying_conid = 1\nstrike = 70\nright = \"X\"\nexchange = \"NYMEX\"").contains("right must be"));
    assert!(err("[[instruments]]\nconid = 6\nsymbol = \"NG\"\nsec_type = \"FUT\"\nmonth = 1\nexchange = \"NYMEX\"\nmultiplier = 10000").contains("CL and ES only"));
    assert!(err("[[combos]]\naccount = \"DU1\"\nquantity = 1\nlegs = [{ conid = 1, ratio = 1, avg_price = 1 }]").contains("at least two legs"));
    assert!(
        err("bogus = 1").contains("unknown"),
        "unknown fields are refused"
    );
    assert!(
        err("[[underlyings]]\nsymbol = \"ES\"\nprice = 5000\nvolatility = 0.2\nindex_conid = 1")
            .contains("index_conid is an instrument's conid")
    );
    assert!(err("[[instruments]]\nconid = 6\nsymbol = \"CL\"\nsec_type = \"FUT\"\nmonth = 2\nexchange = \"NYMEX\"\nindustry = { sector = \"Energy\", group = \"Oil\", sector_group = \"Oil\" }").contains("industry classifies a company"));
}

#[test]
fn stock_options_expire_on_a_given_day() {
    let s = with(
        "[[underlyings]]\nsymbol = \"X\"\nprice = 10\nvolatility = 0.2\n\
         [[instruments]]\nconid = 7\nsymbol = \"X\"\nsec_type = \"STK\"\nexchange = \"SMART\"\n\
         [[instruments]]\nconid = 8\nsymbol = \"X\"\nsec_type = \"OPT\"\nunderlying_conid = 7\n\
         days_to_expiry = 10\nstrike = 11\nright = \"P\"\nexchange = \"SMART\"",
    )
    .expect("valid");
    let opt = &s.instruments[&8];
    // Ten days on is Tuesday 1 Dec; listed stock options expire on the Friday.
    assert_eq!(opt.last_trade_date, Some(date(2026, 12, 4)));
    assert_eq!(opt.local_symbol, "X     261204P00011000");
    assert_eq!(opt.multiplier, 100.0);
    assert_eq!(opt.price_symbol, "X");
}
