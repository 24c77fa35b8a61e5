//! Portfolio: the in-memory state the sources keep current and the greeks ticker reads — each
//! account's legs, the contracts' facts, prices and model greeks with the time they were
//! observed and whether they are live or delayed, and the feed's health.
//!
//! Freshness is decided here, from `now` passed in: a value is fresh only if it was observed
//! within the allowed age *and* since the feed last reconnected (every disconnect or loss of
//! data starts a new epoch). A greek IB has not computed is `None`, never zero. Pure data: no
//! I/O, no clock; [`SharedPortfolio`] is the lock sources write through.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::contract::Contract;
use super::ids::{AccountCode, ConId};

/// Whether market data is live or delayed (IBKR's market data types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    Live,
    Frozen,
    Delayed,
    DelayedFrozen,
}

impl DataKind {
    /// From IBKR's market data type number (1 live, 2 frozen, 3 delayed, 4 delayed frozen).
    pub fn from_tws(market_data_type: i32) -> Option<DataKind> {
        match market_data_type {
            1 => Some(DataKind::Live),
            2 => Some(DataKind::Frozen),
            3 => Some(DataKind::Delayed),
            4 => Some(DataKind::DelayedFrozen),
            _ => None,
        }
    }
}

/// A value with when it was observed, what kind of data it is, and the feed epoch it
/// belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observation<T> {
    pub value: T,
    pub at: Timestamp,
    pub kind: DataKind,
    pub epoch: u64,
}

/// IB's model greeks of one option, per unit of its underlying (not times the multiplier).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ModelGreeks {
    pub delta: Option<f64>,
    pub gamma: Option<f64>,
    pub vega: Option<f64>,
    pub theta: Option<f64>,
    pub implied_vol: Option<f64>,
    pub underlying_price: Option<f64>,
}

impl ModelGreeks {
    /// Whether every greek the net sums need is present.
    pub fn is_complete(&self) -> bool {
        self.delta.is_some() && self.gamma.is_some() && self.vega.is_some() && self.theta.is_some()
    }
}

/// Why a value cannot be used as fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Staleness {
    /// Never observed.
    Missing,
    /// Observed longer ago than allowed.
    TooOld,
    /// Observed before the feed last lost its connection or its data.
    BeforeReconnect,
    /// The feed is down now.
    Disconnected,
}

/// One account's position in one contract, with what the account updates said about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leg {
    pub account: AccountCode,
    pub conid: ConId,
    pub quantity: f64,
    /// IB's average cost: per contract, multiplier included.
    pub avg_cost: Option<f64>,
    pub market_price: Option<f64>,
    pub market_value: Option<f64>,
    pub unrealized_pnl: Option<f64>,
    pub realized_pnl: Option<f64>,
    pub updated_at: Timestamp,
    /// The payload the leg was last read from, for the `raw` column.
    pub raw: Option<RawPayload>,
}

impl Serialize for RawPayload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(s)
    }
}

/// A gateway payload as JSON text: as the gateway sent it, or as serde_json wrote it. A
/// parsed tree takes several times its text in memory, and every leg keeps one (2,000 legs:
/// ~10 MiB as trees), and building one costs more than reading the few fields the bridge
/// uses. Shared, so that the ticker's snapshot every few seconds does not copy every payload
/// (20 ms for 2,000 legs). Equality is of the text; [`RawPayload::same_json`] is of the JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload(Arc<str>);

impl RawPayload {
    pub fn new(value: &serde_json::Value) -> RawPayload {
        RawPayload(value.to_string().into())
    }

    /// A payload's text as it stands, unparsed.
    pub fn from_json(raw: &serde_json::value::RawValue) -> RawPayload {
        RawPayload(raw.get().into())
    }

    /// JSON's `null`: no payload.
    pub fn null() -> RawPayload {
        RawPayload("null".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether both are the same JSON, whatever their key order and spacing: what `jsonb`
    /// keeps of them. Parses only when the texts differ.
    pub fn same_json(&self, other: &RawPayload) -> bool {
        self.0 == other.0 || self.value() == other.value()
    }

    /// The JSON text, to store as it is.
    pub fn json(&self) -> &serde_json::value::RawValue {
        // Made only from a `Value`'s serialisation or from parsed JSON text: it always parses.
        serde_json::from_str(&self.0).unwrap_or(serde_json::value::RawValue::NULL)
    }

    /// The payload parsed.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

/// What an account update or a portfolio row says about a leg beyond its quantity.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LegValues {
    pub avg_cost: Option<f64>,
    pub market_price: Option<f64>,
    pub market_value: Option<f64>,
    pub unrealized_pnl: Option<f64>,
    pub realized_pnl: Option<f64>,
}

/// The feed's connection as the status API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedHealth {
    pub connected: bool,
    pub since: Option<Timestamp>,
    pub message: String,
    /// Reconnects or data losses since start; values from an earlier epoch are stale.
    pub epoch: u64,
    /// Times the feed came up since start (the first connect included).
    pub connects: u64,
    /// Market-data updates (prices and model greeks) applied since start.
    pub updates: u64,
    /// Since when the gateway has lost IBKR's servers (TWS 1100) with the socket still up;
    /// `None` once it says connectivity is restored (1101, 1102).
    pub upstream_lost_since: Option<Timestamp>,
    /// Reconnect rounds that all failed since the feed was last up (SOCKET: the gateway
    /// refuses or drops the API connection, as a logged-out gateway does).
    pub refused: Option<Refusal>,
}

/// Whole reconnect rounds (every attempt of the retry policy) that failed in a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    /// When the first failed round ended.
    pub since: Timestamp,
    pub rounds: u32,
    pub last_error: String,
}

/// What the feed's health says before any source has connected.
pub const NOT_CONNECTED_YET: &str = "not connected to IBKR yet: waiting for the first connection";

/// The portfolio as the sources last described it.
#[derive(Debug, Clone)]
pub struct Portfolio {
    legs: BTreeMap<(AccountCode, ConId), Leg>,
    contracts: BTreeMap<ConId, Contract>,
    prices: BTreeMap<ConId, Observation<f64>>,
    greeks: BTreeMap<ConId, Observation<ModelGreeks>>,
    connected: bool,
    since: Option<Timestamp>,
    message: String,
    epoch: u64,
    /// The accounts the source serves (an account with no legs is still one).
    accounts: BTreeSet<AccountCode>,
    /// When the legs were last known complete on the current connection.
    positions_complete: Option<Timestamp>,
    connects: u64,
    updates: u64,
    upstream_lost_since: Option<Timestamp>,
    refused: Option<Refusal>,
}

/// Empty and not connected; the health says so, so a "down" never comes without a reason.
impl Default for Portfolio {
    fn default() -> Portfolio {
        Portfolio {
            legs: BTreeMap::new(),
            contracts: BTreeMap::new(),
            prices: BTreeMap::new(),
            greeks: BTreeMap::new(),
            connected: false,
            since: None,
            message: NOT_CONNECTED_YET.to_owned(),
            epoch: 0,
            accounts: BTreeSet::new(),
            positions_complete: None,
            connects: 0,
            updates: 0,
            upstream_lost_since: None,
            refused: None,
        }
    }
}

impl Portfolio {
    pub fn new() -> Portfolio {
        Portfolio::default()
    }

    /// A leg's quantity and average cost (the positions stream); quantity 0 removes it.
    pub fn set_position(
        &mut self,
        account: &AccountCode,
        contract: &Contract,
        quantity: f64,
        avg_cost: Option<f64>,
        now: Timestamp,
    ) {
        self.upsert_contract(contract);
        let key = (account.clone(), contract.conid);
        if quantity == 0.0 {
            self.legs.remove(&key);
            return;
        }
        let leg = self.legs.entry(key).or_insert_with(|| Leg {
            account: account.clone(),
            conid: contract.conid,
            quantity,
            avg_cost,
            market_price: None,
            market_value: None,
            unrealized_pnl: None,
            realized_pnl: None,
            updated_at: now,
            raw: None,
        });
        leg.quantity = quantity;
        leg.avg_cost = avg_cost.or(leg.avg_cost);
        leg.updated_at = now;
    }

    /// What an account update says about a leg (market price and value, PnL). A leg the
    /// positions stream has not reported yet is created from it.
    pub fn set_leg_values(
        &mut self,
        account: &AccountCode,
        contract: &Contract,
        quantity: f64,
        values: LegValues,
        now: Timestamp,
    ) {
        self.set_position(account, contract, quantity, values.avg_cost, now);
        if let Some(leg) = self.legs.get_mut(&(account.clone(), contract.conid)) {
            leg.market_price = values.market_price;
            leg.market_value = values.market_value;
            leg.unrealized_pnl = values.unrealized_pnl;
            leg.realized_pnl = values.realized_pnl;
        }
    }

    /// Replaces an account's legs with a complete snapshot: legs it no longer lists are gone.
    pub fn replace_account(
        &mut self,
        account: &AccountCode,
        legs: Vec<(Contract, f64, LegValues, Option<serde_json::Value>)>,
        now: Timestamp,
    ) {
        self.legs.retain(|(a, _), _| a != account);
        for (contract, quantity, values, raw) in legs {
            if quantity == 0.0 {
                continue;
            }
            self.set_leg_values(account, &contract, quantity, values, now);
            if let Some(leg) = self.legs.get_mut(&(account.clone(), contract.conid)) {
                leg.raw = raw.as_ref().map(RawPayload::new);
            }
        }
    }

    /// Adds what `contract` knows to the facts already held.
    pub fn upsert_contract(&mut self, contract: &Contract) {
        self.contracts
            .entry(contract.conid)
            .and_modify(|c| {
                let mut fresh = contract.clone();
                fresh.merge(c);
                *c = fresh;
            })
            .or_insert_with(|| contract.clone());
    }

    pub fn set_price(&mut self, conid: ConId, price: f64, kind: DataKind, now: Timestamp) {
        if price.is_finite() {
            self.updates += 1;
            let epoch = self.epoch;
            self.prices.insert(
                conid,
                Observation {
                    value: price,
                    at: now,
                    kind,
                    epoch,
                },
            );
        }
    }

    /// Records an option's model greeks; fields IB left unset stay `None`.
    pub fn set_greeks(
        &mut self,
        conid: ConId,
        greeks: ModelGreeks,
        kind: DataKind,
        now: Timestamp,
    ) {
        self.updates += 1;
        let epoch = self.epoch;
        self.greeks.insert(
            conid,
            Observation {
                value: greeks,
                at: now,
                kind,
                epoch,
            },
        );
        if let Some(und) = greeks.underlying_price
            && let Some(und_conid) = self.contracts.get(&conid).and_then(|c| c.underlying_conid)
        {
            // The option computation carries the underlying's price: it stands in until the
            // underlying's own market data (which wins) has been seen since the last reconnect.
            let own = self
                .prices
                .get(&und_conid)
                .is_some_and(|p| p.epoch == self.epoch);
            if !own {
                self.set_price(und_conid, und, kind, now);
            }
        }
    }

    /// The feed is up.
    pub fn connected(&mut self, now: Timestamp, message: impl Into<String>) {
        if !self.connected {
            self.since = Some(now);
            self.connects += 1;
            self.upstream_lost_since = None;
        }
        self.refused = None;
        self.connected = true;
        self.message = message.into();
    }

    /// The feed is down: everything observed so far is stale from now on, and the legs are no
    /// longer known to be complete. The health always says why: a blank reason says that the
    /// source gave none.
    pub fn disconnected(&mut self, now: Timestamp, message: impl Into<String>) {
        if self.connected || self.since.is_none() {
            self.since = Some(now);
        }
        self.connected = false;
        let message = message.into();
        self.message = match message.trim().is_empty() {
            true => "disconnected, the source gave no reason (see the log)".to_owned(),
            false => message,
        };
        self.epoch += 1;
        self.positions_complete = None;
    }

    /// The accounts the source serves.
    pub fn set_accounts(&mut self, accounts: impl IntoIterator<Item = AccountCode>) {
        self.accounts = accounts.into_iter().collect();
    }

    pub fn accounts(&self) -> &BTreeSet<AccountCode> {
        &self.accounts
    }

    /// Every leg the source has is in: legs not in `reported` (held before a reconnect, closed
    /// while the feed was down) are gone.
    pub fn positions_loaded(&mut self, reported: &BTreeSet<(AccountCode, ConId)>, now: Timestamp) {
        self.legs.retain(|key, _| reported.contains(key));
        self.positions_complete = Some(now);
    }

    /// When the legs were last known complete, unless the feed went down since.
    pub fn positions_complete(&self) -> Option<Timestamp> {
        self.positions_complete
    }

    /// Keeps `value` under `key` in the leg's raw payload (one source message per key).
    pub fn merge_raw(
        &mut self,
        account: &AccountCode,
        conid: ConId,
        key: &str,
        value: serde_json::Value,
    ) {
        if let Some(leg) = self.legs.get_mut(&(account.clone(), conid)) {
            let mut map = match leg.raw.as_ref().map(RawPayload::value) {
                Some(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            map.insert(key.to_owned(), value);
            leg.raw = Some(RawPayload::new(&serde_json::Value::Object(map)));
        }
    }

    /// Market data was lost with the connection still up (IB's 1100, or 1101's "data lost"):
    /// everything observed so far is stale, without marking the feed down.
    pub fn data_lost(&mut self, message: impl Into<String>) {
        self.message = message.into();
        self.epoch += 1;
    }

    /// A whole reconnect round failed at `now`, the last attempt with `error`.
    pub fn round_failed(&mut self, now: Timestamp, error: impl Into<String>) {
        let refused = self.refused.get_or_insert(Refusal {
            since: now,
            rounds: 0,
            last_error: String::new(),
        });
        refused.rounds += 1;
        refused.last_error = error.into();
    }

    /// The gateway lost IBKR's servers (1100) at `now`; the first loss of an outage counts.
    pub fn upstream_lost(&mut self, now: Timestamp) {
        self.upstream_lost_since.get_or_insert(now);
    }

    /// The gateway has IBKR's servers again (1101, 1102), or a new connection was made.
    pub fn upstream_restored(&mut self) {
        self.upstream_lost_since = None;
    }

    pub fn health(&self) -> FeedHealth {
        FeedHealth {
            connected: self.connected,
            since: self.since,
            message: self.message.clone(),
            epoch: self.epoch,
            connects: self.connects,
            updates: self.updates,
            upstream_lost_since: self.upstream_lost_since,
            refused: self.refused.clone(),
        }
    }

    pub fn legs(&self) -> impl Iterator<Item = &Leg> {
        self.legs.values()
    }

    pub fn account_legs<'a>(&'a self, account: &'a AccountCode) -> impl Iterator<Item = &'a Leg> {
        self.legs.values().filter(move |l| &l.account == account)
    }

    pub fn contract(&self, conid: ConId) -> Option<&Contract> {
        self.contracts.get(&conid)
    }

    pub fn contracts(&self) -> impl Iterator<Item = &Contract> {
        self.contracts.values()
    }

    fn freshness<T: Copy>(
        &self,
        obs: Option<&Observation<T>>,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<Observation<T>, Staleness> {
        let obs = obs.ok_or(Staleness::Missing)?;
        if !self.connected {
            return Err(Staleness::Disconnected);
        }
        if obs.epoch != self.epoch {
            return Err(Staleness::BeforeReconnect);
        }
        let age_ms = now.as_millisecond() - obs.at.as_millisecond();
        if age_ms > i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX) {
            return Err(Staleness::TooOld);
        }
        Ok(*obs)
    }

    /// The contract's last price if it is fresh.
    pub fn price(
        &self,
        conid: ConId,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<Observation<f64>, Staleness> {
        self.freshness(self.prices.get(&conid), now, max_age)
    }

    /// The option's model greeks if they are fresh (individual greeks may still be `None`).
    pub fn greeks(
        &self,
        conid: ConId,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<Observation<ModelGreeks>, Staleness> {
        self.freshness(self.greeks.get(&conid), now, max_age)
    }
}

/// The portfolio behind a lock, shared by the sources (writers) and the ticker (reader).
/// Closures run under the lock and must not block.
#[derive(Debug, Clone, Default)]
pub struct SharedPortfolio(Arc<RwLock<Portfolio>>);

impl SharedPortfolio {
    pub fn new() -> SharedPortfolio {
        SharedPortfolio::default()
    }

    pub fn read<R>(&self, f: impl FnOnce(&Portfolio) -> R) -> R {
        f(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn write<R>(&self, f: impl FnOnce(&mut Portfolio) -> R) -> R {
        f(&mut self.0.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy to compute from without holding the lock.
    pub fn snapshot(&self) -> Portfolio {
        self.read(Portfolio::clone)
    }
}

#[cfg(test)]
#[path = "portfolio_tests.rs"]
mod tests;
