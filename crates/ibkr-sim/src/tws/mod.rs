//! TWS socket side: a listener that speaks the TWS API as IB Gateway does to any client from
//! v100 up — the text protocol below the protobuf versions, protobuf from them (10.35+) —
//! and the gateway-level faults — restart windows that drop every connection and refuse new
//! ones, accept-then-close, stalls, and connectivity notices (1100, then 1101 or 1102).
//!
//! Per-connection protocol lives in [`session`]; this module owns the listener and what all
//! sessions share. It never changes the world; it only reads it.

mod account;
pub mod fields;
pub mod proto;
mod session;
pub mod text;
pub mod wire;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::Shutdown;
use crate::world::World;

/// What the gateway is doing, as every session and the acceptor see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// A restart: no listener (connections are refused) until then.
    pub down_until: Option<Instant>,
    /// Up but not logged in: connections are accepted and closed at once until then.
    pub accept_close_until: Option<Instant>,
    /// Hung: sockets stay open, nothing is read or sent.
    pub stalled: bool,
    /// IB's servers unreachable (1100 sent): no market data or PnL flows.
    pub connectivity_lost: bool,
}

impl Mode {
    fn down(&self, now: Instant) -> bool {
        self.down_until.is_some_and(|t| t > now)
    }

    fn accept_close(&self, now: Instant) -> bool {
        self.accept_close_until.is_some_and(|t| t > now)
    }
}

/// How connectivity comes back after a 1100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restore {
    /// 1101: market-data subscriptions are gone and must be requested again.
    DataLost,
    /// 1102: subscriptions carry on.
    DataMaintained,
}

/// Orders for every live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Close the socket (a restart or a drop).
    Drop,
    /// Send a global notice (id -1).
    Notice { code: i32, message: String },
    /// Forget every market-data subscription (after 1101).
    ForgetMarketData,
    /// The firehose's rate changed: a session whose firehose was off starts it now, not at
    /// its next unrelated wake-up.
    Firehose,
}

/// Counters for the control API's status.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TwsStatus {
    pub addr: SocketAddr,
    pub connections: usize,
    pub client_ids: Vec<i32>,
    /// A restart window is in force.
    pub down: bool,
    /// The listener is open (false from shortly after a restart until its window ends).
    pub listening: bool,
    pub accepting_then_closing: bool,
    pub stalled: bool,
    pub connectivity_lost: bool,
    pub firehose_ticks_per_second: u32,
    pub connections_accepted: usize,
    /// Streaming market-data subscriptions over every connection.
    pub market_data_lines: usize,
}

pub(crate) struct Shared {
    pub world: Arc<World>,
    pub mode: watch::Sender<Mode>,
    pub commands: broadcast::Sender<Command>,
    pub client_ids: Mutex<HashSet<i32>>,
    pub next_order_id: AtomicI32,
    pub firehose_tps: AtomicU32,
    pub connections: AtomicUsize,
    pub accepted: AtomicUsize,
    pub market_data_lines: AtomicUsize,
    /// Whether the listener is open; false through a restart's window.
    pub listening: watch::Sender<bool>,
}

/// The TWS side of a running simulator.
#[derive(Clone)]
pub struct TwsGateway {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl TwsGateway {
    /// Binds `addr` (port 0 for an ephemeral one) and serves until `shutdown`.
    pub async fn start(
        world: Arc<World>,
        addr: SocketAddr,
        firehose_tps: u32,
        shutdown: Shutdown,
    ) -> std::io::Result<TwsGateway> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(Mode::default());
        let (commands, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            world,
            mode,
            commands,
            client_ids: Mutex::new(HashSet::new()),
            next_order_id: AtomicI32::new(1),
            firehose_tps: AtomicU32::new(firehose_tps),
            connections: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            market_data_lines: AtomicUsize::new(0),
            listening: watch::Sender::new(true),
        });
        tokio::spawn(accept_loop(shared.clone(), listener, addr, shutdown));
        info!(%addr, "TWS API listening");
        Ok(TwsGateway { shared, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn update(&self, f: impl FnOnce(&mut Mode)) {
        self.shared.mode.send_modify(f);
    }

    /// A gateway restart: every connection is dropped and new ones are refused for `window`.
    pub fn restart(&self, window: Duration) {
        info!(
            ?window,
            "TWS restart: dropping connections, refusing new ones"
        );
        // The acceptor closes the listener, then drops every connection: a client that
        // reconnects at once is refused, as by a gateway whose process is down.
        self.update(|m| {
            m.down_until = Some(Instant::now() + window);
            m.stalled = false;
            m.connectivity_lost = false;
        });
    }

    /// Drops every connection; new ones are accepted as usual.
    pub fn drop_connections(&self) {
        info!("TWS: dropping every connection");
        let _ = self.shared.commands.send(Command::Drop);
    }

    /// For `window`, connections are accepted and closed at once (up but not logged in).
    pub fn accept_then_close(&self, window: Duration) {
        info!(?window, "TWS: accepting then closing connections");
        self.update(|m| m.accept_close_until = Some(Instant::now() + window));
    }

    /// Hangs every session (sockets open, nothing read or sent) until [`TwsGateway::resume`].
    pub fn stall(&self) {
        info!("TWS: stalled");
        self.update(|m| m.stalled = true);
    }

    /// Ends a stall.
    pub fn resume(&self) {
        info!("TWS: resumed");
        self.update(|m| m.stalled = false);
    }

    fn notice(&self, code: i32, message: &str) {
        let _ = self.shared.commands.send(Command::Notice {
            code,
            message: message.into(),
        });
    }

    /// Sends 1100 (connectivity to IB lost) to every session, then the farms' 2103 and 2105
    /// (broken), and stops market data and PnL.
    pub fn lose_connectivity(&self) {
        info!("TWS: connectivity lost (1100)");
        self.update(|m| m.connectivity_lost = true);
        self.notice(
            1100,
            "Connectivity between IBKR and Trader Workstation has been lost.",
        );
        self.notice(2103, "Market data farm connection is broken:usfarm");
        self.notice(2105, "HMDS data farm connection is broken:ushmds");
    }

    /// Sends 1101 (data lost: subscriptions forgotten) or 1102 (data maintained), then the
    /// farms: HMDS OK again (2106), the market data farm OK (2104) — or, when the data was
    /// lost, inactive until a client subscribes again (2108), having nothing to send.
    pub fn restore_connectivity(&self, restore: Restore) {
        info!(?restore, "TWS: connectivity restored");
        if restore == Restore::DataLost {
            let _ = self.shared.commands.send(Command::ForgetMarketData);
        }
        let (code, message) = match restore {
            Restore::DataLost => (
                1101,
                "Connectivity between IBKR and Trader Workstation has been restored - data lost.",
            ),
            Restore::DataMaintained => (
                1102,
                "Connectivity between IBKR and Trader Workstation has been restored - data \
                 maintained.",
            ),
        };
        self.notice(code, message);
        match restore {
            Restore::DataLost => self.notice(
                2108,
                "Market data farm connection is inactive but should be available upon \
                 demand.usfarm",
            ),
            Restore::DataMaintained => {
                self.notice(2104, "Market data farm connection is OK:usfarm");
            }
        }
        self.notice(2106, "HMDS data farm connection is OK:ushmds");
        self.update(|m| m.connectivity_lost = false);
    }

    /// Option-computation ticks per second per connection, spread over its option
    /// subscriptions; 0 turns the firehose off.
    pub fn set_firehose(&self, ticks_per_second: u32) {
        self.shared
            .firehose_tps
            .store(ticks_per_second, Ordering::Relaxed);
        let _ = self.shared.commands.send(Command::Firehose);
    }

    /// Waits until the listener is open (`true`) or closed (`false`), as a restart's window
    /// begins and ends.
    pub async fn until_listening(&self, listening: bool) {
        let mut rx = self.shared.listening.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = rx.wait_for(|l| *l == listening).await;
    }

    pub fn status(&self) -> TwsStatus {
        let mode = *self.shared.mode.borrow();
        let now = Instant::now();
        let mut client_ids: Vec<i32> = self
            .shared
            .client_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        client_ids.sort_unstable();
        TwsStatus {
            addr: self.addr,
            connections: self.shared.connections.load(Ordering::Relaxed),
            client_ids,
            down: mode.down(now),
            listening: *self.shared.listening.borrow(),
            accepting_then_closing: mode.accept_close(now),
            stalled: mode.stalled,
            connectivity_lost: mode.connectivity_lost,
            firehose_ticks_per_second: self.shared.firehose_tps.load(Ordering::Relaxed),
            connections_accepted: self.shared.accepted.load(Ordering::Relaxed),
            market_data_lines: self.shared.market_data_lines.load(Ordering::Relaxed),
        }
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    addr: SocketAddr,
    mut shutdown: Shutdown,
) {
    let mut mode_rx = shared.mode.subscribe();
    let mut listener = Some(listener);
    loop {
        let mode = *mode_rx.borrow_and_update();
        if let Some(until) = mode.down_until.filter(|t| *t > Instant::now()) {
            // Closing the listener is what makes connects fail with "connection refused";
            // only then are the connections dropped, so none can come back in between.
            listener = None;
            shared.listening.send_replace(false);
            let _ = shared.commands.send(Command::Drop);
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = mode_rx.changed() => {}
                _ = shutdown.wait() => return,
            }
            continue;
        }
        let current = match listener.take() {
            Some(l) => l,
            None => match TcpListener::bind(addr).await {
                Ok(l) => {
                    info!(%addr, "TWS API listening again");
                    shared.listening.send_replace(true);
                    l
                }
                Err(e) => {
                    warn!(%addr, "cannot listen again yet: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = shutdown.wait() => return,
                    }
                    continue;
                }
            },
        };
        tokio::select! {
            accepted = current.accept() => {
                listener = Some(current);
                let Ok((stream, peer)) = accepted else { continue };
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                // Subscribed before the mode is read: a restart ordered after the read sends
                // its Drop after this, so the session cannot miss it by starting late.
                let commands = shared.commands.subscribe();
                // The mode as it is now, not as this round began: a connection the kernel
                // queued while a restart was being ordered is refused like any during it.
                let now = *mode_rx.borrow();
                if now.down(Instant::now()) || now.accept_close(Instant::now()) {
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                tokio::spawn(session::serve(shared.clone(), stream, peer, commands, shutdown.clone()));
            }
            _ = mode_rx.changed() => listener = Some(current),
            _ = shutdown.wait() => return,
        }
    }
}
