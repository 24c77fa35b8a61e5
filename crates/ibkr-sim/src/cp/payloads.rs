//! The JSON bodies of the Client Portal endpoints, built from the world with IBKR's field
//! names and value types: `legs[].conid` a string but `positions[].conid` a number, snapshot
//! values strings, deprecated combo fields `null`, epoch milliseconds where IBKR uses them.
//!
//! Pure: builds values, never answers HTTP and never changes the world.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::session::AuthStatus;
use crate::margin::SegmentKind;
use crate::scenario::{Account, Industry, Instrument, SecType, format_number, right_code};
use crate::world::{ComboView, Leg, World};

const MAC: &str = "98:F2:B3:23:BF:A0";
const USER_ID: i64 = 123_456_789;
const USER_NAME: &str = "simuser1";

fn server_info() -> Value {
    json!({"serverName": "JifN19053", "serverVersion": "Build 10.25.0p, Dec 5, 2023 5:48:12 PM"})
}

pub fn auth_status(s: AuthStatus) -> Value {
    json!({
        "authenticated": s.authenticated,
        "competing": s.competing,
        "connected": s.connected,
        "established": s.authenticated,
        "message": "",
        "MAC": MAC,
        "fail": "",
        "hardware_info": "21026956|06:8E:04:45:DA:8F",
        "serverInfo": server_info(),
    })
}

pub fn tickle(session_id: &str, sso_expires_ms: u64, s: AuthStatus) -> Value {
    json!({
        "session": session_id,
        "ssoExpires": sso_expires_ms,
        "collission": false,
        "userId": USER_ID,
        "hmds": {"error": "no bridge"},
        "iserver": {"authStatus": {
            "authenticated": s.authenticated,
            "competing": s.competing,
            "connected": s.connected,
            "message": "",
            "MAC": MAC,
            "serverInfo": server_info(),
        }},
    })
}

pub fn sso_validate(now: Timestamp, sso_expires_ms: u64) -> Value {
    let ms = now.as_millisecond();
    json!({
        "USER_ID": USER_ID, "USER_NAME": USER_NAME, "RESULT": true,
        "AUTH_TIME": ms - 60_000, "EXPIRES": sso_expires_ms, "lastAccessed": ms,
        "LOGIN_TYPE": 2, "IS_MASTER": false, "PAPER_USER_NAME": USER_NAME, "region": "NJ",
        "CREDENTIAL": USER_NAME, "IP": "127.0.0.1", "IS_FREE_TRIAL": false,
        "LANDING_APP": "UNIVERSAL", "QUALIFIED_FOR_MOBILE_AUTH": null, "SF_ENABLED": false,
        "features": {"bond": true, "calendar": true, "env": "PROD", "newMf": true,
                     "optionChains": true, "realtime": true, "wlms": true},
    })
}

pub fn portfolio_account(a: &Account) -> Value {
    json!({
        "id": a.id, "accountId": a.id, "accountVan": a.id, "accountTitle": a.title,
        "displayName": a.title, "accountAlias": null, "accountStatus": 1_590_724_800_000_i64,
        "currency": a.currency, "type": "DEMO", "tradingType": "STKNOPT",
        "businessType": "IB_SALES", "ibEntity": "IBLLC-US", "faclient": false,
        "clearingStatus": "O", "covestor": false, "noClientTrading": false,
        "trackVirtualFXPortfolio": true, "brokerageAccess": true, "acctCustType": "INDIVIDUAL",
        "category": "", "desc": a.id, "PrepaidCrypto-Z": false, "PrepaidCrypto-P": false,
        "parent": {"mmc": [], "accountId": "", "isMParent": false, "isMChild": false,
                   "isMultiplex": false},
    })
}

pub fn iserver_accounts(accounts: &[Account]) -> Value {
    let ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    let mut aliases = Map::new();
    aliases.insert("All".into(), json!("All"));
    let mut props = Map::new();
    for id in &ids {
        aliases.insert((*id).into(), json!(id));
        props.insert(
            (*id).into(),
            json!({"hasChildAccounts": false, "supportsCashQty": true, "supportsFractions": true,
                   "allowCustomerTime": true, "autoFx": false, "liteUnderPro": false,
                   "noFxConv": false}),
        );
    }
    json!({
        "accounts": ids, "selectedAccount": ids.first(), "aliases": aliases, "acctProps": props,
        "allowFeatures": {"allowedAssetTypes": "STK,CFD,OPT,FOP,WAR,FUT,BAG",
                          "snapshotRefreshTimeout": 30, "allowCrypto": false},
        "chartPeriods": {"FUT": ["*"], "OPT": ["2h", "1d", "2d", "1w", "1m"]},
        "groups": ["All"], "profiles": [], "isFT": false, "isPaper": true,
        "sessionId": "65ee8a41.0000001e", "serverInfo": server_info(),
    })
}

fn asset_class(inst: &Instrument) -> &'static str {
    inst.sec_type.as_str()
}

/// The fields every position row shares, in the position endpoints and the combo endpoint,
/// in IBKR's order. Typed, not built as a tree: one combo answer has thousands of rows.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LegRow<'a> {
    acct_id: &'a str,
    conid: i32,
    contract_desc: String,
    position: f64,
    mkt_price: f64,
    mkt_value: f64,
    currency: &'a str,
    avg_cost: f64,
    avg_price: f64,
    realized_pnl: f64,
    unrealized_pnl: f64,
    /// `null`s and an empty list, as IBKR sends them.
    exchs: (),
    exercise_style: (),
    con_exch_map: [(); 0],
    asset_class: &'static str,
}

fn leg_row(l: &Leg) -> LegRow<'_> {
    let i = &l.instrument;
    LegRow {
        acct_id: &l.account,
        conid: i.conid,
        contract_desc: i.contract_desc(),
        position: l.quantity,
        mkt_price: l.market_price,
        mkt_value: round2(l.market_value),
        currency: &i.currency,
        avg_cost: round8(l.avg_cost()),
        avg_price: round8(l.avg_price),
        realized_pnl: round2(l.realized_pnl),
        unrealized_pnl: round2(l.unrealized_pnl),
        exchs: (),
        exercise_style: (),
        con_exch_map: [],
        asset_class: asset_class(i),
    }
}

fn leg_fields(l: &Leg) -> Map<String, Value> {
    match serde_json::to_value(leg_row(l)) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("a struct of plain fields serialises to an object"),
    }
}

/// One part of a company's classification; null for what IBKR leaves unclassified (its
/// examples: derivatives, crypto).
fn industry(i: &Instrument, part: fn(&Industry) -> &String) -> Value {
    i.industry.as_ref().map_or(Value::Null, |x| json!(part(x)))
}

/// The stock type for stocks, empty for the rest, as IBKR's examples show.
fn stock_type(i: &Instrument) -> &'static str {
    match i.sec_type {
        SecType::Stock => "COMMON",
        _ => "",
    }
}

/// A row of `/portfolio/{accountId}/positions/{pageId}`.
pub fn position_row(leg: &Leg) -> Value {
    let i = &leg.instrument;
    let derivative = i.sec_type != SecType::Stock;
    let mut row = leg_fields(leg);
    let more = json!({
        "expiry": i.expiry_yyyymmdd(), "putOrCall": i.right.map(right_code),
        "multiplier": if derivative { i.multiplier } else { 0.0 },
        "strike": format_number(i.strike.unwrap_or_default()),
        "undConid": i.underlying_conid.unwrap_or(0),
        "model": "", "time": 12, "chineseName": null, "allExchanges": i.exchange,
        "listingExchange": i.primary_exchange.clone().unwrap_or_else(|| i.exchange.clone()),
        "countryCode": "US", "name": i.long_name, "lastTradingDay": i.expiry_yyyymmdd(),
        "group": industry(i, |x| &x.group), "sector": industry(i, |x| &x.sector),
        "sectorGroup": industry(i, |x| &x.sector_group), "ticker": i.symbol,
        "undSym": i.underlying_conid.map(|_| i.symbol.clone()),
        "type": stock_type(i),
        "hasOptions": !i.sec_type.is_option(), "fullName": i.long_name, "isUS": true,
        "isEventContract": false, "incrementRules": [{"lowerEdge": 0.0, "increment": i.tick}],
        "displayRule": {"magnification": 0, "displayRuleStep": [
            {"decimalDigits": 2, "lowerEdge": 0.0, "wholeDigits": 4}]},
        "crossCurrency": false, "baseMktValue": round2(leg.market_value),
        "baseMktPrice": leg.market_price, "baseAvgCost": round8(leg.avg_cost()),
        "baseAvgPrice": round8(leg.avg_price), "baseRealizedPnl": round2(leg.realized_pnl),
        "baseUnrealizedPnl": round2(leg.unrealized_pnl), "pageSize": 100,
    });
    if let Value::Object(more) = more {
        row.extend(more);
    }
    Value::Object(row)
}

/// How two rows' values of one column order: numbers by value, text as text; a column a
/// row lacks (or of mixed kinds) leaves the order as it was.
pub fn column_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}

/// A row of `/portfolio2/{accountId}/positions`: IBKR's uncached positions, with the conid
/// a string and the timestamp in epoch seconds, as IBKR's examples send them.
pub fn position2_row(leg: &Leg, now: Timestamp) -> Value {
    let i = &leg.instrument;
    json!({
        "assetClass": i.sec_type.as_str(),
        "avgCost": round8(leg.avg_cost()),
        "avgPrice": round8(leg.avg_price),
        "conid": i.conid.to_string(),
        "currency": i.currency,
        "description": i.local_symbol,
        "group": industry(i, |x| &x.group),
        "isLastToLoq": false,
        "marketPrice": leg.market_price,
        "marketValue": round2(leg.market_value),
        "model": "",
        "position": leg.quantity,
        "realizedPnl": round2(leg.realized_pnl),
        "secType": i.sec_type.as_str(),
        "sector": industry(i, |x| &x.sector),
        "timestamp": now.as_second(),
        "unrealizedPnl": round2(leg.unrealized_pnl),
    })
}

/// Summary keys carried by `amount`, for the account and each segment (`-c`, `-s`), as IBKR's
/// OpenAPI document lists them.
const SUMMARY_SEGMENTED: &[&str] = &[
    "accruedcash",
    "accrueddividend",
    "availablefunds",
    "availabletotrade",
    "availabletowithdraw",
    "billable",
    "equitywithloanvalue",
    "excessliquidity",
    "fullavailablefunds",
    "fullexcessliquidity",
    "fullinitmarginreq",
    "fullmaintmarginreq",
    "guarantee",
    "indianstockhaircut",
    "initmarginreq",
    "lookaheadavailablefunds",
    "lookaheadexcessliquidity",
    "lookaheadinitmarginreq",
    "lookaheadmaintmarginreq",
    "maintmarginreq",
    "netliquidation",
    "pasharesvalue",
    "physicalcertificatevalue",
    "postexpirationexcess",
    "postexpirationmargin",
    "totalcashvalue",
    "totaldebitcardpendingcharges",
];
/// Summary keys carried by `amount`, for the account and its securities segment only.
const SUMMARY_SECURITIES: &[&str] = &[
    "grosspositionvalue",
    "previousdayequitywithloanvalue",
    "regtequity",
    "regtmargin",
    "sma",
];

/// `/portfolio/{accountId}/summary`: IBKR's whole key set (lower-case keys, `-c` for the
/// commodities segment and `-s` for securities where IBKR splits them) mapping to value
/// objects; money in `amount`, everything else as text in `value`.
pub fn summary(world: &World, account: &Account, now: Timestamp) -> Value {
    let ms = now.as_millisecond();
    let Some(s) = world.account_summary(&account.id, now) else {
        return json!({});
    };
    let amount = |x: f64| {
        json!({"amount": round2(x), "currency": account.currency, "isNull": false,
               "severity": 0, "timestamp": ms, "value": null})
    };
    let text = |v: &str| {
        json!({"amount": 0.0, "currency": null, "isNull": false, "severity": 0,
               "timestamp": ms, "value": v})
    };
    let mut out = Map::new();
    // Each figure of the account, and of each segment where IBKR splits it.
    let all = [
        ("", None),
        ("-c", Some(SegmentKind::Commodities)),
        ("-s", Some(SegmentKind::Securities)),
    ];
    let securities_only = [all[0], all[2]];
    let keys = SUMMARY_SEGMENTED
        .iter()
        .map(|k| (k, &all[..]))
        .chain(SUMMARY_SECURITIES.iter().map(|k| (k, &securities_only[..])));
    for (key, parts) in keys {
        for (suffix, segment) in parts {
            out.insert(format!("{key}{suffix}"), amount(s.figure(key, *segment)));
        }
    }
    out.insert("buyingpower".into(), amount(s.funds.buying_power));
    out.insert("netliquidationuncertainty".into(), amount(0.0));
    let leverage = s.leverage();
    // The next time the look-ahead figures change: the next whole hour.
    let next_change = (now.as_second() / 3600 + 1) * 3600;
    for (key, value) in [
        ("accountcode", account.id.clone()),
        ("accountready", "true".into()),
        ("accounttype", "INDIVIDUAL".into()),
        ("cushion", format!("{:.6}", s.funds.cushion)),
        ("daytradesremaining", "-1".into()),
        ("daytradesremainingt+1", "-1".into()),
        ("daytradesremainingt+2", "-1".into()),
        ("daytradesremainingt+3", "-1".into()),
        ("daytradesremainingt+4", "-1".into()),
        // IBKR sends these as the text "null".
        ("depositoncredithold", "null".into()),
        ("highestseverity", "null".into()),
        ("lookaheadnextchange", next_change.to_string()),
        ("nlvandmargininreview", "false".into()),
        ("whatifpmenabled", "true".into()),
        ("columnprio-c", "2".into()),
        ("columnprio-s", "1".into()),
        ("segmenttitle-c", "US Commodities".into()),
        ("segmenttitle-s", "US Securities".into()),
        (
            "daytradingstatus-s",
            format!(": : false: {:.2}: :false", s.securities.net_liquidation),
        ),
        ("leverage-s", format!("{leverage:.2}")),
        ("tradingtype-s", "STKNOPT".into()),
    ] {
        out.insert(key.to_owned(), text(&value));
    }
    Value::Object(out)
}

/// One combo of `/portfolio/{accountId}/combo/positions`.
#[derive(Serialize)]
pub struct Combo<'a> {
    name: &'a str,
    description: String,
    legs: Vec<ComboLegRatio>,
    positions: Vec<ComboRow<'a>>,
}

/// `legs[]`: the conid as a string, the ratio a number.
#[derive(Serialize)]
struct ComboLegRatio {
    conid: String,
    ratio: i32,
}

/// The combo endpoint's rows carry the deprecated fields as null (strike 0.0, undConid 0).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ComboRow<'a> {
    #[serde(flatten)]
    leg: LegRow<'a>,
    expiry: (),
    put_or_call: (),
    multiplier: (),
    strike: f64,
    und_conid: i32,
}

pub fn combo(view: &ComboView) -> Combo<'_> {
    let description = view
        .ratios
        .iter()
        .enumerate()
        .map(|(i, (conid, ratio))| match (i, *ratio >= 0) {
            (0, _) | (_, false) => format!("{ratio}*{conid}"),
            (_, true) => format!("+{ratio}*{conid}"),
        })
        .collect::<String>();
    let legs = view
        .ratios
        .iter()
        .map(|(conid, ratio)| ComboLegRatio {
            conid: conid.to_string(),
            ratio: *ratio,
        })
        .collect();
    let positions = view
        .legs
        .iter()
        .map(|l| ComboRow {
            leg: leg_row(l),
            expiry: (),
            put_or_call: (),
            multiplier: (),
            strike: 0.0,
            und_conid: 0,
        })
        .collect();
    Combo {
        name: &view.name,
        description,
        legs,
        positions,
    }
}

/// `/iserver/account/pnl/partitioned`'s rows: one per account, keyed `{account}.Core` (the
/// account as a whole; IBKR's `rowType` 1 for an individual account).
pub fn pnl_partitioned(world: &World, now: Timestamp) -> Map<String, Value> {
    world
        .account_ids()
        .into_iter()
        .filter_map(|id| {
            let s = world.account_summary(&id, now)?;
            let row = json!({
                "rowType": 1, "dpl": round2(s.daily_pnl), "nl": round2(s.net_liquidation),
                "upl": round2(s.unrealized_pnl), "el": round2(s.funds.excess_liquidity),
                "mv": round2(s.gross_position_value),
            });
            Some((format!("{id}.Core"), row))
        })
        .collect()
}

/// `/trsrv/secdef` item.
pub fn secdef(i: &Instrument) -> Value {
    json!({
        "conid": i.conid, "ticker": i.symbol, "name": i.long_name, "fullName": i.long_name,
        "assetClass": asset_class(i), "currency": i.currency, "expiry": i.expiry_yyyymmdd(),
        "lastTradingDay": i.expiry_yyyymmdd(),
        "multiplier": if i.sec_type == SecType::Stock { 0.0 } else { i.multiplier },
        "putOrCall": i.right.map(right_code), "strike": format_number(i.strike.unwrap_or_default()),
        "undConid": i.underlying_conid.unwrap_or(0),
        "listingExchange": i.primary_exchange.clone().unwrap_or_else(|| i.exchange.clone()),
        "allExchanges": i.exchange, "countryCode": "US", "group": industry(i, |x| &x.group),
        "sector": industry(i, |x| &x.sector), "sectorGroup": industry(i, |x| &x.sector_group),
        "type": stock_type(i), "hasOptions": !i.sec_type.is_option(), "isUS": true,
        "isEventContract": false, "incrementRules": [{"lowerEdge": 0.0, "increment": i.tick}],
        "displayRule": {"magnification": 0, "displayRuleStep": [
            {"decimalDigits": 2, "lowerEdge": 0.0, "wholeDigits": 4}]},
        "time": 8,
    })
}

/// `/iserver/secdef/info` item.
pub fn secdef_info(i: &Instrument) -> Value {
    json!({
        "conid": i.conid, "symbol": i.symbol, "secType": i.sec_type.as_str(),
        "exchange": i.exchange, "listingExchange": i.primary_exchange,
        "right": i.right.map(right_code), "strike": i.strike.unwrap_or_default(),
        "currency": i.currency, "cusip": null, "coupon": "No Coupon", "desc1": i.symbol,
        "desc2": i.long_name, "maturityDate": i.expiry_yyyymmdd(),
        "multiplier": format_number(i.multiplier), "tradingClass": i.trading_class,
        "validExchanges": i.exchange, "showPrips": true,
    })
}

/// `/iserver/contract/{conid}/info`.
pub fn contract_info(i: &Instrument) -> Value {
    let option = i.sec_type.is_option();
    let stock = i.sec_type == SecType::Stock;
    let right = i.right.map(|r| match right_code(r) {
        "C" => "CALL",
        _ => "PUT",
    });
    let mut info = json!({
        "con_id": i.conid, "symbol": i.symbol, "local_symbol": i.local_symbol,
        "instrument_type": i.sec_type.as_str(), "exchange": i.exchange, "currency": i.currency,
        "company_name": i.long_name, "trading_class": i.trading_class,
        // IBKR leaves a stock's multiplier, month and display text empty.
        "multiplier": (!stock).then(|| format_number(i.multiplier)),
        "contract_month": i.contract_month.map(|m| m.yyyymm()),
        "expiry_full": i.expiry_yyyymmdd(), "maturity_date": i.expiry_yyyymmdd(),
        "underlying_con_id": i.underlying_conid.unwrap_or(0),
        "valid_exchanges": i.exchange, "r_t_h": !option,
        "text": (!stock).then(|| i.contract_desc()),
        "allow_sell_long": false, "cfi_code": match right {
            Some("CALL") => "OCXXXS",
            Some(_) => "OPXXXS",
            None => "",
        },
        "classifier": null, "contract_clarification_type": null, "cusip": null,
        "is_zero_commission_security": false, "smart_available": stock || i.sec_type == SecType::Option,
        "underlying_issuer": null, "category": industry(i, |x| &x.sector_group),
        "industry": industry(i, |x| &x.group),
    });
    // Options also carry their right, as a word, and their strike, as text.
    if option && let Value::Object(map) = &mut info {
        map.insert("right".into(), json!(right));
        map.insert(
            "strike".into(),
            json!(format_number(i.strike.unwrap_or_default())),
        );
    }
    info
}

/// `MMMYY` of a `yyyymmdd` or `yyyymm` date: the months of a search's sections.
fn month_code(date: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let month: usize = date.get(4..6)?.parse().ok()?;
    Some(format!(
        "{}{}",
        MONTHS.get(month.checked_sub(1)?)?,
        date.get(2..4)?
    ))
}

/// Joins the distinct values of `items` in order with `;`, as a search's dates and months
/// are; None when there are none.
fn joined(items: impl IntoIterator<Item = String>) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    (!seen.is_empty()).then(|| seen.join(";"))
}

/// One row of `/iserver/secdef/search`: a stock, or a futures root under its index, with the
/// derivatives the scenario lists on it as sections (months and exchanges) and as the `opt` /
/// `fop` dates. `head` is the stock or the root's front future; `derivatives` every future
/// and option on it.
pub fn search_row(
    conid: i32,
    head: &Instrument,
    derivatives: &[&Instrument],
    name_only: bool,
) -> Value {
    let exchange = head
        .primary_exchange
        .clone()
        .unwrap_or_else(|| head.exchange.clone());
    let header = format!("{} - {exchange}", head.long_name);
    if name_only {
        // What IBKR answers a search by name: no sections, no derivative dates.
        return json!({
            "conid": conid.to_string(), "companyHeader": header,
            "companyName": head.long_name, "symbol": head.symbol, "description": null,
            "restricted": null, "sections": [], "secType": head.sec_type.as_str(),
        });
    }
    let by_type = |t: SecType| -> Vec<&Instrument> {
        let mut v: Vec<&Instrument> = derivatives
            .iter()
            .copied()
            .filter(|i| i.sec_type == t)
            .collect();
        v.sort_by_key(|i| i.expiry_yyyymmdd());
        v
    };
    let section = |t: SecType| {
        let items = by_type(t);
        // A future is listed by its contract month, an option by its expiry.
        let months = joined(items.iter().filter_map(|i| {
            match i.sec_type {
                SecType::Future => i.contract_month.map(|m| m.yyyymm()),
                _ => i.expiry_yyyymmdd(),
            }
            .as_deref()
            .and_then(month_code)
        }));
        let exchanges = joined(items.iter().map(|i| i.exchange.clone()))?;
        Some(json!({"secType": t.as_str(), "months": months, "exchange": exchanges}))
    };
    let dates = |t: SecType| joined(by_type(t).iter().filter_map(|i| i.expiry_yyyymmdd()));
    let mut sections = Vec::new();
    if head.sec_type == SecType::Stock {
        sections.push(json!({"secType": "STK"}));
    }
    sections.extend(
        [SecType::Future, SecType::Option, SecType::FutureOption]
            .into_iter()
            .filter_map(section),
    );
    json!({
        "conid": conid.to_string(), "companyHeader": header, "companyName": head.long_name,
        "symbol": head.symbol, "description": exchange, "restricted": null,
        "fop": dates(SecType::FutureOption), "opt": dates(SecType::Option), "war": null,
        "sections": sections,
    })
}

/// One future in `/trsrv/futures`, with the index it is listed under.
pub fn future(i: &Instrument, index_conid: Option<i32>) -> Value {
    let ltd: i64 = i
        .expiry_yyyymmdd()
        .and_then(|d| d.parse().ok())
        .unwrap_or_default();
    json!({
        "symbol": i.symbol, "conid": i.conid, "underlyingConid": index_conid.unwrap_or(0),
        "expirationDate": ltd,
        "ltd": ltd, "shortFuturesCutOff": ltd, "longFuturesCutOff": ltd,
    })
}

/// The snapshot fields of `conid` that `fields` asks for, as IBKR's strings; greeks only
/// once `greeks_ready`.
pub fn snapshot_fields(
    world: &World,
    conid: i64,
    fields: &[String],
    greeks_ready: bool,
    now: Timestamp,
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(inst) = i32::try_from(conid).ok().and_then(|c| world.instrument(c)) else {
        return out;
    };
    let Some(q) = world.quote(inst.conid, now) else {
        return out;
    };
    let decimals = if inst.tick >= 1.0 {
        0
    } else {
        (-inst.tick.log10()).ceil() as usize
    };
    let px = |x: f64| format!("{x:.decimals$}");
    let change = q.last - q.close;
    for field in fields {
        let value = match field.as_str() {
            "31" => Some(json!(px(q.last))),
            "84" => Some(json!(px(q.bid))),
            "86" => Some(json!(px(q.ask))),
            "85" => Some(json!("7")),
            "88" => Some(json!("5")),
            "7059" => Some(json!("1")),
            "87" => Some(json!("1.25K")),
            "7762" => Some(json!("1250")),
            "70" => Some(json!(px(q.last.max(q.close)))),
            "71" => Some(json!(px(q.last.min(q.close)))),
            "7295" => Some(json!(px(q.close))),
            "7296" | "7741" => Some(json!(px(q.close))),
            "82" => Some(json!(format!(
                "{}{}",
                if change >= 0.0 { "+" } else { "" },
                px(change)
            ))),
            "83" => Some(json!(format!(
                "{:.2}%",
                if q.close != 0.0 {
                    change / q.close * 100.0
                } else {
                    0.0
                }
            ))),
            "7635" => Some(json!(px(q.last))),
            "55" => Some(json!(inst.symbol)),
            "6070" => Some(json!(inst.sec_type.as_str())),
            "6457" => inst.underlying_conid.map(|c| json!(c)),
            "6008" => Some(json!(inst.conid)),
            "201" => inst.right.map(|r| json!(right_code(r))),
            "7219" | "7220" => Some(json!(inst.contract_desc())),
            "6509" => Some(json!(if inst.delayed_only { "DpB" } else { "RpB" })),
            "7308" | "7309" | "7310" | "7311" | "7633" if greeks_ready => q.model.map(|m| {
                let g = m.greeks;
                json!(match field.as_str() {
                    "7308" => format!("{:.3}", g.delta),
                    "7309" => format!("{:.4}", g.gamma),
                    "7310" => format!("{:.4}", g.theta),
                    "7311" => format!("{:.4}", g.vega),
                    _ => format!("{:.1}%", m.implied_vol * 100.0),
                })
            }),
            _ => None,
        };
        if let Some(v) = value {
            out.insert(field.clone(), v);
        }
    }
    out
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}
