use jiff::Timestamp;

use super::*;
use crate::domain::net_greeks::{ByExpiry, PORTFOLIO};

fn at() -> Timestamp {
    Timestamp::from_millisecond(1_790_000_005_000).expect("valid")
}

fn row(account: Option<&str>, contract: &str) -> GreeksRow {
    GreeksRow {
        account: account.map(|a| AccountCode::parse(a).expect("valid")),
        contract: contract.into(),
        delta: -200.0,
        gamma: 100.0,
        vega: 240.0,
        theta: -60.0,
        underlying_price: Some(71.5),
        delta_dollars: Some(-14_300.0),
        gamma_dollars: Some(5_112.25),
        vega_by_expiry: ByExpiry {
            under_30: 40.0,
            from_30_to_90: 200.0,
            over_90: 0.0,
        },
        theta_by_expiry: ByExpiry {
            under_30: -20.0,
            from_30_to_90: -40.0,
            over_90: 0.0,
        },
    }
}

fn bridge(name: &str) -> BridgeName {
    BridgeName::parse(name).expect("valid")
}

#[test]
fn the_all_accounts_key_is_the_tick_the_bridge_and_the_contract() {
    let r = Record::greeks(at(), &bridge("home"), &row(None, PORTFOLIO));
    assert_eq!(r.key(), "1790000005000@home:PORTFOLIO");
    let r = Record::greeks(at(), &bridge("home"), &row(None, "CL"));
    assert_eq!(r.key(), "1790000005000@home:CL");
}

#[test]
fn an_accounts_row_has_the_account_in_its_key() {
    let r = Record::greeks(at(), &bridge("home"), &row(Some("du123456"), "CL"));
    assert_eq!(r.key(), "1790000005000@home:DU123456:CL");
    assert_ne!(
        r.key(),
        Record::greeks(at(), &bridge("home"), &row(Some("DU654321"), "CL")).key(),
        "two accounts' rows of one tick are two rows"
    );
}

/// Two bridges on one database: one tick's rows are every bridge's, never one bridge's row
/// taken for a copy of another's (before bridges had names, the second `PORTFOLIO` row of a
/// tick was dropped as a duplicate).
#[test]
fn two_bridges_rows_of_one_tick_have_different_keys() {
    for account in [None, Some("DU123456")] {
        let home = Record::greeks(at(), &bridge("home"), &row(account, PORTFOLIO));
        let family = Record::greeks(at(), &bridge("family"), &row(account, PORTFOLIO));
        assert_ne!(home.key(), family.key());
    }
    let entry = ApiLogEntry::new(
        at(),
        crate::domain::api_log::ApiMode::Socket,
        crate::domain::api_log::LogStatus::Ok,
        "connected".to_owned(),
    );
    let home = Record::api_log(&bridge("home"), &entry);
    let family = Record::api_log(&bridge("family"), &entry);
    assert!(
        home.key().starts_with("1790000005000@home:"),
        "{}",
        home.key()
    );
    assert_ne!(
        home.key(),
        family.key(),
        "same time, same pid on two machines"
    );
}

/// A name cannot hold `@` or `:`, so a named key never equals the key of a row spooled
/// before names, whatever the name: `{ms}:{contract}` or `{ms}:{account}:{contract}`.
#[test]
fn named_keys_never_meet_the_keys_of_rows_spooled_before_names() {
    let named = Record::greeks(at(), &bridge("DU123456"), &row(None, "CL"));
    assert_ne!(named.key(), "1790000005000:DU123456:CL");
}

#[test]
fn a_record_reads_back_as_it_was_written() {
    let r = Record::greeks(at(), &bridge("home"), &row(Some("DU1"), "CL"));
    let line = serde_json::to_string(&r).expect("json");
    assert_eq!(serde_json::from_str::<Record>(&line).expect("record"), r);
    let Record::Greeks(g) = r else {
        panic!("a greeks record");
    };
    assert_eq!(g.account.as_ref().map(AccountCode::as_str), Some("DU1"));
    assert_eq!(g.bridge.as_ref().map(BridgeName::as_str), Some("home"));
    assert_eq!(
        (g.delta_dollars, g.vega_30_90, g.theta_lt30),
        (Some(-14_300.0), Some(200.0), Some(-20.0))
    );
}

#[test]
fn a_spool_line_from_before_the_new_fields_still_reads() {
    // As a bridge without dollar, per-account and by-expiry figures wrote it.
    let line = r#"{"kind":"greeks","key":"1790000005000:PORTFOLIO","at_ms":1790000005000,"contract":"PORTFOLIO","delta":12.5,"gamma":0.3,"vega":-1540.2,"theta":88.1,"underlying_price":71.2}"#;
    let r: Record = serde_json::from_str(line).expect("an old line is a record");
    assert_eq!(r.key(), "1790000005000:PORTFOLIO");
    let Record::Greeks(g) = r else {
        panic!("a greeks record");
    };
    assert_eq!(g.delta, 12.5);
    assert_eq!(g.account, None, "an old row is an all-accounts row");
    assert_eq!(g.bridge, None, "and nobody's in particular");
    assert_eq!(
        g.risk_figures(),
        [None; 8],
        "what the old bridge did not work out is unknown, not zero"
    );
}
