//! Reading the Client Portal's JSON: lenient about IBKR's habits (numbers sent as strings,
//! `"None"`, `null` and missing fields alike, `1,300`, `31.2%`, epoch seconds or milliseconds,
//! conids as numbers or strings), strict about what comes out: domain types, with the raw JSON
//! of every object kept for the `raw` columns.
//!
//! A payload that does not have the expected shape is rejected whole, never half-read. The
//! reason names the place (row 3, combo CP.CP…) and never quotes the payload: rows carry
//! account codes, and reasons reach the status the operator reads (the caller keeps the raw
//! payload). Pure: values in, values out.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::domain::contract::{Contract, Right, SecType};
use crate::domain::ids::{AccountCode, ConId};
use crate::domain::portfolio::{DataKind, LegValues, ModelGreeks, RawPayload};

/// Why a payload cannot be read: where and what, never the payload itself.
pub type Malformed = String;

/// A number, from a JSON number or a string like `"1,300"`, `"31.2%"`, `"C71.20"` (IBKR's
/// previous-close prefix) or `"H1.5"` (halted); `None` for `null`, `""`, `"None"`, `"N/A"`.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
        Value::String(s) => {
            let s = s.trim().trim_end_matches('%').replace(',', "");
            let s = s.strip_prefix(['C', 'H']).unwrap_or(&s);
            s.parse::<f64>().ok().filter(|x| x.is_finite())
        }
        _ => None,
    }
}

/// An integer, from a number or a numeric string.
pub fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string that is not IBKR's `"None"`.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() && s != "None" => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An instant from epoch milliseconds or seconds (IBKR uses both; 13 digits are ms).
pub fn epoch(v: &Value) -> Option<Timestamp> {
    let n = integer(v)?;
    if n.abs() >= 100_000_000_000 {
        Timestamp::from_millisecond(n).ok()
    } else {
        Timestamp::from_second(n).ok()
    }
}

pub fn conid(v: &Value) -> Option<ConId> {
    integer(v).and_then(ConId::new)
}

/// `YYYYMMDD`, as a string or an integer.
pub fn yyyymmdd(v: &Value) -> Option<Date> {
    let s = text(v)?;
    if s.len() != 8 {
        return None;
    }
    Date::new(
        s[..4].parse().ok()?,
        s[4..6].parse().ok()?,
        s[6..].parse().ok()?,
    )
    .ok()
}

fn array<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, Malformed> {
    v.as_array()
        .ok_or_else(|| format!("expected an array of {what}, got {}", kind_of(v)))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The session flags of `/tickle` (under `iserver.authStatus`) or `/iserver/auth/status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthStatus {
    pub authenticated: bool,
    pub connected: bool,
    pub competing: bool,
    pub message: String,
    /// A fingerprint of the session id `/tickle` reports (a new login gets a new one); the id
    /// itself is never kept, as it may serve as a credential.
    pub session: Option<u64>,
}

fn fingerprint(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// `/iserver/auth/status` and `ssodh/init`.
pub fn auth_status(v: &Value) -> Result<AuthStatus, Malformed> {
    if !v.is_object() {
        return Err(format!(
            "expected an auth status object, got {}",
            kind_of(v)
        ));
    }
    let flag = |k: &str| v.get(k).and_then(boolean).unwrap_or(false);
    let message = ["message", "fail"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(text))
        .collect::<Vec<_>>()
        .join("; ");
    Ok(AuthStatus {
        authenticated: flag("authenticated"),
        connected: flag("connected"),
        competing: flag("competing"),
        message,
        session: None,
    })
}

/// `/tickle`: the auth status nested in it. A reply without one (some gateways leave it out
/// when not authenticated) reads as connected but not authenticated.
pub fn tickle(v: &Value) -> Result<AuthStatus, Malformed> {
    if !v.is_object() {
        return Err(format!("expected a tickle object, got {}", kind_of(v)));
    }
    if let Some(error) = v.get("error").and_then(text) {
        return Err(format!("tickle failed: {error}"));
    }
    let session = v.get("session").and_then(text).map(|id| fingerprint(&id));
    let status = match v.pointer("/iserver/authStatus") {
        Some(status) => auth_status(status)?,
        None => AuthStatus {
            connected: true,
            ..AuthStatus::default()
        },
    };
    Ok(AuthStatus { session, ..status })
}

/// One of `/portfolio/accounts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub code: AccountCode,
    pub title: Option<String>,
    pub currency: Option<String>,
    pub raw: Value,
}

pub fn accounts(v: &Value) -> Result<Vec<Account>, Malformed> {
    array(v, "accounts")?
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let code = ["accountId", "id"]
                .iter()
                .find_map(|k| a.get(*k).and_then(text))
                .and_then(|s| AccountCode::parse(&s))
                .ok_or_else(|| format!("account {} has no valid accountId", i + 1))?;
            Ok(Account {
                code,
                title: a
                    .get("accountTitle")
                    .or_else(|| a.get("displayName"))
                    .and_then(text),
                currency: a.get("currency").and_then(text),
                raw: a.clone(),
            })
        })
        .collect()
}

/// `/iserver/accounts`: the account codes the brokerage session can trade.
pub fn iserver_accounts(v: &Value) -> Result<Vec<AccountCode>, Malformed> {
    let list = v
        .get("accounts")
        .ok_or("no `accounts` in /iserver/accounts")?;
    array(list, "account codes")?
        .iter()
        .enumerate()
        .map(|(i, a)| {
            text(a)
                .and_then(|s| AccountCode::parse(&s))
                .ok_or_else(|| format!("account code {} is not valid", i + 1))
        })
        .collect()
}

/// `/iserver/secdef/search`: how many instruments matched (rows the bridge does not read
/// further; the search matters for what it opens, see [`super::source`]).
pub fn secdef_search(v: &Value) -> Result<usize, Malformed> {
    Ok(array(v, "search results")?.len())
}

/// A position row of `/portfolio/{id}/positions/{page}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub account: AccountCode,
    pub contract: Contract,
    pub quantity: f64,
    pub values: LegValues,
    pub raw: Value,
}

/// The contract facts a position-like row carries (`contractDesc`, `ticker`, `assetClass`,
/// `expiry`, `strike`, `putOrCall`, `multiplier`, `undConid`, …).
fn row_contract(row: &Value, id: ConId) -> Contract {
    let desc = row.get("contractDesc").and_then(text).unwrap_or_default();
    let symbol = row
        .get("ticker")
        .and_then(text)
        .or_else(|| desc.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| id.to_string());
    let sec_type = row
        .get("assetClass")
        .and_then(text)
        .map(|s| SecType::parse(&s))
        .unwrap_or(SecType::Other(String::new()));
    let mut c = Contract::new(id, symbol, sec_type);
    c.currency = row.get("currency").and_then(text);
    c.exchange = row.get("listingExchange").and_then(text);
    c.last_trade_date = row
        .get("lastTradingDay")
        .and_then(yyyymmdd)
        .or_else(|| row.get("expiry").and_then(yyyymmdd));
    c.strike = row.get("strike").and_then(number).filter(|k| *k != 0.0);
    c.right = row
        .get("putOrCall")
        .and_then(text)
        .and_then(|r| Right::parse(&r));
    // IBKR sends 0.0 or null for "unknown"; a stock's multiplier is left to the stock rule.
    c.multiplier = row.get("multiplier").and_then(number).filter(|m| *m > 0.0);
    c.underlying_conid = row.get("undConid").and_then(conid);
    c.underlying_symbol = row.get("undSym").and_then(text);
    c
}

fn row_values(row: &Value) -> LegValues {
    let n = |k: &str| row.get(k).and_then(number);
    LegValues {
        avg_cost: n("avgCost"),
        market_price: n("mktPrice"),
        market_value: n("mktValue"),
        unrealized_pnl: n("unrealizedPnl"),
        realized_pnl: n("realizedPnl"),
    }
}

pub fn positions(v: &Value) -> Result<Vec<Position>, Malformed> {
    array(v, "positions")?
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let conid = row
                .get("conid")
                .and_then(conid)
                .ok_or_else(|| format!("position row {} has no conid", i + 1))?;
            let account = row
                .get("acctId")
                .and_then(text)
                .and_then(|s| AccountCode::parse(&s))
                .ok_or_else(|| format!("position row {} (conid {conid}) has no account", i + 1))?;
            let quantity = row
                .get("position")
                .and_then(number)
                .ok_or_else(|| format!("position row {} (conid {conid}) has no quantity", i + 1))?;
            Ok(Position {
                account,
                contract: row_contract(row, conid),
                quantity,
                values: row_values(row),
                raw: row.clone(),
            })
        })
        .collect()
}

/// One leg of a native combo as `/portfolio/{id}/combo/positions` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComboLeg {
    pub conid: ConId,
    /// Signed ratio from `legs[]`, if the combo lists the conid there.
    pub ratio: Option<f64>,
    /// This combo's share of the account's position in the leg.
    pub position: Option<f64>,
    pub avg_price: Option<f64>,
    pub values: LegValues,
    /// The leg's position row as sent; `null` for a leg listed without one.
    pub raw: RawPayload,
}

/// A native combo position.
#[derive(Debug, Clone, PartialEq)]
pub struct Combo {
    pub name: Option<String>,
    pub description: Option<String>,
    pub legs: Vec<ComboLeg>,
    /// The combo's object as sent, its position rows included.
    pub raw: RawPayload,
}

/// A field kept as the text it was sent as, `null` included (serde's `Option` would read a
/// `null` as a missing field).
fn as_sent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A field's value, for the lenient readers above (`number`, `text`, `conid`): small,
/// scalars or the short `legs` list.
fn value_of(field: Option<&RawValue>) -> Option<Value> {
    field.and_then(|f| serde_json::from_str(f.get()).ok())
}

/// What the bridge reads of a combo; every other key is skipped unread.
#[derive(Deserialize)]
struct ComboText<'a> {
    #[serde(borrow, default, deserialize_with = "as_sent")]
    name: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    description: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    legs: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    positions: Option<&'a RawValue>,
}

/// What the bridge reads of a combo's position row.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComboRowText<'a> {
    #[serde(borrow, default, deserialize_with = "as_sent")]
    conid: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    position: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    avg_price: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    avg_cost: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    mkt_price: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    mkt_value: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    unrealized_pnl: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "as_sent")]
    realized_pnl: Option<&'a RawValue>,
}

/// The items of a JSON array, each as sent; else why not (never quoting the text).
fn items_of<'a>(text: &'a str, what: &str) -> Result<Vec<&'a RawValue>, Malformed> {
    serde_json::from_str(text).map_err(|_| match serde_json::from_str::<Value>(text) {
        Ok(v) => format!("expected an array of {what}, got {}", kind_of(&v)),
        // A syntax error names a line and column, never the text.
        Err(syntax) => format!("not JSON ({syntax})"),
    })
}

/// An object's fields as `T` reads them; else `not an object but …`.
fn object_of<'a, T: Deserialize<'a>>(item: &'a RawValue) -> Result<T, Malformed> {
    serde_json::from_str(item.get()).map_err(|_| match serde_json::from_str::<Value>(item.get()) {
        Ok(v) if !v.is_object() => format!("not an object but {}", kind_of(&v)),
        _ => "an object with a key twice".to_owned(),
    })
}

/// The combos of `/portfolio/{id}/combo/positions`, from the answer's text. An unreadable
/// combo rejects the whole answer, with a reason that names it (`combo CP.CP695fcbb4: …`, or
/// its place in the list). Read without building a tree of the answer (1.8 MB for 2,000
/// combos): only the fields used are parsed, and each combo and row keeps its text as `raw`.
pub fn combos(body: &str) -> Result<Vec<Combo>, Malformed> {
    items_of(body, "combos")?
        .into_iter()
        .enumerate()
        .map(|(i, combo)| {
            let fields: ComboText = object_of(combo)
                .map_err(|reason| format!("combo #{} (unnamed): {reason}", i + 1))?;
            let name = value_of(fields.name).as_ref().and_then(text);
            let label = name
                .clone()
                .unwrap_or_else(|| format!("#{} (unnamed)", i + 1));
            one_combo(combo, fields, name).map_err(|reason| format!("combo {label}: {reason}"))
        })
        .collect()
}

fn one_combo(
    combo: &RawValue,
    fields: ComboText,
    name: Option<String>,
) -> Result<Combo, Malformed> {
    let ratios: Vec<(ConId, Option<f64>)> = match value_of(fields.legs) {
        Some(legs) => array(&legs, "legs")?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let conid = l
                    .get("conid")
                    .and_then(conid)
                    .ok_or_else(|| format!("a leg without a conid (leg {})", i + 1))?;
                Ok((conid, l.get("ratio").and_then(number)))
            })
            .collect::<Result<_, Malformed>>()?,
        None => Vec::new(),
    };
    let rows = match fields.positions {
        Some(p) => items_of(p.get(), "positions")?,
        None => Vec::new(),
    };
    let mut legs = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let f: ComboRowText = object_of(row).map_err(|r| format!("position row {}: {r}", i + 1))?;
        let n = |field| value_of(field).as_ref().and_then(number);
        let conid = value_of(f.conid)
            .as_ref()
            .and_then(conid)
            .ok_or_else(|| format!("position row {} has no conid", i + 1))?;
        let ratio = ratios
            .iter()
            .find(|(c, _)| *c == conid)
            .and_then(|(_, r)| *r);
        legs.push(ComboLeg {
            conid,
            ratio,
            position: n(f.position),
            avg_price: n(f.avg_price),
            values: LegValues {
                avg_cost: n(f.avg_cost),
                market_price: n(f.mkt_price),
                market_value: n(f.mkt_value),
                unrealized_pnl: n(f.unrealized_pnl),
                realized_pnl: n(f.realized_pnl),
            },
            raw: RawPayload::from_json(row),
        });
    }
    // Legs listed without a position row still belong to the combo.
    for (conid, ratio) in &ratios {
        if !legs.iter().any(|l| l.conid == *conid) {
            legs.push(ComboLeg {
                conid: *conid,
                ratio: *ratio,
                position: None,
                avg_price: None,
                values: LegValues::default(),
                raw: RawPayload::null(),
            });
        }
    }
    if legs.is_empty() {
        return Err("no legs".into());
    }
    Ok(Combo {
        name,
        description: value_of(fields.description).as_ref().and_then(text),
        legs,
        raw: RawPayload::from_json(combo),
    })
}

/// `/portfolio/{id}/summary`: the totals the status page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub net_liquidation: Option<f64>,
    pub total_cash: Option<f64>,
    pub gross_position_value: Option<f64>,
    pub raw: Value,
}

pub fn summary(v: &Value) -> Result<Summary, Malformed> {
    if !v.is_object() {
        return Err(format!("expected a summary object, got {}", kind_of(v)));
    }
    let amount = |k: &str| v.get(k).and_then(|o| o.get("amount")).and_then(number);
    Ok(Summary {
        net_liquidation: amount("netliquidation"),
        total_cash: amount("totalcashvalue"),
        gross_position_value: amount("grosspositionvalue"),
        raw: v.clone(),
    })
}

/// Snapshot field ids the bridge asks for.
pub mod fields {
    pub const LAST: &str = "31";
    pub const MARK: &str = "7635";
    pub const DELTA: &str = "7308";
    pub const GAMMA: &str = "7309";
    pub const THETA: &str = "7310";
    pub const VEGA: &str = "7311";
    pub const IMPLIED_VOL: &str = "7633";
    pub const UNDERLYING_CONID: &str = "6457";
    pub const AVAILABILITY: &str = "6509";
    /// Every field the bridge reads, for the `fields=` parameter.
    pub const ALL: &str = "31,7635,7308,7309,7310,7311,7633,6457,6509";
}

/// One conid of `/iserver/marketdata/snapshot`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub conid: ConId,
    pub updated: Option<Timestamp>,
    pub raw: Value,
}

impl Snapshot {
    fn field(&self, id: &str) -> Option<&Value> {
        self.raw.get(id)
    }

    /// Whether IBKR returned any field yet (the first call for a conid returns none).
    pub fn has_data(&self) -> bool {
        [
            fields::LAST,
            fields::MARK,
            fields::DELTA,
            fields::AVAILABILITY,
        ]
        .iter()
        .any(|f| self.field(f).is_some())
    }

    /// The mark, else the last price.
    pub fn price(&self) -> Option<f64> {
        self.field(fields::MARK)
            .and_then(number)
            .or_else(|| self.field(fields::LAST).and_then(number))
    }

    /// Greeks as IBKR sends them: per unit of the underlying; missing fields stay `None`.
    pub fn greeks(&self) -> ModelGreeks {
        let f = |id| self.field(id).and_then(number);
        ModelGreeks {
            delta: f(fields::DELTA),
            gamma: f(fields::GAMMA),
            vega: f(fields::VEGA),
            theta: f(fields::THETA),
            // IBKR sends implied volatility in percent ("31.2%").
            implied_vol: f(fields::IMPLIED_VOL).map(|iv| iv / 100.0),
            underlying_price: None,
        }
    }

    pub fn underlying_conid(&self) -> Option<ConId> {
        self.field(fields::UNDERLYING_CONID).and_then(conid)
    }

    /// From field 6509's first letter: R live, D delayed, Z frozen, Y delayed frozen.
    pub fn kind(&self) -> Option<DataKind> {
        let code = self.field(fields::AVAILABILITY).and_then(text)?;
        match code.chars().next()? {
            'R' => Some(DataKind::Live),
            'D' => Some(DataKind::Delayed),
            'Z' => Some(DataKind::Frozen),
            'Y' => Some(DataKind::DelayedFrozen),
            _ => None,
        }
    }
}

pub fn snapshots(v: &Value) -> Result<Vec<Snapshot>, Malformed> {
    array(v, "snapshots")?
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let conid = row
                .get("conid")
                .and_then(conid)
                .ok_or_else(|| format!("snapshot {} has no conid", i + 1))?;
            Ok(Snapshot {
                conid,
                updated: row.get("_updated").and_then(epoch),
                raw: row.clone(),
            })
        })
        .collect()
}

/// `/trsrv/secdef`: contract facts by conid (multiplier, underlying, expiry).
pub fn secdefs(v: &Value) -> Result<Vec<(Contract, Value)>, Malformed> {
    let list = v.get("secdef").ok_or("no `secdef` in /trsrv/secdef")?;
    array(list, "secdefs")?
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let conid = row
                .get("conid")
                .and_then(conid)
                .ok_or_else(|| format!("secdef {} has no conid", i + 1))?;
            Ok((row_contract(row, conid), row.clone()))
        })
        .collect()
}

/// `/iserver/contract/{conid}/info`: the local symbol and trading class.
pub fn contract_info(v: &Value) -> Result<Contract, Malformed> {
    let id = v
        .get("con_id")
        .and_then(conid)
        .ok_or("contract info without con_id")?;
    let symbol = v
        .get("symbol")
        .and_then(text)
        .unwrap_or_else(|| id.to_string());
    let sec_type = v
        .get("instrument_type")
        .and_then(text)
        .map(|s| SecType::parse(&s))
        .unwrap_or(SecType::Other(String::new()));
    let mut c = Contract::new(id, symbol, sec_type);
    c.local_symbol = v.get("local_symbol").and_then(text);
    c.trading_class = v.get("trading_class").and_then(text);
    c.exchange = v.get("exchange").and_then(text);
    c.currency = v.get("currency").and_then(text);
    c.multiplier = v.get("multiplier").and_then(number).filter(|m| *m > 0.0);
    c.underlying_conid = v.get("underlying_con_id").and_then(conid);
    c.last_trade_date = v
        .get("maturity_date")
        .and_then(yyyymmdd)
        .or_else(|| v.get("expiry_full").and_then(yyyymmdd));
    Ok(c)
}

/// The message of an error body (`{"error": "..."}`), if it has one.
pub fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.get("error").and_then(text)
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
