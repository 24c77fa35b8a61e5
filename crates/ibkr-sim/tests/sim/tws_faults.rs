//! TWS faults as the real `ibapi` client meets them.

use std::time::Duration;

use ibapi::prelude::*;
use ibkr_sim::tws::Restore;

use crate::helpers::{connect, next_data, start, within};

/// The next connectivity notice (1100, 1101 or 1102), skipping farm notices.
async fn connectivity_notice(notices: &mut NoticeStream) -> i32 {
    loop {
        let n = within("a connectivity notice", notices.next())
            .await
            .expect("a notice");
        if (1100..=1102).contains(&n.code) {
            return n.code;
        }
    }
}

/// The notice codes up to the 2106 that ends a restore, leaving out the start-up farm notices
/// (2104, 2107, 2158) that may come first.
async fn notices_to_2106(notices: &mut NoticeStream) -> Vec<i32> {
    let mut codes = Vec::new();
    while codes.last() != Some(&2106) {
        let code = within("notices", notices.next())
            .await
            .expect("a notice")
            .code;
        if code != 2104 && code != 2107 && code != 2158 || !codes.is_empty() {
            codes.push(code);
        }
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_refuses_connections_then_ibapi_reconnects() {
    let sim = start().await;
    let client = connect(&sim, 20).await;
    let mut positions = within("positions", client.positions())
        .await
        .expect("positions");
    while !matches!(next_data(&mut positions).await, PositionUpdate::PositionEnd) {}

    let tws = sim.control().tws().clone();
    tws.restart(Duration::from_secs(2));
    let lost = within("the stream ends", positions.next()).await;
    match lost {
        Some(Err(e)) => assert!(e.is_connection_lost(), "{e}"),
        other => panic!("expected a connection loss, got {other:?}"),
    }
    within("the listener closes", tws.until_listening(false)).await;
    let refused = tokio::net::TcpStream::connect(sim.tws_addr())
        .await
        .expect_err("refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    within("ibapi reconnects", client.wait_connected())
        .await
        .expect("reconnected");
    assert!(tws.status().listening);
    let mut again = within("positions", client.positions())
        .await
        .expect("positions after the restart");
    assert!(matches!(
        next_data(&mut again).await,
        PositionUpdate::Position(_)
    ));
}

/// A client that reconnects the instant a restart begins may find its connection queued by
/// the kernel before the gateway closes its listener: it must be refused all the same, or a
/// restart looks to it like a blip of a few milliseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_queued_as_a_restart_begins_is_refused() {
    use tokio::io::AsyncReadExt;
    let sim = start().await;
    let tws = sim.control().tws().clone();
    for round in 0..20 {
        // Connected at the kernel before the accept loop sees the restart.
        let queued = std::net::TcpStream::connect(sim.tws_addr()).expect("connect");
        tws.restart(Duration::from_secs(60));
        queued.set_nonblocking(true).expect("nonblocking");
        let mut queued = tokio::net::TcpStream::from_std(queued).expect("tokio stream");
        let mut byte = [0u8; 1];
        let read = within("the queued connection is closed", queued.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "round {round}: served during a restart"
        );
        // The next round starts from a gateway that has seen this restart and is back.
        within("the listener closes", tws.until_listening(false)).await;
        tws.restart(Duration::ZERO);
        within("the listener is back", tws.until_listening(true)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_1100_then_1101_forget_market_data() {
    let sim = start().await;
    let client = connect(&sim, 21).await;
    let mut notices = client.notice_stream().expect("notices");
    let fut = Contract {
        contract_id: 810000001,
        exchange: Exchange::from("NYMEX"),
        ..Default::default()
    };
    let mut ticks = within("subscribe", client.market_data(&fut).subscribe())
        .await
        .expect("subscribe");
    next_data(&mut ticks).await;
    let tws = sim.control().tws().clone();
    assert_eq!(tws.status().market_data_lines, 1);

    tws.lose_connectivity();
    assert_eq!(connectivity_notice(&mut notices).await, 1100);
    assert!(client.is_connected(), "the socket stays open");
    tws.restore_connectivity(Restore::DataLost);
    // The market data farm has nothing left to send: inactive until asked again (2108).
    assert_eq!(
        notices_to_2106(&mut notices).await,
        [2103, 2105, 1101, 2108, 2106]
    );
    assert_eq!(
        tws.status().market_data_lines,
        0,
        "after 1101 the client must subscribe again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notice_1102_keeps_market_data() {
    let sim = start().await;
    let client = connect(&sim, 22).await;
    let mut notices = client.notice_stream().expect("notices");
    let fut = Contract {
        contract_id: 810000001,
        exchange: Exchange::from("NYMEX"),
        ..Default::default()
    };
    let mut ticks = within("subscribe", client.market_data(&fut).subscribe())
        .await
        .expect("subscribe");
    next_data(&mut ticks).await;
    sim.control()
        .connectivity_blip(Duration::from_millis(50), Restore::DataMaintained);
    // As a gateway sends them: the farms break with the connection and come back with it.
    assert_eq!(
        notices_to_2106(&mut notices).await,
        [1100, 2103, 2105, 1102, 2104, 2106]
    );
    assert_eq!(sim.control().tws().status().market_data_lines, 1);
    sim.control().world().advance(1);
    assert!(matches!(
        next_data(&mut ticks).await,
        TickTypes::Price(_) | TickTypes::PriceSize(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_keeps_the_socket_open_and_answers_nothing() {
    let sim = start().await;
    let client = connect(&sim, 23).await;
    let tws = sim.control().tws().clone();
    tws.stall();
    // An absence can only be shown over a bound; the answer normally takes a millisecond.
    let unanswered = tokio::time::timeout(Duration::from_millis(300), client.server_time()).await;
    assert!(
        unanswered.is_err(),
        "a stalled gateway answered: {unanswered:?}"
    );
    assert!(client.is_connected());
    tws.resume();
    within("the answer after the stall", client.server_time())
        .await
        .expect("time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_then_close_rejects_the_handshake() {
    let sim = start().await;
    sim.control()
        .tws()
        .accept_then_close(Duration::from_secs(30));
    let Err(err) = within("connect", Client::connect(&sim.tws_addr().to_string(), 24)).await else {
        panic!("connected to a gateway that closes every connection");
    };
    assert!(
        matches!(
            err,
            ibapi::Error::ConnectionRejected(_) | ibapi::Error::Io(_)
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_in_use_is_refused_with_326() {
    let sim = start().await;
    let _first = connect(&sim, 25).await;
    let Err(err) = within("connect", Client::connect(&sim.tws_addr().to_string(), 25)).await else {
        panic!("a second client with the same id connected");
    };
    assert!(
        matches!(err, ibapi::Error::ClientIdInUse { client_id: 25 }),
        "{err:?}"
    );
    assert_eq!(sim.control().tws().status().client_ids, [25]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_come_back_on_their_own() {
    let sim = start().await;
    let client = connect(&sim, 26).await;
    let mut notices = client.notice_stream().expect("notices");
    sim.control().tws().drop_connections();
    loop {
        let n = within("the reconnect notice", notices.next())
            .await
            .expect("a notice");
        if n.code == ibapi::TRANSPORT_RECONNECT_CODE {
            break;
        }
    }
    within("time after the reconnect", client.server_time())
        .await
        .expect("time");
}
