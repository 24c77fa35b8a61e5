//! The protobuf messages of the TWS API that the simulator reads and writes, written by hand
//! with `prost` derives (no `protoc`, no copied `.proto` files). Field numbers and types are
//! the interface facts of TWS API 10.35+ as `ibapi` 5.5 speaks them.
//!
//! Only the messages and fields the simulator uses are here; prost skips unknown fields on
//! decode, so a client sending more is fine. Every field is proto3 `optional`: `None` is not
//! sent, which is how TWS leaves a value unset. Ids are the TWS message ids; on the wire a
//! protobuf message carries id + 200 (see [`super::wire`]).

/// Message ids the client sends (before the +200 protobuf offset).
pub mod incoming {
    pub const REQ_MKT_DATA: i32 = 1;
    pub const CANCEL_MKT_DATA: i32 = 2;
    pub const REQ_ACCOUNT_DATA: i32 = 6;
    pub const REQ_IDS: i32 = 8;
    pub const REQ_CONTRACT_DATA: i32 = 9;
    pub const REQ_MANAGED_ACCTS: i32 = 17;
    pub const REQ_CURRENT_TIME: i32 = 49;
    pub const REQ_MARKET_DATA_TYPE: i32 = 59;
    pub const REQ_POSITIONS: i32 = 61;
    pub const CANCEL_POSITIONS: i32 = 64;
    pub const START_API: i32 = 71;
    pub const REQ_PNL: i32 = 92;
    pub const CANCEL_PNL: i32 = 93;
    pub const REQ_PNL_SINGLE: i32 = 94;
    pub const CANCEL_PNL_SINGLE: i32 = 95;
    pub const CANCEL_CONTRACT_DATA: i32 = 106;
    pub const PLACE_ORDER: i32 = 3;
    pub const CANCEL_ORDER: i32 = 4;
    pub const EXERCISE_OPTIONS: i32 = 21;
    pub const REQ_OPEN_ORDERS: i32 = 5;
    pub const REQ_EXECUTIONS: i32 = 7;
    pub const REQ_AUTO_OPEN_ORDERS: i32 = 15;
    pub const REQ_ALL_OPEN_ORDERS: i32 = 16;
    pub const REQ_GLOBAL_CANCEL: i32 = 58;
    pub const REQ_ACCOUNT_SUMMARY: i32 = 62;
    pub const CANCEL_ACCOUNT_SUMMARY: i32 = 63;
    pub const REQ_POSITIONS_MULTI: i32 = 74;
    pub const CANCEL_POSITIONS_MULTI: i32 = 75;
    pub const REQ_ACCOUNT_UPDATES_MULTI: i32 = 76;
    pub const CANCEL_ACCOUNT_UPDATES_MULTI: i32 = 77;
    pub const REQ_SEC_DEF_OPT_PARAMS: i32 = 78;
    pub const REQ_COMPLETED_ORDERS: i32 = 99;
    pub const REQ_CURRENT_TIME_IN_MILLIS: i32 = 105;
}

/// Message ids the server sends (before the +200 protobuf offset).
pub mod outgoing {
    pub const TICK_PRICE: i32 = 1;
    pub const TICK_SIZE: i32 = 2;
    pub const ERROR: i32 = 4;
    pub const ACCOUNT_VALUE: i32 = 6;
    pub const PORTFOLIO_VALUE: i32 = 7;
    pub const ACCOUNT_UPDATE_TIME: i32 = 8;
    pub const NEXT_VALID_ID: i32 = 9;
    pub const CONTRACT_DATA: i32 = 10;
    pub const MANAGED_ACCOUNTS: i32 = 15;
    pub const TICK_OPTION_COMPUTATION: i32 = 21;
    pub const CURRENT_TIME: i32 = 49;
    pub const CONTRACT_DATA_END: i32 = 52;
    pub const ACCOUNT_DOWNLOAD_END: i32 = 54;
    pub const TICK_SNAPSHOT_END: i32 = 57;
    pub const MARKET_DATA_TYPE: i32 = 58;
    pub const POSITION: i32 = 61;
    pub const POSITION_END: i32 = 62;
    pub const TICK_REQ_PARAMS: i32 = 81;
    pub const PNL: i32 = 94;
    pub const PNL_SINGLE: i32 = 95;
    pub const OPEN_ORDER_END: i32 = 53;
    pub const EXECUTION_DATA_END: i32 = 55;
    pub const ACCOUNT_SUMMARY: i32 = 63;
    pub const ACCOUNT_SUMMARY_END: i32 = 64;
    pub const POSITION_MULTI: i32 = 71;
    pub const POSITION_MULTI_END: i32 = 72;
    pub const ACCOUNT_UPDATE_MULTI: i32 = 73;
    pub const ACCOUNT_UPDATE_MULTI_END: i32 = 74;
    pub const SEC_DEF_OPT_PARAMETER: i32 = 75;
    pub const SEC_DEF_OPT_PARAMETER_END: i32 = 76;
    pub const COMPLETED_ORDERS_END: i32 = 102;
    pub const CURRENT_TIME_IN_MILLIS: i32 = 109;
}

/// A message with its TWS id, so the writer can frame it.
pub trait Outgoing: prost::Message {
    const ID: i32;
}

macro_rules! outgoing {
    ($($ty:ident = $id:path),* $(,)?) => {
        $(impl Outgoing for $ty { const ID: i32 = $id; })*
    };
}

outgoing! {
    TickPrice = outgoing::TICK_PRICE,
    TickSize = outgoing::TICK_SIZE,
    ErrorMessage = outgoing::ERROR,
    AccountValue = outgoing::ACCOUNT_VALUE,
    PortfolioValue = outgoing::PORTFOLIO_VALUE,
    AccountUpdateTime = outgoing::ACCOUNT_UPDATE_TIME,
    NextValidId = outgoing::NEXT_VALID_ID,
    ContractData = outgoing::CONTRACT_DATA,
    ManagedAccounts = outgoing::MANAGED_ACCOUNTS,
    TickOptionComputation = outgoing::TICK_OPTION_COMPUTATION,
    CurrentTime = outgoing::CURRENT_TIME,
    ContractDataEnd = outgoing::CONTRACT_DATA_END,
    AccountDataEnd = outgoing::ACCOUNT_DOWNLOAD_END,
    TickSnapshotEnd = outgoing::TICK_SNAPSHOT_END,
    MarketDataType = outgoing::MARKET_DATA_TYPE,
    Position = outgoing::POSITION,
    PositionEnd = outgoing::POSITION_END,
    TickReqParams = outgoing::TICK_REQ_PARAMS,
    PnL = outgoing::PNL,
    PnLSingle = outgoing::PNL_SINGLE,
    OpenOrdersEnd = outgoing::OPEN_ORDER_END,
    ExecutionDetailsEnd = outgoing::EXECUTION_DATA_END,
    AccountSummary = outgoing::ACCOUNT_SUMMARY,
    AccountSummaryEnd = outgoing::ACCOUNT_SUMMARY_END,
    PositionMulti = outgoing::POSITION_MULTI,
    PositionMultiEnd = outgoing::POSITION_MULTI_END,
    AccountUpdateMulti = outgoing::ACCOUNT_UPDATE_MULTI,
    AccountUpdateMultiEnd = outgoing::ACCOUNT_UPDATE_MULTI_END,
    SecDefOptParameter = outgoing::SEC_DEF_OPT_PARAMETER,
    SecDefOptParameterEnd = outgoing::SEC_DEF_OPT_PARAMETER_END,
    CompletedOrdersEnd = outgoing::COMPLETED_ORDERS_END,
    CurrentTimeInMillis = outgoing::CURRENT_TIME_IN_MILLIS,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Contract {
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub symbol: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub sec_type: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub last_trade_date_or_contract_month: Option<String>,
    #[prost(double, optional, tag = "5")]
    pub strike: Option<f64>,
    #[prost(string, optional, tag = "6")]
    pub right: Option<String>,
    #[prost(double, optional, tag = "7")]
    pub multiplier: Option<f64>,
    #[prost(string, optional, tag = "8")]
    pub exchange: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub primary_exch: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub currency: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub local_symbol: Option<String>,
    #[prost(string, optional, tag = "12")]
    pub trading_class: Option<String>,
    #[prost(string, optional, tag = "15")]
    pub description: Option<String>,
    #[prost(string, optional, tag = "21")]
    pub last_trade_date: Option<String>,
}

// ---- client → server ----

#[derive(Clone, PartialEq, prost::Message)]
pub struct StartApiRequest {
    #[prost(int32, optional, tag = "1")]
    pub client_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub optional_capabilities: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountDataRequest {
    #[prost(bool, optional, tag = "1")]
    pub subscribe: Option<bool>,
    #[prost(string, optional, tag = "2")]
    pub acct_code: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PnLRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PnLSingleRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
    #[prost(int32, optional, tag = "4")]
    pub con_id: Option<i32>,
}

/// The cancel messages that carry only the request id (market data, PnL, PnL single,
/// contract data).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelById {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MarketDataRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "3")]
    pub generic_tick_list: Option<String>,
    #[prost(bool, optional, tag = "4")]
    pub snapshot: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub regulatory_snapshot: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MarketDataTypeRequest {
    #[prost(int32, optional, tag = "1")]
    pub market_data_type: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractDataRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountSummaryRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub group: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tags: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionsMultiRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountUpdatesMultiRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
    #[prost(bool, optional, tag = "4")]
    pub ledger_and_nlv: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SecDefOptParamsRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub underlying_symbol: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub fut_fop_exchange: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub underlying_sec_type: Option<String>,
    #[prost(int32, optional, tag = "5")]
    pub underlying_con_id: Option<i32>,
}

/// Only the request id: the filter (field 2) does not matter to a gateway without executions.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutionRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

// ---- server → client ----

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountSummary {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tag: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub value: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub currency: Option<String>,
}

/// End markers that carry only the request id: one type each, as each has its own id.
macro_rules! ends_by_id {
    ($($name:ident),*) => {$(
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct $name {
            #[prost(int32, optional, tag = "1")]
            pub req_id: Option<i32>,
        }
    )*};
}

ends_by_id!(
    ExecutionDetailsEnd,
    AccountSummaryEnd,
    PositionMultiEnd,
    AccountUpdateMultiEnd,
    SecDefOptParameterEnd
);

#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionMulti {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(message, optional, tag = "3")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "4")]
    pub position: Option<String>,
    #[prost(double, optional, tag = "5")]
    pub avg_cost: Option<f64>,
    #[prost(string, optional, tag = "6")]
    pub model_code: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountUpdateMulti {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub value: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub currency: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SecDefOptParameter {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub exchange: Option<String>,
    #[prost(int32, optional, tag = "3")]
    pub underlying_con_id: Option<i32>,
    #[prost(string, optional, tag = "4")]
    pub trading_class: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub multiplier: Option<String>,
    #[prost(string, repeated, tag = "6")]
    pub expirations: Vec<String>,
    #[prost(double, repeated, tag = "7")]
    pub strikes: Vec<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OpenOrdersEnd {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CompletedOrdersEnd {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CurrentTimeInMillis {
    #[prost(int64, optional, tag = "1")]
    pub current_time_in_millis: Option<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NextValidId {
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ManagedAccounts {
    #[prost(string, optional, tag = "1")]
    pub accounts_list: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorMessage {
    #[prost(int32, optional, tag = "1")]
    pub id: Option<i32>,
    #[prost(int64, optional, tag = "2")]
    pub error_time: Option<i64>,
    #[prost(int32, optional, tag = "3")]
    pub error_code: Option<i32>,
    #[prost(string, optional, tag = "4")]
    pub error_msg: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Position {
    #[prost(string, optional, tag = "1")]
    pub account: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "3")]
    pub position: Option<String>,
    #[prost(double, optional, tag = "4")]
    pub avg_cost: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionEnd {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountValue {
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub currency: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub account_name: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PortfolioValue {
    #[prost(message, optional, tag = "1")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "2")]
    pub position: Option<String>,
    #[prost(double, optional, tag = "3")]
    pub market_price: Option<f64>,
    #[prost(double, optional, tag = "4")]
    pub market_value: Option<f64>,
    #[prost(double, optional, tag = "5")]
    pub average_cost: Option<f64>,
    #[prost(double, optional, tag = "6")]
    pub unrealized_pnl: Option<f64>,
    #[prost(double, optional, tag = "7")]
    pub realized_pnl: Option<f64>,
    #[prost(string, optional, tag = "8")]
    pub account_name: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountUpdateTime {
    #[prost(string, optional, tag = "1")]
    pub time_stamp: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountDataEnd {
    #[prost(string, optional, tag = "1")]
    pub account_name: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PnL {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(double, optional, tag = "2")]
    pub daily_pnl: Option<f64>,
    #[prost(double, optional, tag = "3")]
    pub unrealized_pnl: Option<f64>,
    #[prost(double, optional, tag = "4")]
    pub realized_pnl: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PnLSingle {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub position: Option<String>,
    #[prost(double, optional, tag = "3")]
    pub daily_pnl: Option<f64>,
    #[prost(double, optional, tag = "4")]
    pub unrealized_pnl: Option<f64>,
    #[prost(double, optional, tag = "5")]
    pub realized_pnl: Option<f64>,
    #[prost(double, optional, tag = "6")]
    pub value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TickPrice {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    #[prost(double, optional, tag = "3")]
    pub price: Option<f64>,
    #[prost(string, optional, tag = "4")]
    pub size: Option<String>,
    #[prost(int32, optional, tag = "5")]
    pub attr_mask: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TickSize {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    #[prost(string, optional, tag = "3")]
    pub size: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TickOptionComputation {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub tick_attrib: Option<i32>,
    #[prost(double, optional, tag = "4")]
    pub implied_vol: Option<f64>,
    #[prost(double, optional, tag = "5")]
    pub delta: Option<f64>,
    #[prost(double, optional, tag = "6")]
    pub opt_price: Option<f64>,
    #[prost(double, optional, tag = "7")]
    pub pv_dividend: Option<f64>,
    #[prost(double, optional, tag = "8")]
    pub gamma: Option<f64>,
    #[prost(double, optional, tag = "9")]
    pub vega: Option<f64>,
    #[prost(double, optional, tag = "10")]
    pub theta: Option<f64>,
    #[prost(double, optional, tag = "11")]
    pub und_price: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TickSnapshotEnd {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MarketDataType {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub market_data_type: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TickReqParams {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub min_tick: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub bbo_exchange: Option<String>,
    #[prost(int32, optional, tag = "4")]
    pub snapshot_permissions: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractDetails {
    #[prost(string, optional, tag = "1")]
    pub market_name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub min_tick: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub order_types: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub valid_exchanges: Option<String>,
    #[prost(int32, optional, tag = "5")]
    pub price_magnifier: Option<i32>,
    #[prost(int32, optional, tag = "6")]
    pub under_con_id: Option<i32>,
    #[prost(string, optional, tag = "7")]
    pub long_name: Option<String>,
    #[prost(string, optional, tag = "8")]
    pub contract_month: Option<String>,
    #[prost(string, optional, tag = "12")]
    pub time_zone_id: Option<String>,
    #[prost(string, optional, tag = "13")]
    pub trading_hours: Option<String>,
    #[prost(string, optional, tag = "14")]
    pub liquid_hours: Option<String>,
    #[prost(string, optional, tag = "19")]
    pub under_symbol: Option<String>,
    #[prost(string, optional, tag = "20")]
    pub under_sec_type: Option<String>,
    #[prost(string, optional, tag = "22")]
    pub real_expiration_date: Option<String>,
    #[prost(string, optional, tag = "24")]
    pub min_size: Option<String>,
    #[prost(string, optional, tag = "25")]
    pub size_increment: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractData {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(message, optional, tag = "3")]
    pub contract_details: Option<ContractDetails>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractDataEnd {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CurrentTime {
    #[prost(int64, optional, tag = "1")]
    pub current_time: Option<i64>,
}
