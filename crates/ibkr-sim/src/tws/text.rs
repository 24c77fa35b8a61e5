//! The TWS API's text protocol, for clients below the protobuf server versions: how each
//! message the simulator sends looks as fields at a negotiated server version, and how each
//! request it serves reads. A real gateway speaks it to any client from v100 up; from v201 a
//! message travels as protobuf once its group's version is reached (`PROTOBUF_FROM`), and the
//! message id becomes a 4-byte integer for text too.
//!
//! Layouts and versions are the interface facts of IB's own clients (ibapi 10.51's
//! `decoder.py`, `client.py` and `server_versions.py`; ib_async 2.1's `decoder.py`). Knows
//! fields, not behaviour: it never decides what to answer.

use prost::Message as _;

use super::fields::{FieldError, Fields, Reader};
use super::proto::{self, Outgoing, incoming};
use super::wire::Frame;
use crate::scenario::format_number;

/// Server versions at which a layout changed, and the protobuf groups.
pub mod version {
    /// The oldest client a gateway accepts.
    pub const MIN_CLIENT: i32 = 100;
    pub const MD_SIZE_MULTIPLIER: i32 = 110;
    pub const AGG_GROUP: i32 = 121;
    pub const UNDERLYING_INFO: i32 = 122;
    pub const MARKET_RULES: i32 = 126;
    pub const UNREALIZED_PNL: i32 = 129;
    pub const REAL_EXPIRATION_DATE: i32 = 134;
    pub const REALIZED_PNL: i32 = 135;
    pub const SYNT_REALTIME_BARS: i32 = 124;
    pub const ORDER_CONTAINER: i32 = 145;
    pub const STOCK_TYPE: i32 = 152;
    pub const PRICE_BASED_VOLATILITY: i32 = 156;
    pub const FRACTIONAL_SIZE_SUPPORT: i32 = 163;
    pub const SIZE_RULES: i32 = 164;
    pub const ADVANCED_ORDER_REJECT: i32 = 166;
    pub const BOND_ISSUERID: i32 = 176;
    pub const LAST_TRADE_DATE: i32 = 182;
    pub const INELIGIBILITY_REASONS: i32 = 186;
    pub const CME_TAGGING_FIELDS: i32 = 192;
    pub const ERROR_TIME: i32 = 194;
    /// Message ids become 4-byte integers; errors and execution/order receipts go protobuf.
    pub const PROTOBUF: i32 = 201;
    pub const PROTOBUF_COMPLETED_ORDER: i32 = 204;
    pub const PROTOBUF_CONTRACT_DATA: i32 = 205;
    pub const PROTOBUF_MARKET_DATA: i32 = 206;
    pub const PROTOBUF_ACCOUNTS_POSITIONS: i32 = 207;
    /// Scanner data and PnL.
    pub const PROTOBUF_SCAN_DATA: i32 = 210;
    /// Option chains, market rules, family codes and the like.
    pub const PROTOBUF_REST_2: i32 = 212;
    /// Ids, current time, StartApi.
    pub const PROTOBUF_REST_3: i32 = 213;
}

/// A message the simulator sends, as text below the version it goes protobuf at.
pub trait Text: Outgoing {
    /// The first server version at which the message travels as protobuf.
    const PROTOBUF_FROM: i32;
    /// Its fields after the message id, at server `version` (below `PROTOBUF_FROM`).
    fn write(&self, version: i32, f: &mut Fields);
}

/// A request the simulator serves, read from text into the protobuf form it also arrives in.
pub trait Request: prost::Message + Default {
    /// Reads the fields after message id `id` (several cancels share one form).
    fn read(id: i32, version: i32, f: &mut Reader) -> Result<Self, FieldError>;
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("bad protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("bad text: {0}")]
    Text(#[from] FieldError),
}

/// Reads a request from its frame, protobuf or text.
pub fn decode<R: Request>(frame: &Frame, version: i32) -> Result<R, RequestError> {
    if frame.protobuf {
        Ok(R::decode(frame.payload.as_slice())?)
    } else {
        Ok(R::read(
            frame.id,
            version,
            &mut Reader::new(&frame.payload),
        )?)
    }
}

/// Text requests that carry a request (or order) id, by whether a message version comes
/// before it (ibapi 10.51's `client.py`).
const ID_AFTER_VERSION: &[i32] = &[
    1, 2, 3, 4, 7, 9, 10, 11, 19, 20, 21, 22, 23, 25, 50, 51, 54, 55, 56, 57, 62, 63, 67, 68, 69,
    70, 74, 75, 76, 77,
];
const ID_FIRST: &[i32] = &[
    78, 79, 81, 83, 84, 86, 87, 88, 89, 90, 92, 93, 94, 95, 96, 97, 98, 100, 101, 102, 103, 104,
];

/// The request id a request carries, to address an error to; -1 when it has none or it
/// cannot be read.
pub fn request_id(frame: &Frame, version: i32) -> i32 {
    if frame.protobuf {
        // Field 1 is the request or order id of every request that has one.
        return proto::CancelById::decode(frame.payload.as_slice())
            .ok()
            .and_then(|m| m.req_id)
            .unwrap_or(-1);
    }
    let versioned = match frame.id {
        incoming::PLACE_ORDER => version < ORDER_CONTAINER,
        incoming::CANCEL_ORDER => version < CME_TAGGING_FIELDS,
        20 => version < SYNT_REALTIME_BARS,
        id if ID_AFTER_VERSION.contains(&id) => true,
        id if ID_FIRST.contains(&id) => false,
        _ => return -1,
    };
    let mut f = Reader::new(&frame.payload);
    if versioned && f.skip(1).is_err() {
        return -1;
    }
    f.int().unwrap_or(-1)
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

fn multiplier(c: &proto::Contract) -> String {
    c.multiplier.map(format_number).unwrap_or_default()
}

/// The contract as positions and portfolio values carry it: conid first, then the
/// description; `exchange` for positions, the primary exchange for portfolio values.
fn write_held_contract(c: &proto::Contract, f: &mut Fields, primary: bool) {
    f.int(c.con_id.unwrap_or_default())
        .text(s(&c.symbol))
        .text(s(&c.sec_type))
        .text(s(&c.last_trade_date_or_contract_month))
        .float(c.strike.unwrap_or_default())
        .text(s(&c.right))
        .text(&multiplier(c))
        .text(if primary {
            s(&c.primary_exch)
        } else {
            s(&c.exchange)
        })
        .text(s(&c.currency))
        .text(s(&c.local_symbol))
        .text(s(&c.trading_class));
}

macro_rules! text {
    ($ty:ty, $from:expr, |$m:ident, $v:ident, $f:ident| $body:block) => {
        impl Text for $ty {
            const PROTOBUF_FROM: i32 = $from;
            fn write(&self, $v: i32, $f: &mut Fields) {
                let $m = self;
                let _ = ($m, $v);
                $body
            }
        }
    };
}

use version::*;

text!(proto::TickPrice, PROTOBUF_MARKET_DATA, |m, v, f| {
    f.int(6)
        .int(m.req_id.unwrap_or_default())
        .int(m.tick_type.unwrap_or_default())
        .float(m.price.unwrap_or_default())
        // A price without a size (the close) still has the field.
        .text(m.size.as_deref().unwrap_or("0"))
        .int(m.attr_mask.unwrap_or_default());
});

text!(proto::TickSize, PROTOBUF_MARKET_DATA, |m, v, f| {
    f.int(6)
        .int(m.req_id.unwrap_or_default())
        .int(m.tick_type.unwrap_or_default())
        .text(s(&m.size));
});

text!(
    proto::TickOptionComputation,
    PROTOBUF_MARKET_DATA,
    |m, v, f| {
        if v < PRICE_BASED_VOLATILITY {
            f.int(6);
        }
        f.int(m.req_id.unwrap_or_default())
            .int(m.tick_type.unwrap_or_default());
        if v >= PRICE_BASED_VOLATILITY {
            f.int(m.tick_attrib.unwrap_or_default());
        }
        for x in [
            m.implied_vol,
            m.delta,
            m.opt_price,
            m.pv_dividend,
            m.gamma,
            m.vega,
            m.theta,
            m.und_price,
        ] {
            f.float(x.unwrap_or_default());
        }
    }
);

text!(proto::TickReqParams, PROTOBUF_MARKET_DATA, |m, v, f| {
    f.int(m.req_id.unwrap_or_default())
        .text(s(&m.min_tick))
        .text(s(&m.bbo_exchange))
        .int(m.snapshot_permissions.unwrap_or_default());
});

text!(proto::TickSnapshotEnd, PROTOBUF_MARKET_DATA, |m, v, f| {
    f.int(1).int(m.req_id.unwrap_or_default());
});

text!(proto::MarketDataType, PROTOBUF_MARKET_DATA, |m, v, f| {
    f.int(1)
        .int(m.req_id.unwrap_or_default())
        .int(m.market_data_type.unwrap_or_default());
});

text!(proto::ErrorMessage, PROTOBUF, |m, v, f| {
    if v < ERROR_TIME {
        f.int(2);
    }
    f.int(m.id.unwrap_or_default())
        .int(m.error_code.unwrap_or_default())
        .text(s(&m.error_msg));
    if v >= ADVANCED_ORDER_REJECT {
        f.text("");
    }
    if v >= ERROR_TIME {
        f.int(m.error_time.unwrap_or_default());
    }
});

text!(
    proto::AccountValue,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(2)
            .text(s(&m.key))
            .text(s(&m.value))
            .text(s(&m.currency))
            .text(s(&m.account_name));
    }
);

text!(
    proto::PortfolioValue,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(8);
        write_held_contract(&m.contract.clone().unwrap_or_default(), f, true);
        f.text(s(&m.position))
            .float(m.market_price.unwrap_or_default())
            .float(m.market_value.unwrap_or_default())
            .float(m.average_cost.unwrap_or_default())
            .float(m.unrealized_pnl.unwrap_or_default())
            .float(m.realized_pnl.unwrap_or_default())
            .text(s(&m.account_name));
    }
);

text!(
    proto::AccountUpdateTime,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1).text(s(&m.time_stamp));
    }
);

text!(
    proto::AccountDataEnd,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1).text(s(&m.account_name));
    }
);

text!(
    proto::ManagedAccounts,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1).text(s(&m.accounts_list));
    }
);

text!(proto::Position, PROTOBUF_ACCOUNTS_POSITIONS, |m, v, f| {
    f.int(3).text(s(&m.account));
    write_held_contract(&m.contract.clone().unwrap_or_default(), f, false);
    f.text(s(&m.position)).float(m.avg_cost.unwrap_or_default());
});

text!(
    proto::PositionEnd,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1);
    }
);

text!(
    proto::AccountSummary,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1)
            .int(m.req_id.unwrap_or_default())
            .text(s(&m.account))
            .text(s(&m.tag))
            .text(s(&m.value))
            .text(s(&m.currency));
    }
);

text!(
    proto::AccountSummaryEnd,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1).int(m.req_id.unwrap_or_default());
    }
);

text!(
    proto::PositionMulti,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1)
            .int(m.req_id.unwrap_or_default())
            .text(s(&m.account));
        write_held_contract(&m.contract.clone().unwrap_or_default(), f, false);
        f.text(s(&m.position))
            .float(m.avg_cost.unwrap_or_default())
            .text(s(&m.model_code));
    }
);

text!(
    proto::PositionMultiEnd,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1).int(m.req_id.unwrap_or_default());
    }
);

text!(
    proto::AccountUpdateMulti,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1)
            .int(m.req_id.unwrap_or_default())
            .text(s(&m.account))
            .text(s(&m.model_code))
            .text(s(&m.key))
            .text(s(&m.value))
            .text(s(&m.currency));
    }
);

text!(
    proto::AccountUpdateMultiEnd,
    PROTOBUF_ACCOUNTS_POSITIONS,
    |m, v, f| {
        f.int(1).int(m.req_id.unwrap_or_default());
    }
);

text!(proto::PnL, PROTOBUF_SCAN_DATA, |m, v, f| {
    f.int(m.req_id.unwrap_or_default()).opt_float(m.daily_pnl);
    if v >= UNREALIZED_PNL {
        f.opt_float(m.unrealized_pnl);
    }
    if v >= REALIZED_PNL {
        f.opt_float(m.realized_pnl);
    }
});

text!(proto::PnLSingle, PROTOBUF_SCAN_DATA, |m, v, f| {
    f.int(m.req_id.unwrap_or_default())
        .text(s(&m.position))
        .opt_float(m.daily_pnl);
    if v >= UNREALIZED_PNL {
        f.opt_float(m.unrealized_pnl);
    }
    if v >= REALIZED_PNL {
        f.opt_float(m.realized_pnl);
    }
    f.opt_float(m.value);
});

text!(proto::NextValidId, PROTOBUF_REST_3, |m, v, f| {
    f.int(1).int(m.order_id.unwrap_or_default());
});

text!(proto::CurrentTime, PROTOBUF_REST_3, |m, v, f| {
    f.int(1).int(m.current_time.unwrap_or_default());
});

text!(proto::CurrentTimeInMillis, PROTOBUF_REST_3, |m, v, f| {
    f.int(m.current_time_in_millis.unwrap_or_default());
});

text!(proto::OpenOrdersEnd, PROTOBUF, |m, v, f| {
    f.int(1);
});

text!(proto::ExecutionDetailsEnd, PROTOBUF, |m, v, f| {
    f.int(1).int(m.req_id.unwrap_or_default());
});

text!(
    proto::CompletedOrdersEnd,
    PROTOBUF_COMPLETED_ORDER,
    |m, v, _f| {}
);

text!(proto::SecDefOptParameter, PROTOBUF_REST_2, |m, v, f| {
    f.int(m.req_id.unwrap_or_default())
        .text(s(&m.exchange))
        .int(m.underlying_con_id.unwrap_or_default())
        .text(s(&m.trading_class))
        .text(s(&m.multiplier))
        .int(m.expirations.len() as i64);
    for e in &m.expirations {
        f.text(e);
    }
    f.int(m.strikes.len() as i64);
    for x in &m.strikes {
        f.float(*x);
    }
});

text!(proto::SecDefOptParameterEnd, PROTOBUF_REST_2, |m, v, f| {
    f.int(m.req_id.unwrap_or_default());
});

text!(proto::ContractDataEnd, PROTOBUF_CONTRACT_DATA, |m, v, f| {
    f.int(1).int(m.req_id.unwrap_or_default());
});

text!(proto::ContractData, PROTOBUF_CONTRACT_DATA, |m, v, f| {
    let c = m.contract.clone().unwrap_or_default();
    let d = m.contract_details.clone().unwrap_or_default();
    if v < SIZE_RULES {
        f.int(8);
    }
    f.int(m.req_id.unwrap_or_default())
        .text(s(&c.symbol))
        .text(s(&c.sec_type))
        .text(s(&c.last_trade_date_or_contract_month));
    if v >= LAST_TRADE_DATE {
        f.text(s(&c.last_trade_date));
    }
    f.float(c.strike.unwrap_or_default())
        .text(s(&c.right))
        .text(s(&c.exchange))
        .text(s(&c.currency))
        .text(s(&c.local_symbol))
        .text(s(&d.market_name))
        .text(s(&c.trading_class))
        .int(c.con_id.unwrap_or_default())
        .text(s(&d.min_tick));
    if (MD_SIZE_MULTIPLIER..SIZE_RULES).contains(&v) {
        f.int(1);
    }
    f.text(&multiplier(&c))
        .text(s(&d.order_types))
        .text(s(&d.valid_exchanges))
        .int(d.price_magnifier.unwrap_or_default())
        .int(d.under_con_id.unwrap_or_default())
        .text(s(&d.long_name))
        .text(s(&c.primary_exch))
        .text(s(&d.contract_month))
        // Industry, category, subcategory: none for the simulator's instruments.
        .text("")
        .text("")
        .text("")
        .text(s(&d.time_zone_id))
        .text(s(&d.trading_hours))
        .text(s(&d.liquid_hours))
        // evRule, evMultiplier, then no security ids.
        .text("")
        .int(0)
        .int(0);
    if v >= AGG_GROUP {
        f.int(1);
    }
    if v >= UNDERLYING_INFO {
        f.text(s(&d.under_symbol)).text(s(&d.under_sec_type));
    }
    if v >= MARKET_RULES {
        f.text("");
    }
    if v >= REAL_EXPIRATION_DATE {
        f.text(s(&d.real_expiration_date));
    }
    if v >= STOCK_TYPE {
        f.text(if c.sec_type.as_deref() == Some("STK") {
            "COMMON"
        } else {
            ""
        });
    }
    if (FRACTIONAL_SIZE_SUPPORT..SIZE_RULES).contains(&v) {
        f.text(s(&d.size_increment));
    }
    if v >= SIZE_RULES {
        f.text(s(&d.min_size))
            .text(s(&d.size_increment))
            .text(s(&d.size_increment));
    }
    if v >= INELIGIBILITY_REASONS {
        f.int(0);
    }
});

// ---- requests ----

/// The contract fields a request carries: conid first, then the description as
/// `reqMktData` and `reqContractDetails` send it.
fn read_contract(f: &mut Reader) -> Result<proto::Contract, FieldError> {
    let opt = |t: String| (!t.is_empty()).then_some(t);
    Ok(proto::Contract {
        con_id: Some(f.int()?),
        symbol: opt(f.text()?),
        sec_type: opt(f.text()?),
        last_trade_date_or_contract_month: opt(f.text()?),
        strike: f.opt_float()?,
        right: opt(f.text()?),
        multiplier: f.text()?.parse().ok(),
        exchange: opt(f.text()?),
        primary_exch: opt(f.text()?),
        currency: opt(f.text()?),
        local_symbol: opt(f.text()?),
        trading_class: opt(f.text()?),
        description: None,
        last_trade_date: None,
    })
}

impl Request for proto::StartApiRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        Ok(proto::StartApiRequest {
            client_id: Some(f.int()?),
            optional_capabilities: f.text().ok(),
        })
    }
}

impl Request for proto::AccountDataRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        Ok(proto::AccountDataRequest {
            subscribe: Some(f.boolean()?),
            acct_code: Some(f.text()?),
        })
    }
}

impl Request for proto::PnLRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        Ok(proto::PnLRequest {
            req_id: Some(f.int()?),
            account: Some(f.text()?),
            model_code: Some(f.text()?),
        })
    }
}

impl Request for proto::PnLSingleRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        Ok(proto::PnLSingleRequest {
            req_id: Some(f.int()?),
            account: Some(f.text()?),
            model_code: Some(f.text()?),
            con_id: Some(f.int()?),
        })
    }
}

impl Request for proto::CancelById {
    fn read(id: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        // The older cancels open with a message version; the newer ones do not.
        if matches!(
            id,
            incoming::CANCEL_MKT_DATA
                | incoming::CANCEL_ACCOUNT_SUMMARY
                | incoming::CANCEL_POSITIONS_MULTI
                | incoming::CANCEL_ACCOUNT_UPDATES_MULTI
        ) {
            f.skip(1)?;
        }
        Ok(proto::CancelById {
            req_id: Some(f.int()?),
        })
    }
}

impl Request for proto::MarketDataTypeRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        Ok(proto::MarketDataTypeRequest {
            market_data_type: Some(f.int()?),
        })
    }
}

impl Request for proto::MarketDataRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        let req_id = f.int()?;
        let contract = read_contract(f)?;
        if contract.sec_type.as_deref() == Some("BAG") {
            let legs = f.int()?;
            f.skip(4 * usize::try_from(legs).unwrap_or_default())?;
        }
        if f.boolean()? {
            // A delta-neutral contract: conid, delta, price.
            f.skip(3)?;
        }
        Ok(proto::MarketDataRequest {
            req_id: Some(req_id),
            contract: Some(contract),
            generic_tick_list: Some(f.text()?),
            snapshot: Some(f.boolean()?),
            regulatory_snapshot: f.boolean().ok(),
        })
    }
}

impl Request for proto::ContractDataRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        Ok(proto::ContractDataRequest {
            req_id: Some(f.int()?),
            contract: Some(read_contract(f)?),
        })
    }
}

impl Request for proto::AccountSummaryRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        Ok(proto::AccountSummaryRequest {
            req_id: Some(f.int()?),
            group: Some(f.text()?),
            tags: Some(f.text()?),
        })
    }
}

impl Request for proto::PositionsMultiRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        Ok(proto::PositionsMultiRequest {
            req_id: Some(f.int()?),
            account: Some(f.text()?),
            model_code: Some(f.text()?),
        })
    }
}

impl Request for proto::AccountUpdatesMultiRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        f.skip(1)?;
        Ok(proto::AccountUpdatesMultiRequest {
            req_id: Some(f.int()?),
            account: Some(f.text()?),
            model_code: Some(f.text()?),
            ledger_and_nlv: Some(f.boolean()?),
        })
    }
}

impl Request for proto::SecDefOptParamsRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        Ok(proto::SecDefOptParamsRequest {
            req_id: Some(f.int()?),
            underlying_symbol: Some(f.text()?),
            fut_fop_exchange: Some(f.text()?),
            underlying_sec_type: Some(f.text()?),
            underlying_con_id: Some(f.int()?),
        })
    }
}

impl Request for proto::ExecutionRequest {
    fn read(_: i32, _: i32, f: &mut Reader) -> Result<Self, FieldError> {
        // The filter that follows does not matter: the simulator has no executions.
        f.skip(1)?;
        Ok(proto::ExecutionRequest {
            req_id: Some(f.int()?),
        })
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
