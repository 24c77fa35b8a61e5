//! PORTAL mode: keeps the in-memory portfolio current from the Client Portal by polling —
//! accounts, every position page (with the gateway's cache dropped), the contract facts
//! positions lack (multipliers, underlyings, local symbols), and snapshots of prices and model
//! greeks — so the 5-second greeks row is computed exactly as in SOCKET mode.
//!
//! One poll reads everything first and changes the portfolio in one step at the end: a failed
//! or malformed answer leaves the portfolio as it was (then marked disconnected), never half
//! updated. Pacing keeps the polls within the gateway's limits. It reads the session the
//! keeper maintains and never logs in or out itself.
//!
//! Each gateway session wants its first calls before anything else: `/portfolio/accounts`
//! before `/portfolio/*`, `/iserver/accounts` before snapshots. The source makes them again in
//! every session generation the keeper publishes, polls at once when a new session becomes
//! readable (so data flows within one poll interval of a login), and, should the gateway still
//! say a first call is missing (a login the keeper has not seen yet), makes them and reads once
//! more. Derivatives need one more first call: IBKR streams their market data only after a
//! `/iserver/secdef/search` for their underlying, so each root is searched once per session
//! generation before its first snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::debug;

use super::client::PortalClient;
use super::error::PortalError;
use super::session::{PortalSession, SessionState};
use super::wire;
use crate::Shutdown;
use crate::api_log::ApiLog;
use crate::domain::api_log::{ApiLogEntry, ApiMode, LogStatus};
use crate::domain::contract::{Contract, SecType};
use crate::domain::ids::{AccountCode, ConId};
use crate::domain::portfolio::{DataKind, SharedPortfolio};

/// Accounts are re-read this often (the gateway allows one call per 5 s).
const ACCOUNTS_EVERY: Duration = Duration::from_secs(300);

/// What one poll read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollReport {
    pub accounts: usize,
    pub legs: usize,
    pub snapshots: usize,
    pub greeks: usize,
}

/// Polls the Client Portal into the portfolio.
pub struct PortalSource {
    client: PortalClient,
    portfolio: SharedPortfolio,
    session: watch::Receiver<PortalSession>,
    log: ApiLog,
    accounts: Vec<AccountCode>,
    accounts_read: Option<Timestamp>,
    /// Facts looked up once per contract (they do not change).
    known: BTreeMap<ConId, Contract>,
    /// The session generation `/portfolio/accounts` was last called in.
    portfolio_ready: Option<u64>,
    /// The session generation `/iserver/accounts` was last called in.
    iserver_ready: Option<u64>,
    /// Derivative roots searched (`/iserver/secdef/search`) in the session generation
    /// `searched_in`: IBKR streams a derivative's market data only after such a search.
    searched: BTreeSet<String>,
    searched_in: Option<u64>,
    /// The outcome last reported: `None` before the first poll, then the error (if any).
    reported: Option<Option<String>>,
}

impl PortalSource {
    pub fn new(
        client: PortalClient,
        portfolio: SharedPortfolio,
        session: watch::Receiver<PortalSession>,
        log: ApiLog,
    ) -> PortalSource {
        PortalSource {
            client,
            portfolio,
            session,
            log,
            accounts: Vec::new(),
            accounts_read: None,
            known: BTreeMap::new(),
            portfolio_ready: None,
            iserver_ready: None,
            searched: BTreeSet::new(),
            searched_in: None,
            reported: None,
        }
    }

    /// Polls every `interval` until `shutdown`, starting once the keeper has checked the
    /// session, and at once when a new session becomes readable (a login). A poll in flight is
    /// abandoned at shutdown: it changes nothing until it ends.
    pub async fn run(mut self, interval: Duration, mut shutdown: Shutdown) {
        let mut session = self.session.clone();
        tokio::select! {
            _ = session.wait_for(|s| s.state != SessionState::Starting) => {}
            _ = shutdown.wait() => return,
        }
        let mut timer = tokio::time::interval(interval);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = timer.tick() => {}
                Ok(()) = session.changed() => {
                    let fresh = {
                        let s = session.borrow_and_update();
                        s.can_read_portfolio() && self.portfolio_ready != Some(s.generation)
                    };
                    if !fresh {
                        continue;
                    }
                    timer.reset();
                }
                _ = shutdown.wait() => return,
            }
            tokio::select! {
                _ = self.poll_and_report() => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// One poll, with its outcome reported: the portfolio marked down on failure, and
    /// `api_logs` told when the outcome changes.
    pub async fn poll_and_report(&mut self) -> Result<PollReport, PortalError> {
        let result = self.poll().await;
        let now = Timestamp::now();
        match &result {
            Ok(report) => {
                // The first data of a run, and data again after a failure, are news.
                let message = match self.reported.replace(None) {
                    None => Some(format!(
                        "Client Portal data flows: {} accounts, {} legs",
                        report.accounts, report.legs
                    )),
                    Some(Some(_)) => Some("Client Portal data flows again".to_owned()),
                    Some(None) => None,
                };
                if let Some(message) = message {
                    self.log.record(ApiLogEntry::new(
                        now,
                        ApiMode::Portal,
                        LogStatus::Ok,
                        message,
                    ));
                }
            }
            Err(e) => {
                let message = format!("Client Portal data unavailable: {e}");
                self.portfolio
                    .write(|p| p.disconnected(now, message.clone()));
                if self.reported != Some(Some(message.clone())) {
                    self.log.record(ApiLogEntry::new(
                        now,
                        ApiMode::Portal,
                        LogStatus::Error,
                        message.clone(),
                    ));
                    self.reported = Some(Some(message));
                }
            }
        }
        result
    }

    /// Reads everything, then updates the portfolio in one step.
    pub async fn poll(&mut self) -> Result<PollReport, PortalError> {
        let session = self.session.borrow().clone();
        if !session.can_read_portfolio() {
            return Err(match session.state {
                SessionState::ReauthRequired => PortalError::NotAuthenticated {
                    login_url: self.client.login_url().to_owned(),
                },
                _ => PortalError::SessionUnusable {
                    message: session.message,
                },
            });
        }
        match self.read(&session).await {
            // A new session the keeper has not seen yet: its first calls, and one more read.
            Err(PortalError::FirstCallNeeded { .. }) => {
                self.portfolio_ready = None;
                self.iserver_ready = None;
                self.searched_in = None;
                self.read(&session).await
            }
            done => done,
        }
    }

    /// One read of everything in `session`, its first calls made if due.
    async fn read(&mut self, session: &PortalSession) -> Result<PollReport, PortalError> {
        let now = Timestamp::now();
        if self.portfolio_ready != Some(session.generation)
            || self
                .accounts_read
                .is_none_or(|t| now.duration_since(t).unsigned_abs() >= ACCOUNTS_EVERY)
        {
            self.accounts = self
                .client
                .accounts()
                .await?
                .into_iter()
                .map(|a| a.code)
                .collect();
            self.accounts_read = Some(now);
            self.portfolio_ready = Some(session.generation);
        }

        let mut positions = BTreeMap::new();
        for account in &self.accounts {
            positions.insert(account.clone(), self.client.positions(account, true).await?);
        }
        let held: BTreeSet<ConId> = positions
            .values()
            .flatten()
            .map(|p| p.contract.conid)
            .collect();
        for p in positions.values().flatten() {
            self.known
                .entry(p.contract.conid)
                .or_insert_with(|| p.contract.clone());
        }
        let brokerage = session.state == SessionState::Authenticated;
        self.complete_contracts(&held, brokerage).await?;

        let mut snapshots = Vec::new();
        if brokerage {
            if self.iserver_ready != Some(session.generation) {
                self.client.iserver_accounts().await?;
                self.iserver_ready = Some(session.generation);
            }
            let mut wanted: BTreeSet<ConId> = held.clone();
            wanted.extend(
                held.iter()
                    .filter_map(|c| self.known.get(c).and_then(|k| k.underlying_conid)),
            );
            let wanted: Vec<ConId> = wanted.into_iter().collect();
            self.search_roots(&wanted, session.generation).await?;
            snapshots = self.client.snapshots(&wanted).await?;
        }

        let report = self.apply(positions, &snapshots, now);
        Ok(report)
    }

    /// Searches, once per session generation, the root of every derivative in `conids`.
    async fn search_roots(&mut self, conids: &[ConId], generation: u64) -> Result<(), PortalError> {
        if self.searched_in != Some(generation) {
            self.searched.clear();
            self.searched_in = Some(generation);
        }
        let roots: BTreeSet<String> = conids
            .iter()
            .filter_map(|c| self.known.get(c).and_then(Contract::derivative_root))
            .filter(|root| !self.searched.contains(*root))
            .map(str::to_owned)
            .collect();
        for root in roots {
            if self.client.search(&root).await? == 0 {
                debug!(root, "the gateway found nothing for this derivative root");
            }
            self.searched.insert(root);
        }
        Ok(())
    }

    /// Looks up what positions did not say: multipliers and underlyings from the secdef
    /// service, local symbols from contract info (which needs the brokerage session).
    async fn complete_contracts(
        &mut self,
        held: &BTreeSet<ConId>,
        brokerage: bool,
    ) -> Result<(), PortalError> {
        let lacking: Vec<ConId> = held
            .iter()
            .filter(|c| {
                self.known.get(c).is_none_or(|k| {
                    k.effective_multiplier().is_none()
                        || (k.sec_type.is_option() && k.underlying_conid.is_none())
                })
            })
            .copied()
            .collect();
        if !lacking.is_empty() {
            for facts in self.client.secdefs(&lacking).await? {
                self.merge_known(facts);
            }
        }
        if brokerage {
            let unnamed: Vec<ConId> = held
                .iter()
                .filter(|c| self.known.get(c).is_none_or(|k| k.local_symbol.is_none()))
                .copied()
                .collect();
            for conid in unnamed {
                let facts = self.client.contract_info(conid).await?;
                self.merge_known(facts);
            }
        }
        Ok(())
    }

    fn merge_known(&mut self, facts: Contract) {
        match self.known.get_mut(&facts.conid) {
            Some(k) => {
                // The looked-up type is authoritative when the position row gave none.
                if matches!(k.sec_type, SecType::Other(ref s) if s.is_empty()) {
                    k.sec_type = facts.sec_type.clone();
                }
                k.merge(&facts);
            }
            None => {
                self.known.insert(facts.conid, facts);
            }
        }
    }

    fn apply(
        &self,
        positions: BTreeMap<AccountCode, Vec<wire::Position>>,
        snapshots: &[wire::Snapshot],
        now: Timestamp,
    ) -> PollReport {
        let by_conid: BTreeMap<ConId, &wire::Snapshot> =
            snapshots.iter().map(|s| (s.conid, s)).collect();
        let mut report = PollReport {
            accounts: positions.len(),
            snapshots: snapshots.len(),
            ..PollReport::default()
        };
        self.portfolio.write(|p| {
            p.set_accounts(positions.keys().cloned());
            let mut reported = BTreeSet::new();
            for (account, rows) in positions {
                let legs = rows
                    .into_iter()
                    .map(|row| {
                        let mut contract = row.contract.clone();
                        if let Some(k) = self.known.get(&contract.conid) {
                            contract.merge(k);
                        }
                        (contract, row.quantity, row.values, Some(row.raw))
                    })
                    .collect::<Vec<_>>();
                report.legs += legs.len();
                reported.extend(legs.iter().map(|l| (account.clone(), l.0.conid)));
                p.replace_account(&account, legs, now);
            }
            p.positions_loaded(&reported, now);
            for contract in self.known.values() {
                p.upsert_contract(contract);
            }
            for s in snapshots.iter().filter(|s| s.has_data()) {
                let kind = s.kind().unwrap_or(DataKind::Live);
                let at = s.updated.unwrap_or(now);
                if let Some(price) = s.price() {
                    p.set_price(s.conid, price, kind, at);
                }
                let is_option = p.contract(s.conid).is_some_and(|c| c.sec_type.is_option());
                if is_option {
                    let mut greeks = s.greeks();
                    let und = s
                        .underlying_conid()
                        .or_else(|| p.contract(s.conid).and_then(|c| c.underlying_conid));
                    greeks.underlying_price =
                        und.and_then(|u| by_conid.get(&u)).and_then(|u| u.price());
                    if greeks.delta.is_some() {
                        report.greeks += 1;
                    }
                    p.set_greeks(s.conid, greeks, kind, at);
                }
            }
            p.connected(now, format!("Client Portal at {}", self.client.login_url()));
        });
        report
    }
}
