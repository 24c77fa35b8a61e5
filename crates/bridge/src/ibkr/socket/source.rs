//! SOCKET mode's source: one TWS API connection through `ibapi`, and the streams that keep
//! the in-memory portfolio current — positions of every account, account updates (portfolio
//! values, rotated over the accounts since TWS serves one at a time), contract details of every
//! position (multiplier, underlying), and market data for every option and future option
//! (model greeks, underlying price) and every future and stock (prices). Live data where it is
//! permitted, delayed where it is not (market data type 3), and every value records which.
//!
//! Two `ibapi` clients make one connection: positions, account updates and probes on the
//! first (`IB_CLIENT_ID`), contract details and market data on the second
//! (`IB_MARKET_DATA_CLIENT_ID`). ibapi preallocates a buffer per stream of a size set per
//! client: bursts (a first positions list, an account's values) must never lose a message, so
//! their client keeps ibapi's 1,024; market data only ever needs its latest tick, so its client
//! has small buffers, which keeps memory flat with thousands of subscriptions.
//!
//! A [`SocketConnection`] is one connection's lifetime: it reports loss and notices as
//! [`SocketEvent`]s and never reconnects itself — the watchdog does. IB's 1100 and 1101 make
//! what was observed stale; after 1101 (data lost) every market-data subscription is opened
//! again. It writes only the portfolio.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ibapi::SUBSCRIPTION_LAG_CODE;
use ibapi::accounts::Position;
use ibapi::prelude::*;
use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::error::SocketError;
use super::ticks::{TickState, Update};
use crate::domain::contract::{Contract as DomainContract, Right, SecType};
use crate::domain::ids::{AccountCode, ConId};
use crate::domain::portfolio::{LegValues, SharedPortfolio};

/// With more than one account, account updates visit each in turn this often (TWS streams
/// one account at a time; market data keeps prices current in between).
const ACCOUNT_ROTATION: Duration = Duration::from_secs(60);
/// Per-stream buffer of the market-data client, in messages. A subscription's reader that
/// falls further behind loses its oldest ticks, which newer ones replace anyway; a contract
/// details answer is two messages. At ibapi's default of 1,024, 2,000 subscriptions held
/// ~300 MiB of preallocated slots (docs/benchmarks.md).
const MARKET_DATA_CHANNEL_CAPACITY: usize = 16;
/// How long a clean disconnect may take.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where and who to connect as.
#[derive(Debug, Clone)]
pub struct SocketSettings {
    pub addr: String,
    pub client_id: i32,
    /// The second client's id, for market data and contract details.
    pub market_data_client_id: i32,
    /// The first connect and handshake must finish within this (ibapi has no timeout of its own).
    pub connect_timeout: Duration,
}

/// What a connection reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// The connection is gone; the reason is for the operator.
    Lost(String),
    /// A TWS system notice worth telling the operator (1100, 1101, 1102, 1300, farm breaks).
    Notice { code: i32, message: String },
}

/// Opens connections that feed `portfolio`.
#[derive(Clone)]
pub struct SocketSource {
    settings: SocketSettings,
    portfolio: SharedPortfolio,
}

/// What the tasks of one connection share.
struct Shared {
    /// Positions, account updates, probes.
    client: Arc<Client>,
    /// Contract details and market data.
    market: Arc<Client>,
    addr: String,
    portfolio: SharedPortfolio,
    events: mpsc::Sender<SocketEvent>,
    last_activity: Mutex<Instant>,
    /// Instruments with a market-data stream (or one being set up), by conid.
    instruments: Mutex<HashMap<ConId, Instrument>>,
}

struct Instrument {
    /// The contract to ask market data for, once its details are known.
    request: Option<Contract>,
    task: Option<AbortHandle>,
}

/// One live TWS API connection.
pub struct SocketConnection {
    shared: Arc<Shared>,
    events: mpsc::Receiver<SocketEvent>,
    tasks: JoinSet<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// IB's "unset" values.
fn value(x: f64) -> Option<f64> {
    (x.is_finite() && x != f64::MAX && x != -1.0).then_some(x)
}

/// The bridge's view of an `ibapi` contract.
pub fn to_domain(c: &Contract) -> Option<DomainContract> {
    let conid = ConId::new(i64::from(c.contract_id))?;
    let mut d = DomainContract::new(
        conid,
        c.symbol.to_string(),
        SecType::parse(&c.security_type.to_string()),
    );
    let text = |s: String| Some(s).filter(|s| !s.is_empty());
    d.local_symbol = text(c.local_symbol.clone());
    d.trading_class = text(c.trading_class.clone());
    d.exchange = text(c.exchange.to_string());
    d.primary_exchange = text(c.primary_exchange.to_string());
    d.currency = text(c.currency.to_string());
    let date = &c.last_trade_date_or_contract_month;
    d.last_trade_date = (date.len() == 8)
        .then(|| jiff::civil::Date::strptime("%Y%m%d", date).ok())
        .flatten();
    d.strike = Some(c.strike).filter(|k| *k != 0.0);
    d.right = c.right.and_then(|r| Right::parse(&r.to_string()));
    d.multiplier = c.multiplier.parse::<f64>().ok().filter(|m| *m > 0.0);
    Some(d)
}

impl SocketSource {
    pub fn new(settings: SocketSettings, portfolio: SharedPortfolio) -> SocketSource {
        SocketSource {
            settings,
            portfolio,
        }
    }

    pub fn settings(&self) -> &SocketSettings {
        &self.settings
    }

    /// Marks the portfolio's feed down (the watchdog calls this when a connection ends).
    pub fn mark_down(&self, reason: &str) {
        self.portfolio
            .write(|p| p.disconnected(Timestamp::now(), reason));
    }

    /// Every attempt of a reconnect round failed, the last with `error`, at `now`.
    pub fn round_failed(&self, now: Timestamp, error: &str) {
        self.portfolio.write(|p| p.round_failed(now, error));
    }

    /// Connects both clients, asks for delayed data where live is not permitted, and opens
    /// every stream.
    pub async fn connect(&self) -> Result<SocketConnection, SocketError> {
        let SocketSettings {
            addr,
            client_id,
            market_data_client_id,
            connect_timeout,
        } = self.settings.clone();
        let (client, notices) =
            open(&addr, client_id, "IB_CLIENT_ID", None, connect_timeout).await?;
        let (market, market_notices) = match open(
            &addr,
            market_data_client_id,
            "IB_MARKET_DATA_CLIENT_ID",
            Some(MARKET_DATA_CHANNEL_CAPACITY),
            connect_timeout,
        )
        .await
        {
            Ok(opened) => opened,
            Err(e) => {
                let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, client.disconnect()).await;
                return Err(e);
            }
        };
        // Type 3: live where the account has permission, delayed where it does not.
        market
            .switch_market_data_type(MarketDataType::Delayed)
            .await
            .map_err(|e| SocketError::Connect {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let accounts: Vec<String> = client.handshake_managed_accounts().to_vec();
        let (tx, events) = mpsc::channel(64);
        let shared = Arc::new(Shared {
            client: Arc::new(client),
            market: Arc::new(market),
            addr: addr.clone(),
            portfolio: self.portfolio.clone(),
            events: tx,
            last_activity: Mutex::new(Instant::now()),
            instruments: Mutex::new(HashMap::new()),
        });
        self.portfolio.write(|p| {
            p.set_accounts(accounts.iter().filter_map(|a| AccountCode::parse(a)));
            p.connected(
                Timestamp::now(),
                format!(
                    "TWS API at {addr} as client {client_id} (market data as client \
                     {market_data_client_id})"
                ),
            )
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(notices_task(shared.clone(), notices));
        tasks.spawn(market_notices_task(shared.clone(), market_notices));
        tasks.spawn(positions_task(shared.clone()));
        tasks.spawn(account_updates_task(shared.clone(), accounts));
        Ok(SocketConnection {
            shared,
            events,
            tasks,
        })
    }
}

/// One `ibapi` client as `client_id` (named by `var` in errors), with ibapi's default
/// per-stream buffer unless `capacity` is given.
async fn open(
    addr: &str,
    client_id: i32,
    var: &'static str,
    capacity: Option<usize>,
    timeout: Duration,
) -> Result<(Client, NoticeStream), SocketError> {
    let mut builder = Client::builder()
        .address(addr)
        .client_id(client_id)
        // The watchdog owns reconnecting; see its module header.
        .max_reconnect_attempts(0)
        .one_shot_timeout(timeout);
    if let Some(capacity) = capacity {
        builder = builder.channel_capacity(capacity);
    }
    match tokio::time::timeout(timeout, builder.connect_with_notice_stream()).await {
        Err(_) => Err(SocketError::ConnectTimeout {
            addr: addr.to_owned(),
            timeout,
        }),
        Ok(Err(ibapi::Error::ClientIdInUse { .. })) => Err(SocketError::ClientIdInUse {
            addr: addr.to_owned(),
            var,
            client_id,
        }),
        Ok(Err(e)) => Err(SocketError::Connect {
            addr: addr.to_owned(),
            reason: e.to_string(),
        }),
        Ok(Ok(connected)) => Ok(connected),
    }
}

impl SocketConnection {
    /// The next thing to report; a vanished task counts as a lost connection.
    pub async fn next_event(&mut self) -> SocketEvent {
        self.events
            .recv()
            .await
            .unwrap_or_else(|| SocketEvent::Lost("the connection's streams ended".into()))
    }

    pub fn is_connected(&self) -> bool {
        self.shared.client.is_connected() && self.shared.market.is_connected()
    }

    /// How long since anything arrived on this connection.
    pub fn quiet_for(&self) -> Duration {
        lock(&self.shared.last_activity).elapsed()
    }

    /// Asks for the server time; a connection that cannot answer within `timeout` has stalled.
    pub async fn probe(&self, timeout: Duration) -> Result<(), SocketError> {
        let stalled = || SocketError::Stalled {
            addr: self.shared.addr.clone(),
            timeout,
        };
        match tokio::time::timeout(timeout, self.shared.client.server_time()).await {
            Ok(Ok(_)) => {
                self.shared.touch();
                Ok(())
            }
            Ok(Err(e)) => Err(SocketError::Lost {
                addr: self.shared.addr.clone(),
                reason: e.to_string(),
            }),
            Err(_) => Err(stalled()),
        }
    }

    /// Ends every stream and disconnects.
    pub async fn close(mut self) {
        self.tasks.abort_all();
        self.shared.stop_market_data();
        let both = async {
            tokio::join!(
                self.shared.client.disconnect(),
                self.shared.market.disconnect()
            )
        };
        let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, both).await;
    }
}

impl Drop for SocketConnection {
    fn drop(&mut self) {
        self.tasks.abort_all();
        self.shared.stop_market_data();
    }
}

impl Shared {
    fn touch(&self) {
        *lock(&self.last_activity) = Instant::now();
    }

    fn report(&self, event: SocketEvent) {
        if self.events.try_send(event).is_err() {
            debug!("socket event dropped: the watchdog is behind or gone");
        }
    }

    /// Reports a failed stream: a lost connection ends the connection, anything else only
    /// that stream.
    fn stream_failed(&self, what: &str, e: &ibapi::Error) {
        if e.is_connection_lost()
            || matches!(e, ibapi::Error::ConnectionFailed | ibapi::Error::Shutdown)
        {
            self.report(SocketEvent::Lost(format!("{what}: {e}")));
        } else {
            warn!("{what} failed: {e}");
        }
    }

    /// A positions or account stream lost messages (its reader fell more than ibapi's buffer
    /// of 1,024 messages behind): what it described can no longer be trusted, so the
    /// connection is given up and the watchdog's new one starts whole. Asking again on the
    /// same connection is not enough: the rest of the old answer would arrive on the new
    /// stream. (Market data may lose old ticks: only the latest counts.)
    fn fell_behind(&self, what: &str) {
        warn!("the {what} stream fell behind and lost messages: reconnecting to read it whole");
        self.report(SocketEvent::Lost(format!(
            "the {what} stream lost messages"
        )));
    }

    fn stop_market_data(&self) {
        for instrument in lock(&self.instruments).values_mut() {
            if let Some(task) = instrument.task.take() {
                task.abort();
            }
        }
    }

    /// Makes sure `contract` has its details looked up and its market data flowing.
    fn track(self: &Arc<Self>, contract: &Contract) {
        let Some(conid) = ConId::new(i64::from(contract.contract_id)) else {
            return;
        };
        let mut instruments = lock(&self.instruments);
        if instruments.contains_key(&conid) {
            return;
        }
        let task =
            tokio::spawn(instrument_task(self.clone(), contract.clone(), None)).abort_handle();
        instruments.insert(
            conid,
            Instrument {
                request: None,
                task: Some(task),
            },
        );
    }

    /// After 1101 (market data lost): every subscription is opened again.
    fn resubscribe_market_data(self: &Arc<Self>) {
        let mut instruments = lock(&self.instruments);
        for instrument in instruments.values_mut() {
            if let (Some(task), Some(request)) =
                (instrument.task.take(), instrument.request.clone())
            {
                task.abort();
                let handle = tokio::spawn(instrument_task(
                    self.clone(),
                    request.clone(),
                    Some(request),
                ));
                instrument.task = Some(handle.abort_handle());
            }
        }
    }
}

async fn notices_task(shared: Arc<Shared>, mut notices: NoticeStream) {
    while let Some(notice) = notices.next().await {
        shared.touch();
        let code = notice.code;
        let message = notice.message.clone();
        match code {
            1100 => {
                shared.portfolio.write(|p| {
                    p.data_lost(format!("1100: {message}"));
                    p.upstream_lost(Timestamp::now());
                });
                shared.report(SocketEvent::Notice { code, message });
            }
            1101 => {
                shared.portfolio.write(|p| {
                    p.data_lost(format!("1101: {message}"));
                    p.upstream_restored();
                });
                shared.report(SocketEvent::Notice { code, message });
            }
            1102 => {
                shared.portfolio.write(|p| p.upstream_restored());
                shared.report(SocketEvent::Notice { code, message })
            }
            1300 | 2103 | 2105 | 2157 => shared.report(SocketEvent::Notice { code, message }),
            _ => debug!(code, "TWS notice: {message}"),
        }
    }
    shared.report(SocketEvent::Lost("the notice stream closed".into()));
}

/// The market-data client's notices: TWS sends every system notice to both clients, so the
/// first client's reports them and this one only acts on what concerns its own
/// subscriptions (1101: every one is opened again).
async fn market_notices_task(shared: Arc<Shared>, mut notices: NoticeStream) {
    while let Some(notice) = notices.next().await {
        shared.touch();
        if notice.code == 1101 {
            shared.resubscribe_market_data();
        }
    }
    shared.report(SocketEvent::Lost(
        "the market-data connection's notice stream closed".into(),
    ));
}

/// Whether a stream item is ibapi's notice that the stream fell behind and lost messages.
fn lagged<T>(item: &Result<SubscriptionItem<T>, ibapi::Error>) -> bool {
    matches!(item, Ok(SubscriptionItem::Notice(n)) if n.code == SUBSCRIPTION_LAG_CODE)
}

async fn positions_task(shared: Arc<Shared>) {
    let mut positions = match shared.client.positions().await {
        Ok(sub) => sub,
        Err(e) => return shared.stream_failed("positions", &e),
    };
    // The first list arrives as a burst: it is only collected until its end, so that this
    // reader keeps up with the socket, and then applied at once.
    let mut first: Option<Vec<Position>> = Some(Vec::new());
    while let Some(item) = positions.next().await {
        shared.touch();
        if lagged(&item) {
            return shared.fell_behind("positions");
        }
        match item {
            Ok(SubscriptionItem::Data(PositionUpdate::Position(p))) => match first.as_mut() {
                Some(list) => list.push(p),
                None => {
                    apply_position(&shared, &p);
                }
            },
            Ok(SubscriptionItem::Data(PositionUpdate::PositionEnd)) => {
                let list = first.take().unwrap_or_default();
                // What this connection's list held: at its end, legs not in it are gone.
                let reported: BTreeSet<_> = list
                    .iter()
                    .filter_map(|p| apply_position(&shared, p))
                    .collect();
                let now = Timestamp::now();
                shared
                    .portfolio
                    .write(|pf| pf.positions_loaded(&reported, now));
                info!(legs = reported.len(), "TWS positions loaded");
            }
            Ok(SubscriptionItem::Notice(n)) => debug!("positions notice: {n}"),
            Err(e) => return shared.stream_failed("positions", &e),
        }
    }
    shared.report(SocketEvent::Lost("the positions stream ended".into()));
}

/// Records one position and starts its market data; the leg, if it is held.
fn apply_position(shared: &Arc<Shared>, p: &Position) -> Option<(AccountCode, ConId)> {
    let (Some(account), Some(contract)) = (AccountCode::parse(&p.account), to_domain(&p.contract))
    else {
        warn!("ignoring a position without a valid account or conid: {p:?}");
        return None;
    };
    let now = Timestamp::now();
    let raw = serde_json::to_value(p).unwrap_or_default();
    shared.portfolio.write(|pf| {
        pf.set_position(&account, &contract, p.position, value(p.average_cost), now);
        pf.merge_raw(&account, contract.conid, "position", raw);
    });
    if p.position == 0.0 {
        return None;
    }
    shared.track(&p.contract);
    Some((account, contract.conid))
}

/// Portfolio values from account updates: one account held open, or several visited in turn.
async fn account_updates_task(shared: Arc<Shared>, accounts: Vec<String>) {
    loop {
        for account in &accounts {
            let id = AccountId::from(account.as_str());
            let mut updates = match shared.client.account_updates(&id).await {
                Ok(sub) => sub,
                Err(e) => return shared.stream_failed("account updates", &e),
            };
            let keep_open = accounts.len() == 1;
            let mut burst = Some(Vec::new());
            while let Some(item) = updates.next().await {
                shared.touch();
                if lagged(&item) {
                    return shared.fell_behind("account updates");
                }
                match item {
                    // Collected until the account's end, like the positions' first list.
                    Ok(SubscriptionItem::Data(AccountUpdate::PortfolioValue(v))) => {
                        match burst.as_mut() {
                            Some(values) => values.push(v),
                            None => apply_portfolio_value(&shared, account, &v),
                        }
                    }
                    Ok(SubscriptionItem::Data(AccountUpdate::End)) => {
                        for v in burst.take().unwrap_or_default() {
                            apply_portfolio_value(&shared, account, &v);
                        }
                        if !keep_open {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return shared.stream_failed("account updates", &e),
                }
            }
            // TWS streams one account at a time: this one must be cancelled before the next.
            updates.cancel().await;
        }
        tokio::time::sleep(ACCOUNT_ROTATION).await;
    }
}

fn apply_portfolio_value(
    shared: &Shared,
    account: &str,
    v: &ibapi::accounts::AccountPortfolioValue,
) {
    let code = v.account.as_deref().unwrap_or(account);
    let (Some(account), Some(contract)) = (AccountCode::parse(code), to_domain(&v.contract)) else {
        return;
    };
    let values = LegValues {
        avg_cost: value(v.average_cost),
        market_price: value(v.market_price),
        market_value: value(v.market_value),
        unrealized_pnl: value(v.unrealized_pnl),
        realized_pnl: value(v.realized_pnl),
    };
    let raw = serde_json::to_value(v).unwrap_or_default();
    shared.portfolio.write(|p| {
        p.set_leg_values(&account, &contract, v.position, values, Timestamp::now());
        p.merge_raw(&account, contract.conid, "portfolio_value", raw);
    });
}

/// Looks up `contract`'s details unless `known`, records them, and opens its market data:
/// the conid, local symbol and stream, or `None` once the failure is reported.
async fn subscribe(
    shared: &Arc<Shared>,
    contract: Contract,
    known: Option<Contract>,
) -> Option<(ConId, String, Subscription<TickTypes>)> {
    let conid = ConId::new(i64::from(contract.contract_id))?;
    let request = match known {
        Some(request) => request,
        None => {
            let query = Contract {
                contract_id: contract.contract_id,
                security_type: contract.security_type.clone(),
                exchange: contract.exchange.clone(),
                ..Contract::default()
            };
            let details = match shared.market.contract_details(&query).await {
                Ok(d) => d,
                Err(e) => {
                    shared.stream_failed(&format!("contract details of {conid}"), &e);
                    return None;
                }
            };
            let Some(d) = details.into_iter().next() else {
                warn!("TWS has no contract details for conid {conid}");
                return None;
            };
            shared.touch();
            if let Some(mut facts) = to_domain(&d.contract) {
                facts.underlying_conid = ConId::new(i64::from(d.under_contract_id));
                facts.underlying_symbol = Some(d.under_symbol.clone()).filter(|s| !s.is_empty());
                shared.portfolio.write(|p| p.upsert_contract(&facts));
                // An option's underlying needs its own price too.
                if facts.sec_type.is_option()
                    && let Some(und) = facts.underlying_conid
                {
                    let und_contract = Contract {
                        contract_id: und.get(),
                        exchange: Exchange::from(""),
                        ..Contract::default()
                    };
                    shared.track(&und_contract);
                }
            }
            let mut request = d.contract;
            if request.exchange.to_string().is_empty() {
                request.exchange = Exchange::from("SMART");
            }
            if let Some(i) = lock(&shared.instruments).get_mut(&conid) {
                i.request = Some(request.clone());
            }
            request
        }
    };
    match shared.market.market_data(&request).subscribe().await {
        Ok(ticks) => Some((conid, request.local_symbol, ticks)),
        Err(e) => {
            shared.stream_failed(&format!("market data of {conid}"), &e);
            None
        }
    }
}

/// Contract details (unless `known` already holds the request), then market data until the
/// stream ends.
async fn instrument_task(shared: Arc<Shared>, contract: Contract, known: Option<Contract>) {
    // Set up in a future of its own on the heap: a task's size is its largest state, and the
    // contracts of the setup would otherwise stay reserved in each of thousands of streams.
    let Some((conid, local_symbol, mut ticks)) =
        Box::pin(subscribe(&shared, contract, known)).await
    else {
        return;
    };
    let mut state = TickState::default();
    while let Some(item) = ticks.next().await {
        shared.touch();
        match item {
            Ok(SubscriptionItem::Data(tick)) => match state.apply(&tick) {
                Some(Update::Price(price, kind)) => shared
                    .portfolio
                    .write(|p| p.set_price(conid, price, kind, Timestamp::now())),
                Some(Update::Greeks(greeks, kind)) => shared
                    .portfolio
                    .write(|p| p.set_greeks(conid, greeks, kind, Timestamp::now())),
                None => {}
            },
            Ok(SubscriptionItem::Notice(n)) => debug!(%conid, "market data notice: {n}"),
            Err(e) => {
                return shared
                    .stream_failed(&format!("market data of {local_symbol} ({conid})"), &e);
            }
        }
    }
}
