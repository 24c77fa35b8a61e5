use bytes::BytesMut;
use prost::Message;

use super::*;
use crate::tws::proto::{NextValidId, StartApiRequest};

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[tokio::test]
async fn greeting_gives_the_client_version_range() {
    let mut bytes = b"API\0".to_vec();
    bytes.extend(framed(b"v213..226"));
    assert_eq!(
        read_greeting(&mut bytes.as_slice())
            .await
            .expect("greeting"),
        (213, 226)
    );

    let mut with_options = b"API\0".to_vec();
    with_options.extend(framed(b"v100..226 +PACEAPI"));
    assert_eq!(
        read_greeting(&mut with_options.as_slice())
            .await
            .expect("greeting"),
        (100, 226)
    );

    let mut bad = b"APX\0".to_vec();
    bad.extend(framed(b"v213..226"));
    assert!(read_greeting(&mut bad.as_slice()).await.is_err());
}

#[test]
fn negotiation_takes_the_highest_common_protobuf_version() {
    assert_eq!(negotiate((213, 226)), Some(226));
    assert_eq!(negotiate((213, 300)), Some(226));
    assert_eq!(negotiate((100, 220)), Some(220));
    assert_eq!(
        negotiate((100, 187)),
        None,
        "text-protocol clients are refused"
    );
    assert_eq!(negotiate((227, 230)), None);
}

#[test]
fn handshake_reply_is_one_frame_of_nul_terminated_text() {
    let reply = handshake_reply(226, "20261121 09:30:00 EST");
    assert_eq!(&reply[..4], &(26u32).to_be_bytes());
    assert_eq!(&reply[4..], b"226\x0020261121 09:30:00 EST\0");
}

#[tokio::test]
async fn frames_round_trip_with_the_protobuf_offset() {
    let mut out = BytesMut::new();
    encode_into(&NextValidId { order_id: Some(7) }, &mut out);
    assert_eq!(&out[4..8], &(209i32).to_be_bytes());
    let frame = read_frame(&mut &out[..])
        .await
        .expect("read")
        .expect("a frame");
    assert_eq!(frame.id, 9);
    assert!(frame.protobuf);
    assert_eq!(
        NextValidId::decode(frame.payload.as_slice())
            .expect("decode")
            .order_id,
        Some(7)
    );

    let start = StartApiRequest {
        client_id: Some(17),
        optional_capabilities: None,
    }
    .encode_to_vec();
    let mut body = (271i32).to_be_bytes().to_vec();
    body.extend(start);
    let frame = read_frame(&mut framed(&body).as_slice())
        .await
        .expect("read")
        .expect("a frame");
    assert_eq!((frame.id, frame.protobuf), (71, true));
}

#[tokio::test]
async fn clean_eof_is_none_and_garbage_is_an_error() {
    assert!(read_frame(&mut &b""[..]).await.expect("eof").is_none());
    assert!(
        read_frame(&mut &framed(b"ab")[..]).await.is_err(),
        "too short for an id"
    );
    let huge = (0x0100_0000u32).to_be_bytes();
    assert!(read_frame(&mut &huge[..]).await.is_err(), "oversized frame");
}
