use bytes::BytesMut;

use super::*;
use crate::tws::wire::{self, PROTOBUF_OFFSET};

/// A message as a client at `version` receives it: its id and its text fields.
fn sent<M: Text>(msg: &M, version: i32) -> (i32, Vec<String>) {
    let mut out = BytesMut::new();
    wire::encode_into(msg, version, &mut out);
    let len = u32::from_be_bytes(out[..4].try_into().expect("length")) as usize;
    assert_eq!(len, out.len() - 4, "the length prefix covers the frame");
    let body = &out[4..];
    let (id, text) = if version >= version::PROTOBUF {
        let id = i32::from_be_bytes(body[..4].try_into().expect("id"));
        (id, &body[4..])
    } else {
        let end = body.iter().position(|b| *b == 0).expect("an id field");
        let id = std::str::from_utf8(&body[..end])
            .expect("ascii")
            .parse()
            .expect("id");
        (id, &body[end + 1..])
    };
    let text = std::str::from_utf8(text).expect("ascii");
    assert!(
        text.is_empty() || text.ends_with('\0'),
        "every field ends with a NUL"
    );
    let fields = text.split_terminator('\0').map(str::to_owned).collect();
    (id, fields)
}

fn contract() -> proto::Contract {
    proto::Contract {
        con_id: Some(500_001),
        symbol: Some("CL".into()),
        sec_type: Some("FOP".into()),
        last_trade_date_or_contract_month: Some("20270215".into()),
        strike: Some(75.5),
        right: Some("C".into()),
        multiplier: Some(1000.0),
        exchange: Some("NYMEX".into()),
        primary_exch: None,
        currency: Some("USD".into()),
        local_symbol: Some("LOH7 C7550".into()),
        trading_class: Some("LO".into()),
        description: None,
        last_trade_date: Some("20270215".into()),
    }
}

#[test]
fn a_position_has_the_layout_ib_async_unpacks() {
    let msg = proto::Position {
        account: Some("DU111".into()),
        contract: Some(contract()),
        position: Some("-2".into()),
        avg_cost: Some(1234.5),
    };
    let (id, fields) = sent(&msg, 178);
    assert_eq!(id, proto::outgoing::POSITION);
    // ib_async 2.1 unpacks exactly: msgId, version, account, 11 contract fields, position,
    // avgCost.
    assert_eq!(
        fields,
        [
            "3",
            "DU111",
            "500001",
            "CL",
            "FOP",
            "20270215",
            "75.5",
            "C",
            "1000",
            "NYMEX",
            "USD",
            "LOH7 C7550",
            "LO",
            "-2",
            "1234.5"
        ]
    );
}

#[test]
fn a_portfolio_value_carries_the_primary_exchange_where_a_position_has_the_exchange() {
    let mut c = contract();
    c.primary_exch = Some("NYMEX2".into());
    let msg = proto::PortfolioValue {
        contract: Some(c),
        position: Some("1".into()),
        market_price: Some(2.0),
        market_value: Some(2000.0),
        average_cost: Some(1500.0),
        unrealized_pnl: Some(500.0),
        realized_pnl: Some(0.0),
        account_name: Some("DU111".into()),
    };
    let (_, fields) = sent(&msg, 178);
    // ib_async: exactly 20 fields with the id, so 19 here.
    assert_eq!(fields.len(), 19);
    assert_eq!(fields[0], "8");
    assert_eq!(fields[8], "NYMEX2");
    assert_eq!(fields[18], "DU111");
}

#[test]
fn option_computations_lose_their_version_and_gain_an_attribute_at_156() {
    let msg = proto::TickOptionComputation {
        req_id: Some(9),
        tick_type: Some(13),
        tick_attrib: Some(1),
        implied_vol: Some(0.3),
        delta: Some(0.5),
        opt_price: Some(2.0),
        pv_dividend: Some(0.0),
        gamma: Some(0.01),
        vega: Some(0.2),
        theta: Some(-0.05),
        und_price: Some(75.0),
    };
    let (_, before) = sent(&msg, 155);
    assert_eq!(&before[..3], ["6", "9", "13"]);
    assert_eq!(before.len(), 11);
    let (_, after) = sent(&msg, 156);
    assert_eq!(&after[..3], ["9", "13", "1"]);
    assert_eq!(after.len(), 11);
    assert_eq!(after[10], "75.0");
}

#[test]
fn errors_follow_the_error_time_change_and_go_protobuf_at_201() {
    let msg = proto::ErrorMessage {
        id: Some(-1),
        error_time: Some(1_700_000_000_000),
        error_code: Some(2104),
        error_msg: Some("Market data farm connection is OK:usfarm".into()),
    };
    let (_, v165) = sent(&msg, 165);
    assert_eq!(
        v165,
        [
            "2",
            "-1",
            "2104",
            "Market data farm connection is OK:usfarm"
        ]
    );
    let (_, v178) = sent(&msg, 178);
    assert_eq!(v178.len(), 5, "the advanced-order-reject JSON from 166");
    let (_, v200) = sent(&msg, 200);
    assert_eq!(
        v200,
        [
            "-1",
            "2104",
            "Market data farm connection is OK:usfarm",
            "",
            "1700000000000"
        ]
    );
    let mut out = BytesMut::new();
    wire::encode_into(&msg, 201, &mut out);
    assert_eq!(
        i32::from_be_bytes(out[4..8].try_into().expect("id")),
        proto::outgoing::ERROR + PROTOBUF_OFFSET
    );
}

#[test]
fn between_201_and_its_group_a_message_is_text_behind_an_integer_id() {
    let msg = proto::PositionEnd {};
    let (id, fields) = sent(&msg, 205);
    assert_eq!(id, proto::outgoing::POSITION_END);
    assert_eq!(fields, ["1"]);
    let mut out = BytesMut::new();
    wire::encode_into(&msg, version::PROTOBUF_ACCOUNTS_POSITIONS, &mut out);
    assert_eq!(
        i32::from_be_bytes(out[4..8].try_into().expect("id")),
        proto::outgoing::POSITION_END + PROTOBUF_OFFSET
    );
}

#[test]
fn contract_details_have_as_many_fields_as_each_client_reads() {
    let msg = proto::ContractData {
        req_id: Some(4),
        contract: Some(contract()),
        contract_details: Some(proto::ContractDetails {
            market_name: Some("LO".into()),
            min_tick: Some("0.01".into()),
            under_con_id: Some(400_001),
            ..Default::default()
        }),
    };
    // ib_async 2.1 at 178: 39 fields after the id (no version from 164).
    let (_, v178) = sent(&msg, 178);
    assert_eq!(v178.len(), 39);
    assert_eq!(v178[0], "4");
    assert_eq!(v178[11], "500001");
    assert_eq!(v178[13], "1000", "the multiplier after the min tick");
    // Below 164: a version first and the obsolete md size multiplier after the min tick.
    let (_, v163) = sent(&msg, 163);
    assert_eq!(v163[0], "8");
    assert_eq!(v163[14], "1", "mdSizeMultiplier");
    assert_eq!(v163[15], "1000");
    // From 182 the last trade date follows the contract month; from 186 an empty list of
    // ineligibility reasons ends it.
    let (_, v200) = sent(&msg, 200);
    assert_eq!(v200.len(), 41);
    assert_eq!(v200[4], "20270215");
}

fn text_frame(id: i32, fields: &[&str]) -> Frame {
    let mut payload = Vec::new();
    for f in fields {
        payload.extend_from_slice(f.as_bytes());
        payload.push(0);
    }
    Frame {
        id,
        protobuf: false,
        payload,
    }
}

#[test]
fn a_text_market_data_request_reads_as_its_protobuf_form() {
    // reqMktData as ibapi 10.51 and ib_async send it: version 11, request id, contract,
    // no delta-neutral contract, generic ticks, snapshot, regulatory snapshot, options.
    let frame = text_frame(
        incoming::REQ_MKT_DATA,
        &[
            "11", "7", "0", "CL", "FOP", "20270215", "75.5", "C", "1000", "NYMEX", "", "USD", "",
            "", "0", "100,101", "0", "0", "",
        ],
    );
    let req: proto::MarketDataRequest = decode(&frame, 178).expect("reads");
    assert_eq!(req.req_id, Some(7));
    let c = req.contract.expect("contract");
    assert_eq!(c.con_id, Some(0));
    assert_eq!(c.symbol.as_deref(), Some("CL"));
    assert_eq!(c.strike, Some(75.5));
    assert_eq!(c.multiplier, Some(1000.0));
    assert_eq!(c.exchange.as_deref(), Some("NYMEX"));
    assert_eq!(c.primary_exch, None);
    assert_eq!(req.generic_tick_list.as_deref(), Some("100,101"));
    assert_eq!(req.snapshot, Some(false));
}

#[test]
fn cancels_with_and_without_a_message_version_read_the_same_id() {
    let md: proto::CancelById =
        decode(&text_frame(incoming::CANCEL_MKT_DATA, &["2", "7"]), 178).expect("reads");
    assert_eq!(md.req_id, Some(7));
    let pnl: proto::CancelById =
        decode(&text_frame(incoming::CANCEL_PNL, &["7"]), 178).expect("reads");
    assert_eq!(pnl.req_id, Some(7));
}

#[test]
fn a_short_request_is_an_error_not_a_guess() {
    let err = decode::<proto::PnLSingleRequest>(&text_frame(incoming::REQ_PNL_SINGLE, &["7"]), 178)
        .expect_err("too short");
    assert!(err.to_string().contains("field 1 is missing"), "{err}");
}

#[test]
fn an_error_for_a_request_is_addressed_to_its_id() {
    // placeOrder leads with a version below 145; cancelOrder below 192.
    let place = text_frame(incoming::PLACE_ORDER, &["45", "12", "0"]);
    assert_eq!(request_id(&place, 144), 12);
    let place = text_frame(incoming::PLACE_ORDER, &["12", "0"]);
    assert_eq!(request_id(&place, 178), 12);
    let hist = text_frame(20, &["31", "0"]);
    assert_eq!(
        request_id(&hist, 178),
        31,
        "historical data has no version from 124"
    );
    let news = text_frame(12, &["1", "1"]);
    assert_eq!(
        request_id(&news, 178),
        -1,
        "news bulletins carry no request id"
    );
    let proto = Frame {
        id: incoming::PLACE_ORDER,
        protobuf: true,
        payload: proto::CancelById { req_id: Some(44) }.encode_to_vec(),
    };
    assert_eq!(request_id(&proto, 226), 44);
}
