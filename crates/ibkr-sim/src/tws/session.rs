//! One TWS API connection: the handshake, then requests answered from the world and
//! subscriptions kept up to date — positions, account updates, PnL, market data with model
//! option computations, contract details, account summaries, positions and account updates by
//! request, option chains, current time — in the text protocol or protobuf as the negotiated
//! version has each message. Every other request gets an answer too: the empty ends of open
//! orders, executions and completed orders (the simulator has none), IBKR's read-only refusal
//! (321) for orders and exercise, and an error naming any request it does not serve — never silence.
//!
//! Request ids are echoed exactly. A session writes nothing while the gateway is stalled and
//! sends no market data or PnL while connectivity is lost. It never changes the world.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use jiff::Timestamp;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info};

use super::account::{self, AccountValue};
use super::proto::{self, incoming};
use super::text::{self, Text};
use super::wire::{self, Frame};
use super::{Command, Shared};
use crate::Shutdown;
use crate::calendar::Sessions;
use crate::scenario::{Instrument, SecType, format_number, right_code};
use crate::world::{Event, Leg, NEW_YORK, Quote};

/// IB's "unset" values in option computations.
const UNSET_PRICE: f64 = -1.0;
const UNSET_GREEK: f64 = -2.0;

mod tick {
    pub const BID_SIZE: i32 = 0;
    pub const BID: i32 = 1;
    pub const ASK: i32 = 2;
    pub const ASK_SIZE: i32 = 3;
    pub const LAST: i32 = 4;
    pub const LAST_SIZE: i32 = 5;
    pub const VOLUME: i32 = 8;
    pub const CLOSE: i32 = 9;
    pub const BID_OPTION: i32 = 10;
    pub const ASK_OPTION: i32 = 11;
    pub const LAST_OPTION: i32 = 12;
    pub const MODEL_OPTION: i32 = 13;
    /// Delayed tick types are the live ones moved to this range.
    pub const DELAYED_BID: i32 = 66;
    pub const DELAYED_ASK: i32 = 67;
    pub const DELAYED_LAST: i32 = 68;
    pub const DELAYED_BID_SIZE: i32 = 69;
    pub const DELAYED_ASK_SIZE: i32 = 70;
    pub const DELAYED_LAST_SIZE: i32 = 71;
    pub const DELAYED_VOLUME: i32 = 74;
    pub const DELAYED_CLOSE: i32 = 75;
    pub const DELAYED_BID_OPTION: i32 = 80;
    pub const DELAYED_ASK_OPTION: i32 = 81;
    pub const DELAYED_LAST_OPTION: i32 = 82;
    pub const DELAYED_MODEL_OPTION: i32 = 83;
}

/// What a positions stream last said per (account, conid), to send closes as 0.
type SentPositions = BTreeMap<(String, i32), f64>;

/// A positions-multi subscription: its account (None: every account) and what it last said.
struct PositionsMulti {
    account: Option<String>,
    sent: SentPositions,
}

/// An option chain as `reqSecDefOptParams` reports it, per exchange, trading class and
/// multiplier.
#[derive(Default)]
struct Chain {
    expiries: Vec<String>,
    strikes: Vec<f64>,
}

/// A live market-data subscription.
struct MarketSub {
    conid: i32,
    delayed: bool,
    /// Option computations sent so far; the first is "not computed yet".
    computations: u64,
}

struct Session {
    shared: Arc<Shared>,
    client_id: i32,
    /// The negotiated server version: which messages go as text, and their layouts.
    version: i32,
    out: BytesMut,
    market_data_type: i32,
    positions: bool,
    account_updates: Option<String>,
    pnl: BTreeMap<i32, String>,
    pnl_single: BTreeMap<i32, (String, i32)>,
    market: BTreeMap<i32, MarketSub>,
    sent_positions: SentPositions,
    /// What account updates last said per conid, for the subscribed account.
    sent_portfolio: BTreeMap<i32, f64>,
    /// Account summary subscriptions: request id → tags asked for.
    summaries: BTreeMap<i32, Vec<String>>,
    positions_multi: BTreeMap<i32, PositionsMulti>,
    /// Account-updates-multi subscriptions: request id → account.
    updates_multi: BTreeMap<i32, String>,
    firehose_cursor: usize,
}

/// Serves one connection until the client leaves, the gateway drops it, or shutdown.
///
/// `commands` was subscribed before the accept loop last read the mode, so that a restart
/// ordered after that read reaches this session even if it comes before the task first runs.
pub(super) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    commands: broadcast::Receiver<Command>,
    shutdown: Shutdown,
) {
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let result = run(shared.clone(), stream, commands, shutdown).await;
    shared.connections.fetch_sub(1, Ordering::Relaxed);
    match result {
        Ok(Some(client_id)) => info!(%peer, client_id, "TWS client left"),
        Ok(None) => debug!(%peer, "TWS connection closed before the API started"),
        Err(e) => debug!(%peer, "TWS connection ended: {e}"),
    }
}

/// Waits while the gateway is stalled; false if shutdown came first.
async fn wait_unstalled(shared: &Shared, shutdown: &mut Shutdown) -> bool {
    let mut mode = shared.mode.subscribe();
    tokio::select! {
        r = mode.wait_for(|m| !m.stalled) => r.is_ok(),
        _ = shutdown.wait() => false,
    }
}

fn connection_time(now: Timestamp) -> String {
    now.to_zoned(NEW_YORK.clone())
        .strftime("%Y%m%d %H:%M:%S %Z")
        .to_string()
}

async fn run(
    shared: Arc<Shared>,
    stream: TcpStream,
    mut commands: broadcast::Receiver<Command>,
    mut shutdown: Shutdown,
) -> std::io::Result<Option<i32>> {
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::new(read_half);

    let handshake = async {
        let range = wire::read_greeting(&mut reader).await?;
        if !wait_unstalled(&shared, &mut shutdown).await {
            return Ok(None);
        }
        let Some(version) = wire::negotiate(range) else {
            info!(
                ?range,
                "refusing a client outside the versions a gateway accepts ({}..{})",
                wire::MIN_SERVER_VERSION,
                wire::MAX_SERVER_VERSION
            );
            return Ok(None);
        };
        write_half
            .write_all(&wire::handshake_reply(
                version,
                &connection_time(Timestamp::now()),
            ))
            .await?;

        // Nothing is answered before StartApi, as in TWS.
        loop {
            let Some(frame) = wire::read_frame(&mut reader, version).await? else {
                return Ok(None);
            };
            if frame.id == incoming::START_API {
                let start: proto::StartApiRequest = text::decode(&frame, version)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                return Ok::<_, std::io::Error>(Some((
                    start.client_id.unwrap_or_default(),
                    version,
                )));
            }
        }
    };
    // A restart drops a connection still shaking hands too.
    let dropped = async {
        loop {
            match commands.recv().await {
                Ok(Command::Drop) | Err(broadcast::error::RecvError::Closed) => return,
                _ => {}
            }
        }
    };
    let (client_id, version) = tokio::select! {
        shaken = handshake => match shaken? {
            Some(id) => id,
            None => return Ok(None),
        },
        _ = dropped => return Ok(None),
    };

    let fresh = shared
        .client_ids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(client_id);
    let mut session = Session {
        shared: shared.clone(),
        client_id,
        version,
        out: BytesMut::with_capacity(16 * 1024),
        market_data_type: 1,
        positions: false,
        account_updates: None,
        pnl: BTreeMap::new(),
        pnl_single: BTreeMap::new(),
        market: BTreeMap::new(),
        sent_positions: BTreeMap::new(),
        sent_portfolio: BTreeMap::new(),
        summaries: BTreeMap::new(),
        positions_multi: BTreeMap::new(),
        updates_multi: BTreeMap::new(),
        firehose_cursor: 0,
    };
    if !fresh {
        info!(
            client_id,
            "refusing a second connection with the same client id (326)"
        );
        session.error(
            -1,
            326,
            "Unable to connect as the client id is already in use. Retry with a unique client id.",
        );
        write_half.write_all(&session.out).await?;
        return Ok(None);
    }
    info!(client_id, version, "TWS client connected");
    let result = session
        .main_loop(reader, &mut write_half, &mut commands, shutdown)
        .await;
    session.forget_market_data(None);
    shared
        .client_ids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&client_id);
    result.map(|()| Some(client_id))
}

/// Reads frames on their own task, so a half-read frame is never lost to a `select!`.
fn spawn_reader(
    mut reader: BufReader<OwnedReadHalf>,
    version: i32,
) -> mpsc::Receiver<std::io::Result<Frame>> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            match wire::read_frame(&mut reader, version).await {
                Ok(Some(frame)) => {
                    if tx.send(Ok(frame)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    rx
}

impl Session {
    async fn main_loop(
        &mut self,
        reader: BufReader<OwnedReadHalf>,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        commands: &mut broadcast::Receiver<Command>,
        mut shutdown: Shutdown,
    ) -> std::io::Result<()> {
        let world = self.shared.world.clone();
        let settings = world.scenario().market.clone();
        let mut events = world.subscribe();
        let mut mode = self.shared.mode.subscribe();
        let mut frames = spawn_reader(reader, self.version);
        let mut pnl_timer = tokio::time::interval(Duration::from_secs_f64(settings.pnl_seconds));
        let mut portfolio_timer =
            tokio::time::interval(Duration::from_secs_f64(settings.account_update_seconds));
        let mut firehose = tokio::time::interval(Duration::from_millis(10));
        firehose.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

        self.handshake_messages();
        writer.write_all(&self.out).await?;
        self.out.clear();

        loop {
            let stalled = mode.borrow_and_update().stalled;
            if stalled {
                // Hung: read nothing, send nothing, until the stall ends.
                tokio::select! {
                    r = mode.changed() => if r.is_err() { return Ok(()) },
                    cmd = commands.recv() => if let Ok(Command::Drop) = cmd { return Ok(()) },
                    _ = shutdown.wait() => return Ok(()),
                }
                continue;
            }
            let flowing = !mode.borrow().connectivity_lost;
            tokio::select! {
                // A mode change first: a stall ordered before a request arrived must hold that
                // request, not lose a coin toss to it.
                biased;
                _ = mode.changed() => {}
                _ = shutdown.wait() => return Ok(()),
                frame = frames.recv() => match frame {
                    Some(Ok(frame)) => self.handle(frame),
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                event = events.recv() => match event {
                    Ok(Event::Prices) if flowing => self.push_prices(),
                    Ok(Event::Book { account }) => self.push_book(Some(&account)),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.push_book(None),
                    _ => {}
                },
                cmd = commands.recv() => match cmd {
                    Ok(Command::Drop) | Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    Ok(Command::Notice { code, message }) => self.error(-1, code, &message),
                    Ok(Command::ForgetMarketData) => self.forget_market_data(None),
                    // Only a wake-up: the loop reads the new rate on its way round.
                    Ok(Command::Firehose) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                },
                _ = pnl_timer.tick(), if flowing => self.push_pnl(),
                _ = portfolio_timer.tick() => {
                    self.push_portfolio(true);
                    self.push_account_multi();
                }
                _ = firehose.tick(), if flowing && self.firehose_batch() > 0 => self.push_firehose(),
            }
            if !self.out.is_empty() {
                writer.write_all(&self.out).await?;
                self.out.clear();
            }
        }
    }

    fn send<M: Text>(&mut self, msg: &M) {
        wire::encode_into(msg, self.version, &mut self.out);
    }

    fn error(&mut self, id: i32, code: i32, message: &str) {
        self.send(&proto::ErrorMessage {
            id: Some(id),
            error_time: Some(Timestamp::now().as_millisecond()),
            error_code: Some(code),
            error_msg: Some(message.to_owned()),
        });
    }

    fn handshake_messages(&mut self) {
        let order_id = self.shared.next_order_id.load(Ordering::Relaxed);
        self.send(&proto::NextValidId {
            order_id: Some(order_id),
        });
        self.managed_accounts();
        for (code, msg) in [
            (2104, "Market data farm connection is OK:usfarm"),
            // No historical data is served, so that farm idles as an unused one does.
            (
                2107,
                "HMDS data farm connection is inactive but should be available upon demand.ushmds",
            ),
            (2158, "Sec-def data farm connection is OK:secdefnj"),
        ] {
            self.error(-1, code, msg);
        }
    }

    fn managed_accounts(&mut self) {
        let list = self.shared.world.account_ids().join(",");
        self.send(&proto::ManagedAccounts {
            accounts_list: Some(list),
        });
    }

    fn decode<R: text::Request>(&self, frame: &Frame) -> Result<R, text::RequestError> {
        text::decode(frame, self.version)
    }

    fn handle(&mut self, frame: Frame) {
        let result: Result<(), text::RequestError> = (|| {
            match frame.id {
                incoming::REQ_IDS => {
                    let id = self.shared.next_order_id.load(Ordering::Relaxed);
                    self.send(&proto::NextValidId { order_id: Some(id) });
                }
                incoming::REQ_MANAGED_ACCTS => self.managed_accounts(),
                incoming::REQ_CURRENT_TIME => {
                    let now = Timestamp::now().as_second();
                    self.send(&proto::CurrentTime {
                        current_time: Some(now),
                    });
                }
                incoming::REQ_CURRENT_TIME_IN_MILLIS => {
                    let now = Timestamp::now().as_millisecond();
                    self.send(&proto::CurrentTimeInMillis {
                        current_time_in_millis: Some(now),
                    });
                }
                incoming::REQ_POSITIONS => self.start_positions(),
                incoming::CANCEL_POSITIONS => self.positions = false,
                incoming::REQ_ACCOUNT_DATA => {
                    let req = self.decode(&frame)?;
                    self.account_data(req);
                }
                incoming::REQ_PNL => {
                    let req = self.decode(&frame)?;
                    self.start_pnl(req);
                }
                incoming::CANCEL_PNL => {
                    let req: proto::CancelById = self.decode(&frame)?;
                    self.pnl.remove(&req.req_id.unwrap_or_default());
                }
                incoming::REQ_PNL_SINGLE => {
                    let req = self.decode(&frame)?;
                    self.start_pnl_single(req);
                }
                incoming::CANCEL_PNL_SINGLE => {
                    let req: proto::CancelById = self.decode(&frame)?;
                    self.pnl_single.remove(&req.req_id.unwrap_or_default());
                }
                incoming::REQ_MARKET_DATA_TYPE => {
                    let req: proto::MarketDataTypeRequest = self.decode(&frame)?;
                    self.market_data_type = req.market_data_type.unwrap_or(1).clamp(1, 4);
                }
                incoming::REQ_MKT_DATA => {
                    let req = self.decode(&frame)?;
                    self.start_market_data(req);
                }
                incoming::CANCEL_MKT_DATA => {
                    let req: proto::CancelById = self.decode(&frame)?;
                    self.forget_market_data(Some(req.req_id.unwrap_or_default()));
                }
                incoming::REQ_CONTRACT_DATA => {
                    let req = self.decode(&frame)?;
                    self.contract_data(req);
                }
                // Nothing to read or to order: the simulator has no orders or executions, and
                // its API is read-only.
                incoming::REQ_OPEN_ORDERS | incoming::REQ_ALL_OPEN_ORDERS => {
                    self.send(&proto::OpenOrdersEnd {});
                }
                incoming::REQ_COMPLETED_ORDERS => self.send(&proto::CompletedOrdersEnd {}),
                incoming::REQ_EXECUTIONS => {
                    let req: proto::ExecutionRequest = self.decode(&frame)?;
                    self.send(&proto::ExecutionDetailsEnd { req_id: req.req_id });
                }
                incoming::PLACE_ORDER
                | incoming::CANCEL_ORDER
                | incoming::REQ_GLOBAL_CANCEL
                | incoming::EXERCISE_OPTIONS => {
                    let id = text::request_id(&frame, self.version);
                    self.error(
                        id,
                        321,
                        "Error validating request.-'bY' : cause - The API interface is currently \
                         in Read-Only mode.",
                    );
                }
                incoming::REQ_ACCOUNT_SUMMARY => {
                    let req = self.decode(&frame)?;
                    self.start_account_summary(req);
                }
                incoming::CANCEL_ACCOUNT_SUMMARY => {
                    let req: proto::CancelById = self.decode(&frame)?;
                    self.summaries.remove(&req.req_id.unwrap_or_default());
                }
                incoming::REQ_POSITIONS_MULTI => {
                    let req = self.decode(&frame)?;
                    self.start_positions_multi(req);
                }
                incoming::CANCEL_POSITIONS_MULTI => {
                    let req: proto::CancelById = self.decode(&frame)?;
                    self.positions_multi.remove(&req.req_id.unwrap_or_default());
                }
                incoming::REQ_ACCOUNT_UPDATES_MULTI => {
                    let req = self.decode(&frame)?;
                    self.start_account_multi(req);
                }
                incoming::CANCEL_ACCOUNT_UPDATES_MULTI => {
                    let req: proto::CancelById = self.decode(&frame)?;
                    self.updates_multi.remove(&req.req_id.unwrap_or_default());
                }
                incoming::REQ_SEC_DEF_OPT_PARAMS => {
                    let req = self.decode(&frame)?;
                    self.option_chains(req);
                }
                incoming::CANCEL_CONTRACT_DATA
                | incoming::START_API
                | incoming::REQ_AUTO_OPEN_ORDERS => {}
                other => {
                    // Never silence: a client waiting on this request learns it will not come.
                    let id = text::request_id(&frame, self.version);
                    info!(
                        client_id = self.client_id,
                        id = other,
                        "refusing a request the simulator does not serve"
                    );
                    self.error(
                        id,
                        321,
                        &format!(
                            "Error validating request.-'ib' : cause - request {other} is not \
                             served by ibkr-sim"
                        ),
                    );
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            info!(
                client_id = self.client_id,
                id = frame.id,
                "undecodable request: {e}"
            );
            let id = text::request_id(&frame, self.version);
            self.error(
                id,
                320,
                &format!("Error reading request.-'ib' : cause - {e}"),
            );
        }
    }

    // ---- positions ----

    fn start_positions(&mut self) {
        self.positions = true;
        self.sent_positions.clear();
        for leg in self.shared.world.all_legs(Timestamp::now()) {
            self.sent_positions
                .insert((leg.account.clone(), leg.instrument.conid), leg.quantity);
            self.send(&position_message(
                &leg.account,
                &leg.instrument,
                leg.quantity,
                leg.avg_cost(),
            ));
        }
        self.send(&proto::PositionEnd {});
    }

    /// Pushes what changed in the book to the positions stream and account updates.
    /// `account` None means "anything may have changed".
    fn push_book(&mut self, account: Option<&str>) {
        let now = Timestamp::now();
        if self.positions {
            let legs: Vec<Leg> = match account {
                Some(a) => self.shared.world.legs(a, now),
                None => self.shared.world.all_legs(now),
            };
            let mut current: BTreeMap<(String, i32), Leg> = legs
                .into_iter()
                .map(|l| ((l.account.clone(), l.instrument.conid), l))
                .collect();
            let stale: Vec<(String, i32)> = self
                .sent_positions
                .keys()
                .filter(|(a, c)| {
                    account.is_none_or(|x| x == a) && !current.contains_key(&(a.clone(), *c))
                })
                .cloned()
                .collect();
            for key in stale {
                self.sent_positions.remove(&key);
                if let Some(inst) = self.shared.world.instrument(key.1).cloned() {
                    self.send(&position_message(&key.0, &inst, 0.0, 0.0));
                }
            }
            for (key, leg) in std::mem::take(&mut current) {
                if self.sent_positions.get(&key) != Some(&leg.quantity) {
                    self.sent_positions.insert(key, leg.quantity);
                    self.send(&position_message(
                        &leg.account,
                        &leg.instrument,
                        leg.quantity,
                        leg.avg_cost(),
                    ));
                }
            }
        }
        if let Some(subscribed) = self.account_updates.clone()
            && account.is_none_or(|a| a == subscribed)
        {
            self.push_portfolio(false);
        }
        for id in self.positions_multi.keys().copied().collect::<Vec<_>>() {
            self.push_positions_multi(id);
        }
        let touched: Vec<i32> = self
            .updates_multi
            .iter()
            .filter(|(_, a)| account.is_none_or(|x| x == a.as_str()))
            .map(|(id, _)| *id)
            .collect();
        for id in touched {
            self.push_account_multi_of(id);
        }
    }

    // ---- account updates ----

    fn account_data(&mut self, req: proto::AccountDataRequest) {
        let account = req.acct_code.unwrap_or_default();
        if !req.subscribe.unwrap_or(false) {
            self.account_updates = None;
            return;
        }
        // An empty code means the only managed account, as in TWS.
        let account = if account.is_empty() {
            self.shared
                .world
                .account_ids()
                .into_iter()
                .next()
                .unwrap_or_default()
        } else {
            account
        };
        if !self.shared.world.account_ids().contains(&account) {
            self.error(
                -1,
                321,
                &format!("Error validating request.-'bB' : cause - Invalid account code {account}"),
            );
            return;
        }
        self.account_updates = Some(account.clone());
        self.sent_portfolio.clear();
        self.push_portfolio(true);
        self.send(&proto::AccountDataEnd {
            account_name: Some(account),
        });
    }

    /// Account values and portfolio values of the subscribed account: every line when `all`,
    /// else only the lines whose position changed.
    fn push_portfolio(&mut self, all: bool) {
        let Some(account) = self.account_updates.clone() else {
            return;
        };
        let world = self.shared.world.clone();
        let now = Timestamp::now();
        let Some(values) = account_values(&world, &account, now) else {
            return;
        };
        for v in values {
            self.send(&proto::AccountValue {
                key: Some(v.key),
                value: Some(v.value),
                currency: Some(v.currency),
                account_name: Some(account.clone()),
            });
        }
        let legs = world.legs(&account, now);
        let held: Vec<i32> = legs.iter().map(|l| l.instrument.conid).collect();
        let closed: Vec<i32> = self
            .sent_portfolio
            .keys()
            .filter(|c| !held.contains(c))
            .copied()
            .collect();
        for conid in closed {
            self.sent_portfolio.remove(&conid);
            if let Some(inst) = world.instrument(conid).cloned()
                && let Some(q) = world.quote(conid, now)
            {
                self.send(&portfolio_message(
                    &account, &inst, 0.0, q.last, 0.0, 0.0, 0.0, 0.0,
                ));
            }
        }
        for leg in legs {
            let conid = leg.instrument.conid;
            if all || self.sent_portfolio.get(&conid) != Some(&leg.quantity) {
                self.sent_portfolio.insert(conid, leg.quantity);
                self.send(&portfolio_message(
                    &account,
                    &leg.instrument,
                    leg.quantity,
                    leg.market_price,
                    leg.market_value,
                    leg.avg_cost(),
                    leg.unrealized_pnl,
                    leg.realized_pnl,
                ));
            }
        }
        let time = now.to_zoned(NEW_YORK.clone()).strftime("%H:%M").to_string();
        self.send(&proto::AccountUpdateTime {
            time_stamp: Some(time),
        });
    }

    // ---- account summary, positions and account updates by request ----

    fn start_account_summary(&mut self, req: proto::AccountSummaryRequest) {
        let id = req.req_id.unwrap_or_default();
        let tags: Vec<String> = req
            .tags
            .unwrap_or_default()
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        self.summaries.insert(id, tags);
        self.push_account_summary(id);
        self.send(&proto::AccountSummaryEnd { req_id: Some(id) });
    }

    /// Every account's values for the tags subscription `id` asked for.
    fn push_account_summary(&mut self, id: i32) {
        let Some(tags) = self.summaries.get(&id).cloned() else {
            return;
        };
        let world = self.shared.world.clone();
        let now = Timestamp::now();
        for account in world.account_ids() {
            let Some((summary, currency)) = account_figures(&world, &account, now) else {
                continue;
            };
            for v in account::summary_rows(&currency, &summary, now, &tags) {
                self.send(&proto::AccountSummary {
                    req_id: Some(id),
                    account: Some(account.clone()),
                    tag: Some(v.key),
                    value: Some(v.value),
                    currency: Some(v.currency),
                });
            }
        }
    }

    /// `account` of a multi request: a managed account, or None for "every account".
    fn multi_account(&mut self, id: i32, account: Option<String>) -> Result<Option<String>, ()> {
        let account = account.filter(|a| !a.is_empty() && a != "All");
        match account {
            Some(a) if !self.shared.world.account_ids().contains(&a) => {
                self.error(
                    id,
                    321,
                    &format!("Error validating request.-'bB' : cause - Invalid account code {a}"),
                );
                Err(())
            }
            a => Ok(a),
        }
    }

    fn start_positions_multi(&mut self, req: proto::PositionsMultiRequest) {
        let id = req.req_id.unwrap_or_default();
        let Ok(account) = self.multi_account(id, req.account) else {
            return;
        };
        self.positions_multi.insert(
            id,
            PositionsMulti {
                account,
                sent: SentPositions::new(),
            },
        );
        self.push_positions_multi(id);
        self.send(&proto::PositionMultiEnd { req_id: Some(id) });
    }

    /// What changed for positions-multi subscription `id` since it last said (everything the
    /// first time); a position that closed is sent once as 0.
    fn push_positions_multi(&mut self, id: i32) {
        let Some(PositionsMulti { account, mut sent }) = self.positions_multi.remove(&id) else {
            return;
        };
        let world = self.shared.world.clone();
        let now = Timestamp::now();
        let legs = match &account {
            Some(a) => world.legs(a, now),
            None => world.all_legs(now),
        };
        let current: BTreeMap<(String, i32), &Leg> = legs
            .iter()
            .map(|l| ((l.account.clone(), l.instrument.conid), l))
            .collect();
        let closed: Vec<(String, i32)> = sent
            .keys()
            .filter(|k| !current.contains_key(*k))
            .cloned()
            .collect();
        for key in closed {
            sent.remove(&key);
            if let Some(inst) = world.instrument(key.1) {
                let p = position_message(&key.0, inst, 0.0, 0.0);
                self.send(&position_multi(id, p));
            }
        }
        for (key, leg) in current {
            if sent.get(&key) != Some(&leg.quantity) {
                sent.insert(key, leg.quantity);
                let p =
                    position_message(&leg.account, &leg.instrument, leg.quantity, leg.avg_cost());
                self.send(&position_multi(id, p));
            }
        }
        self.positions_multi
            .insert(id, PositionsMulti { account, sent });
    }

    fn start_account_multi(&mut self, req: proto::AccountUpdatesMultiRequest) {
        let id = req.req_id.unwrap_or_default();
        let Ok(account) = self.multi_account(id, req.account) else {
            return;
        };
        // "Every account" is only for advisors' groups; one account is what a client names.
        let account = account.or_else(|| self.shared.world.account_ids().into_iter().next());
        let Some(account) = account else { return };
        self.updates_multi.insert(id, account);
        self.push_account_multi_of(id);
        self.send(&proto::AccountUpdateMultiEnd { req_id: Some(id) });
    }

    fn push_account_multi_of(&mut self, id: i32) {
        let Some(account) = self.updates_multi.get(&id).cloned() else {
            return;
        };
        let values =
            account_values(&self.shared.world, &account, Timestamp::now()).unwrap_or_default();
        for v in values {
            self.send(&proto::AccountUpdateMulti {
                req_id: Some(id),
                account: Some(account.clone()),
                model_code: Some(String::new()),
                key: Some(v.key),
                value: Some(v.value),
                currency: Some(v.currency),
            });
        }
    }

    /// Every by-request subscription's values again (IB refreshes them every few minutes).
    fn push_account_multi(&mut self) {
        for id in self.updates_multi.keys().copied().collect::<Vec<_>>() {
            self.push_account_multi_of(id);
        }
        for id in self.summaries.keys().copied().collect::<Vec<_>>() {
            self.push_account_summary(id);
        }
    }

    // ---- option chains ----

    /// The scenario's options on the underlying, one row per exchange and trading class with
    /// their expiries and strikes, as `reqSecDefOptParams` answers.
    fn option_chains(&mut self, req: proto::SecDefOptParamsRequest) {
        let id = req.req_id.unwrap_or_default();
        let world = self.shared.world.clone();
        let conid = req.underlying_con_id.unwrap_or_default();
        let symbol = req.underlying_symbol.unwrap_or_default();
        let exchange = req.fut_fop_exchange.unwrap_or_default();
        // Keyed by underlying conid, exchange, trading class and multiplier.
        let mut chains: BTreeMap<(i32, String, String, String), Chain> = BTreeMap::new();
        for inst in world.scenario().instruments.values() {
            if !inst.sec_type.is_option() {
                continue;
            }
            let Some(und) = inst.underlying_conid.and_then(|c| world.instrument(c)) else {
                continue;
            };
            let on_it = und.conid == conid || (conid == 0 && und.symbol == symbol);
            if !on_it || !(exchange.is_empty() || exchange.eq_ignore_ascii_case(&inst.exchange)) {
                continue;
            }
            let key = (
                und.conid,
                inst.exchange.clone(),
                inst.trading_class.clone(),
                format_number(inst.multiplier),
            );
            let chain = chains.entry(key).or_default();
            if let Some(e) = inst.expiry_yyyymmdd()
                && !chain.expiries.contains(&e)
            {
                chain.expiries.push(e);
            }
            if let Some(k) = inst.strike
                && !chain.strikes.contains(&k)
            {
                chain.strikes.push(k);
            }
        }
        for ((und, exchange, trading_class, multiplier), mut chain) in chains {
            chain.expiries.sort();
            chain.strikes.sort_by(f64::total_cmp);
            self.send(&proto::SecDefOptParameter {
                req_id: Some(id),
                exchange: Some(exchange),
                underlying_con_id: Some(und),
                trading_class: Some(trading_class),
                multiplier: Some(multiplier),
                expirations: chain.expiries,
                strikes: chain.strikes,
            });
        }
        self.send(&proto::SecDefOptParameterEnd { req_id: Some(id) });
    }

    // ---- PnL ----

    fn start_pnl(&mut self, req: proto::PnLRequest) {
        let id = req.req_id.unwrap_or_default();
        let account = req.account.unwrap_or_default();
        if !self.shared.world.account_ids().contains(&account) {
            self.error(
                id,
                321,
                &format!("Error validating request.-'bB' : cause - Invalid account code {account}"),
            );
            return;
        }
        self.pnl.insert(id, account);
        self.push_pnl();
    }

    fn start_pnl_single(&mut self, req: proto::PnLSingleRequest) {
        let id = req.req_id.unwrap_or_default();
        let account = req.account.unwrap_or_default();
        let conid = req.con_id.unwrap_or_default();
        if !self.shared.world.account_ids().contains(&account) {
            self.error(
                id,
                321,
                &format!("Error validating request.-'bB' : cause - Invalid account code {account}"),
            );
            return;
        }
        self.pnl_single.insert(id, (account, conid));
        self.push_pnl();
    }

    fn push_pnl(&mut self) {
        let world = self.shared.world.clone();
        let now = Timestamp::now();
        let pnl: Vec<(i32, String)> = self.pnl.iter().map(|(k, v)| (*k, v.clone())).collect();
        for (id, account) in pnl {
            if let Some(s) = world.account_summary(&account, now) {
                self.send(&proto::PnL {
                    req_id: Some(id),
                    daily_pnl: Some(round2(s.daily_pnl)),
                    unrealized_pnl: Some(round2(s.unrealized_pnl)),
                    realized_pnl: Some(round2(s.realized_pnl)),
                });
            }
        }
        let singles: Vec<(i32, (String, i32))> = self
            .pnl_single
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, (account, conid)) in singles {
            let leg = world
                .legs(&account, now)
                .into_iter()
                .find(|l| l.instrument.conid == conid);
            let msg = match leg {
                Some(l) => proto::PnLSingle {
                    req_id: Some(id),
                    position: Some(format_number(l.quantity)),
                    daily_pnl: Some(round2(l.daily_pnl)),
                    unrealized_pnl: Some(round2(l.unrealized_pnl)),
                    realized_pnl: Some(round2(l.realized_pnl)),
                    value: Some(round2(l.market_value)),
                },
                // No position: TWS reports zero size and leaves the figures unset.
                None => proto::PnLSingle {
                    req_id: Some(id),
                    position: Some("0".into()),
                    daily_pnl: Some(f64::MAX),
                    unrealized_pnl: Some(f64::MAX),
                    realized_pnl: Some(f64::MAX),
                    value: Some(f64::MAX),
                },
            };
            self.send(&msg);
        }
    }

    // ---- market data ----

    fn start_market_data(&mut self, req: proto::MarketDataRequest) {
        let id = req.req_id.unwrap_or_default();
        let contract = req.contract.unwrap_or_default();
        if self.market.contains_key(&id) {
            self.error(
                id,
                322,
                "Error processing request.-'bW' : cause - Duplicate ticker id",
            );
            return;
        }
        let Some(inst) = find_instrument(&self.shared.world, &contract).cloned() else {
            self.error(
                id,
                200,
                "No security definition has been found for the request",
            );
            return;
        };
        if contract.exchange.as_deref().unwrap_or_default().is_empty() {
            self.error(
                id,
                321,
                "Error validating request.-'bW' : cause - Please enter exchange",
            );
            return;
        }
        let snapshot = req.snapshot.unwrap_or(false);
        let lines = self.shared.world.scenario().market.market_data_lines;
        if !snapshot && self.market.len() >= lines {
            self.error(id, 101, "Max number of tickers has been reached");
            return;
        }
        let delayed = inst.delayed_only;
        if delayed {
            if self.market_data_type < 3 {
                self.error(
                    id,
                    354,
                    "Requested market data is not subscribed. Check API status by selecting the \
                     Account menu then under Management choose Market Data Subscription Manager \
                     and/or Delayed market data is available.",
                );
                return;
            }
            self.error(
                id,
                10167,
                "Requested market data is not subscribed. Displaying delayed market data.",
            );
            self.send(&proto::MarketDataType {
                req_id: Some(id),
                market_data_type: Some(3),
            });
        }
        self.send(&proto::TickReqParams {
            req_id: Some(id),
            min_tick: Some(format_number(inst.tick)),
            bbo_exchange: Some(String::new()),
            snapshot_permissions: Some(3),
        });
        let mut sub = MarketSub {
            conid: inst.conid,
            delayed,
            computations: 0,
        };
        if let Some(q) = self.shared.world.quote(inst.conid, Timestamp::now()) {
            self.ticks(id, &mut sub, &q, true);
        }
        if snapshot {
            self.send(&proto::TickSnapshotEnd { req_id: Some(id) });
        } else {
            self.market.insert(id, sub);
            self.shared
                .market_data_lines
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops one market-data subscription, or all of them.
    fn forget_market_data(&mut self, id: Option<i32>) {
        let dropped = match id {
            Some(id) => usize::from(self.market.remove(&id).is_some()),
            None => std::mem::take(&mut self.market).len(),
        };
        self.shared
            .market_data_lines
            .fetch_sub(dropped, Ordering::Relaxed);
    }

    /// Price ticks (all of them when `initial`) and, for options, a model computation.
    fn ticks(&mut self, id: i32, sub: &mut MarketSub, q: &Quote, initial: bool) {
        let d = sub.delayed;
        let ty = |live: i32, delayed: i32| if d { delayed } else { live };
        for (t, price) in [
            (ty(tick::BID, tick::DELAYED_BID), q.bid),
            (ty(tick::ASK, tick::DELAYED_ASK), q.ask),
            (ty(tick::LAST, tick::DELAYED_LAST), q.last),
        ] {
            self.send(&proto::TickPrice {
                req_id: Some(id),
                tick_type: Some(t),
                price: Some(price),
                size: Some("1".into()),
                attr_mask: Some(0),
            });
        }
        if initial {
            self.send(&proto::TickPrice {
                req_id: Some(id),
                tick_type: Some(ty(tick::CLOSE, tick::DELAYED_CLOSE)),
                price: Some(q.close),
                size: None,
                attr_mask: Some(0),
            });
            for (t, size) in [
                (ty(tick::BID_SIZE, tick::DELAYED_BID_SIZE), "5"),
                (ty(tick::ASK_SIZE, tick::DELAYED_ASK_SIZE), "7"),
                (ty(tick::LAST_SIZE, tick::DELAYED_LAST_SIZE), "1"),
                (ty(tick::VOLUME, tick::DELAYED_VOLUME), "1250"),
            ] {
                self.send(&proto::TickSize {
                    req_id: Some(id),
                    tick_type: Some(t),
                    size: Some(size.into()),
                });
            }
        }
        let computed = self.computation(id, sub, q, 0.0);
        if computed {
            self.price_computations(id, sub.delayed, q);
        }
    }

    /// The option computations at the bid, ask and last prices (ticks 10/11/12, delayed
    /// 80/81/82) beside the model's: the volatility each price implies, to first order
    /// through vega, with the model's greeks.
    fn price_computations(&mut self, id: i32, delayed: bool, q: &Quote) {
        let Some(m) = q.model else { return };
        let g = m.greeks;
        for (live, late, price) in [
            (tick::BID_OPTION, tick::DELAYED_BID_OPTION, q.bid),
            (tick::ASK_OPTION, tick::DELAYED_ASK_OPTION, q.ask),
            (tick::LAST_OPTION, tick::DELAYED_LAST_OPTION, q.last),
        ] {
            // IB's vega is per volatility point (0.01).
            let implied_vol = if g.vega.abs() > 1e-9 {
                (m.implied_vol + (price - g.price) / g.vega * 0.01).max(0.0)
            } else {
                m.implied_vol
            };
            self.send(&proto::TickOptionComputation {
                req_id: Some(id),
                tick_type: Some(if delayed { late } else { live }),
                tick_attrib: Some(0),
                implied_vol: Some(implied_vol),
                delta: Some(g.delta),
                opt_price: Some(price),
                pv_dividend: Some(0.0),
                gamma: Some(g.gamma),
                vega: Some(g.vega),
                theta: Some(g.theta),
                und_price: Some(m.underlying_price),
            });
        }
    }

    /// The model's computation; whether it carried figures (the first one of a subscription
    /// may be IB's "not computed yet").
    fn computation(&mut self, id: i32, sub: &mut MarketSub, q: &Quote, jitter: f64) -> bool {
        let Some(m) = q.model else { return false };
        let first = sub.computations == 0;
        sub.computations += 1;
        let unset = first && self.shared.world.scenario().market.unset_first_greeks;
        let g = m.greeks;
        let (iv, delta, price, gamma, vega, theta) = if unset {
            (
                UNSET_PRICE,
                UNSET_GREEK,
                UNSET_PRICE,
                UNSET_GREEK,
                UNSET_GREEK,
                UNSET_GREEK,
            )
        } else {
            let j = 1.0 + jitter;
            (
                m.implied_vol,
                g.delta * j,
                g.price,
                g.gamma * j,
                g.vega * j,
                g.theta * j,
            )
        };
        self.send(&proto::TickOptionComputation {
            req_id: Some(id),
            tick_type: Some(if sub.delayed {
                tick::DELAYED_MODEL_OPTION
            } else {
                tick::MODEL_OPTION
            }),
            tick_attrib: Some(0),
            implied_vol: Some(iv),
            delta: Some(delta),
            opt_price: Some(price),
            pv_dividend: Some(0.0),
            gamma: Some(gamma),
            vega: Some(vega),
            theta: Some(theta),
            und_price: Some(m.underlying_price),
        });
        !unset
    }

    fn push_prices(&mut self) {
        let now = Timestamp::now();
        let mut market = std::mem::take(&mut self.market);
        for (id, sub) in market.iter_mut() {
            if let Some(q) = self.shared.world.quote(sub.conid, now) {
                self.ticks(*id, sub, &q, false);
            }
        }
        self.market = market;
    }

    fn firehose_batch(&self) -> u32 {
        // The firehose timer runs every 10 ms.
        self.shared
            .firehose_tps
            .load(Ordering::Relaxed)
            .div_ceil(100)
    }

    /// Option computations at the firehose rate, round-robin over option subscriptions.
    fn push_firehose(&mut self) {
        let batch = self.firehose_batch() as usize;
        let world = self.shared.world.clone();
        let mut ids: Vec<i32> = self
            .market
            .iter()
            .filter(|(_, s)| {
                world
                    .instrument(s.conid)
                    .is_some_and(|i| i.sec_type.is_option())
            })
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        let now = Timestamp::now();
        let mut quotes: BTreeMap<i32, Quote> = BTreeMap::new();
        for n in 0..batch {
            let id = ids[(self.firehose_cursor + n) % ids.len()];
            let Some(mut sub) = self.market.remove(&id) else {
                continue;
            };
            let quote = quotes.entry(sub.conid).or_insert_with(|| {
                world
                    .quote(sub.conid, now)
                    .expect("subscribed conids are instruments")
            });
            let q = *quote;
            // A small wobble so consecutive ticks differ, as live computations do.
            let jitter = ((self.firehose_cursor + n) % 7) as f64 * 1e-4;
            self.computation(id, &mut sub, &q, jitter);
            self.market.insert(id, sub);
        }
        self.firehose_cursor = (self.firehose_cursor + batch) % ids.len();
    }

    // ---- contract details ----

    fn contract_data(&mut self, req: proto::ContractDataRequest) {
        let id = req.req_id.unwrap_or_default();
        let contract = req.contract.unwrap_or_default();
        let world = self.shared.world.clone();
        let matches: Vec<&Instrument> = match contract.con_id.filter(|c| *c != 0) {
            Some(conid) => world.instrument(conid).into_iter().collect(),
            None => world
                .scenario()
                .instruments
                .values()
                .filter(|i| matches(i, &contract))
                .collect(),
        };
        if matches.is_empty() {
            self.error(
                id,
                200,
                "No security definition has been found for the request",
            );
            return;
        }
        for inst in matches {
            let details = details_message(&world, inst);
            self.send(&proto::ContractData {
                req_id: Some(id),
                contract: Some(contract_message(inst, true)),
                contract_details: Some(details),
            });
        }
        self.send(&proto::ContractDataEnd { req_id: Some(id) });
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// An account's figures and its currency; None for an unknown account.
fn account_figures(
    world: &crate::world::World,
    account: &str,
    now: Timestamp,
) -> Option<(crate::world::AccountSummary, String)> {
    let summary = world.account_summary(account, now)?;
    let currency = world
        .scenario()
        .accounts
        .iter()
        .find(|a| a.id == account)
        .map(|a| a.currency.clone())
        .unwrap_or_default();
    Some((summary, currency))
}

/// An account's rows of account updates; None for an unknown account.
fn account_values(
    world: &crate::world::World,
    account: &str,
    now: Timestamp,
) -> Option<Vec<AccountValue>> {
    let (summary, currency) = account_figures(world, account, now)?;
    Some(account::update_values(account, &currency, &summary, now))
}

fn position_multi(req_id: i32, p: proto::Position) -> proto::PositionMulti {
    proto::PositionMulti {
        req_id: Some(req_id),
        account: p.account,
        contract: p.contract,
        position: p.position,
        avg_cost: p.avg_cost,
        model_code: Some(String::new()),
    }
}

/// The instrument a request's contract names: by conid, else by its descriptive fields.
fn find_instrument<'w>(
    world: &'w crate::world::World,
    c: &proto::Contract,
) -> Option<&'w Instrument> {
    match c.con_id.filter(|id| *id != 0) {
        Some(conid) => world.instrument(conid),
        None => {
            let found: Vec<&Instrument> = world
                .scenario()
                .instruments
                .values()
                .filter(|i| matches(i, c))
                .collect();
            // An ambiguous description is no definition, as in TWS.
            if found.len() == 1 {
                Some(found[0])
            } else {
                None
            }
        }
    }
}

/// Whether `inst` fits every field the request's contract sets.
fn matches(inst: &Instrument, c: &proto::Contract) -> bool {
    let set = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let eq = |want: Option<String>, have: &str| want.is_none_or(|w| w.eq_ignore_ascii_case(have));
    let expiry = inst.expiry_yyyymmdd().unwrap_or_default();
    let month = inst.contract_month.map(|m| m.yyyymm()).unwrap_or_default();
    eq(set(&c.symbol), &inst.symbol)
        // ibapi sends "STK" when the type is unset, so only other types narrow the search.
        && set(&c.sec_type).is_none_or(|t| t == "STK" && inst.sec_type == SecType::Stock || t == inst.sec_type.as_str())
        && eq(set(&c.local_symbol), &inst.local_symbol)
        && eq(set(&c.currency), &inst.currency)
        && set(&c.last_trade_date_or_contract_month)
            .is_none_or(|d| d == expiry || d == month)
        && c.strike.filter(|s| *s != 0.0).is_none_or(|s| Some(s) == inst.strike)
        && set(&c.right).is_none_or(|r| inst.right.map(right_code) == Some(r.as_str()))
}

/// The contract as TWS describes it. Positions leave a stock's `exchange` empty (only the
/// primary exchange is set), so a client must choose one (SMART) before asking for data.
fn contract_message(inst: &Instrument, with_exchange: bool) -> proto::Contract {
    let derivative = inst.sec_type != SecType::Stock;
    let expiry = inst.expiry_yyyymmdd();
    proto::Contract {
        con_id: Some(inst.conid),
        symbol: Some(inst.symbol.clone()),
        sec_type: Some(inst.sec_type.as_str().into()),
        last_trade_date_or_contract_month: expiry.clone(),
        strike: inst.strike,
        right: inst.right.map(|r| right_code(r).to_owned()),
        multiplier: derivative.then_some(inst.multiplier),
        exchange: (with_exchange || derivative).then(|| inst.exchange.clone()),
        primary_exch: inst.primary_exchange.clone(),
        currency: Some(inst.currency.clone()),
        local_symbol: Some(inst.local_symbol.clone()),
        trading_class: Some(inst.trading_class.clone()),
        description: None,
        last_trade_date: expiry,
    }
}

fn position_message(
    account: &str,
    inst: &Instrument,
    quantity: f64,
    avg_cost: f64,
) -> proto::Position {
    proto::Position {
        account: Some(account.to_owned()),
        contract: Some(contract_message(inst, false)),
        position: Some(format_number(quantity)),
        avg_cost: Some(avg_cost),
    }
}

#[allow(clippy::too_many_arguments)]
fn portfolio_message(
    account: &str,
    inst: &Instrument,
    quantity: f64,
    price: f64,
    value: f64,
    avg_cost: f64,
    unrealized: f64,
    realized: f64,
) -> proto::PortfolioValue {
    proto::PortfolioValue {
        contract: Some(contract_message(inst, false)),
        position: Some(format_number(quantity)),
        market_price: Some(price),
        market_value: Some(round2(value)),
        average_cost: Some(avg_cost),
        unrealized_pnl: Some(round2(unrealized)),
        realized_pnl: Some(round2(realized)),
        account_name: Some(account.to_owned()),
    }
}

fn details_message(world: &crate::world::World, inst: &Instrument) -> proto::ContractDetails {
    let und = inst.underlying_conid.and_then(|c| world.instrument(c));
    let sessions = match inst.sec_type {
        SecType::Stock => Sessions::Stock,
        SecType::Option => Sessions::StockOption,
        SecType::Future | SecType::FutureOption => Sessions::Globex,
    };
    // A week from today, as TWS lists them.
    let today = Timestamp::now().to_zoned(NEW_YORK.clone()).date();
    let (trading_hours, liquid_hours) = crate::calendar::hours(sessions, today, 7);
    let (under_con_id, under_symbol, under_sec_type) = match (inst.sec_type, und) {
        (SecType::Option | SecType::FutureOption, Some(u)) => {
            (u.conid, u.symbol.clone(), u.sec_type.as_str().to_owned())
        }
        // A future's underlying is its index in TWS; the simulator names the root.
        (SecType::Future, _) => (0, inst.symbol.clone(), "IND".to_owned()),
        _ => (0, String::new(), String::new()),
    };
    proto::ContractDetails {
        market_name: Some(inst.trading_class.clone()),
        min_tick: Some(format_number(inst.tick)),
        order_types: Some("LMT,MKT,STP".into()),
        valid_exchanges: Some(inst.exchange.clone()),
        price_magnifier: Some(1),
        under_con_id: (under_con_id != 0).then_some(under_con_id),
        long_name: Some(inst.long_name.clone()),
        contract_month: inst.contract_month.map(|m| m.yyyymm()),
        time_zone_id: Some("US/Eastern".into()),
        trading_hours: Some(trading_hours),
        liquid_hours: Some(liquid_hours),
        under_symbol: (!under_symbol.is_empty()).then_some(under_symbol),
        under_sec_type: (!under_sec_type.is_empty()).then_some(under_sec_type),
        real_expiration_date: inst.expiry_yyyymmdd(),
        min_size: Some("1".into()),
        size_increment: Some("1".into()),
    }
}
