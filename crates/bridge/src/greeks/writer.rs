//! Writer: stores records (greeks rows and `api_logs` entries) in PostgreSQL behind a circuit
//! breaker, so that neither a slow nor a dead database ever holds up the ticker or a source.
//!
//! Records wait in one line, oldest first: the spool file from its drain position, then — only
//! while the spool cannot be written (a full disk) — memory. The breaker is closed only while
//! that line is empty.
//!
//! - Closed: each batch goes straight to the database (one transaction, keys deduplicated).
//! - A failed write opens the breaker: that batch and every later one join the line, in the
//!   spool — appended and flushed to disk before they count as kept — or, while the spool
//!   cannot be written, in memory, at most [`WriterSettings::memory_limit`] of them (beyond that
//!   the oldest are dropped and counted). Memory goes back into the spool, in order, as soon as
//!   an append works again.
//! - Every `BUFFER_FLUSH_INTERVAL_SECONDS` while open, the line is drained oldest first in
//!   batches, each committed before the drain position moves; records that arrive meanwhile
//!   are appended to the spool at once, so a crash during a long drain loses nothing kept.
//!   When the spool is drained and memory empty the breaker closes — never before. Replays
//!   after a crash are stored once thanks to the keys.
//!
//! Each breaker event is itself an `api_logs` record, stored the same way. Troubles that come
//! and go (a nearly full disk) are reported once when they begin, once when they end, and in
//! between at most every [`WriterSettings::report_every`] (see [`Episode`]). The writer is the
//! spool's only user while the bridge runs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, watch};
use tracing::{error, info, warn};

use super::record::Record;
use super::sink::Sink;
use super::spool::{Batch, Spool, SpoolError};
use crate::domain::api_log::{ApiLogEntry, ApiMode, LogStatus};
use crate::domain::episode::{Episode, Notice};
use crate::domain::ids::BridgeName;
use crate::failpoint;

/// How records reach the writer; never blocks the sender.
pub type RecordSender = mpsc::UnboundedSender<Vec<Record>>;

/// The records still to come from the sources, while the writer drains.
pub type RecordReceiver = mpsc::UnboundedReceiver<Vec<Record>>;

#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// How often an open breaker tries to drain.
    pub flush_interval: Duration,
    /// Records per database transaction while draining.
    pub batch: usize,
    /// Records kept in memory at most while the spool cannot be written.
    pub memory_limit: usize,
    /// Troubles that come and go are summarized at most this often.
    pub report_every: Duration,
    /// Whose breaker events the writer's own `api_logs` entries are.
    pub bridge: BridgeName,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            flush_interval: Duration::from_secs(60),
            batch: 5000,
            memory_limit: 200_000,
            report_every: Duration::from_secs(300),
            bridge: BridgeName::from_host(""),
        }
    }
}

/// The breaker, as the status API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Breaker {
    Closed,
    Open,
}

/// The writer's state for the status API and `/metrics`; the default is a fresh writer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WriterStatus {
    pub breaker: Breaker,
    /// Records waiting in the spool.
    pub spooled: usize,
    /// Records waiting in memory because the spool cannot be written.
    pub in_memory: usize,
    /// Records dropped since start because memory was full too.
    pub dropped: u64,
    /// Records stored since start.
    pub stored: u64,
    pub last_error: Option<String>,
}

impl Default for WriterStatus {
    fn default() -> Self {
        WriterStatus {
            breaker: Breaker::Closed,
            spooled: 0,
            in_memory: 0,
            dropped: 0,
            stored: 0,
            last_error: None,
        }
    }
}

pub struct Writer {
    sink: Arc<dyn Sink>,
    spool: Spool,
    /// Records newer than everything in the spool, waiting because it cannot be written.
    memory: VecDeque<Record>,
    /// Breaker events waiting to be stored with the next records.
    outbox: Vec<Record>,
    settings: WriterSettings,
    status: watch::Sender<WriterStatus>,
    drain_now: Arc<Notify>,
    /// Appending to the spool failing, and memory overflowing.
    spool_trouble: Episode,
    memory_trouble: Episode,
    /// Saving the drain position failing (the position still moves in memory).
    offset_trouble: Episode,
}

/// How a drain of the spool ended, when it did not fail.
enum Drained {
    /// The drain position reached the end.
    Empty,
    /// The records' senders are gone (the bridge is stopping): the rest waits for next time.
    Stopping,
}

/// A channel to the writer.
pub fn channel() -> (RecordSender, RecordReceiver) {
    mpsc::unbounded_channel()
}

impl Writer {
    /// A writer over `spool`. Records an earlier run left in it (it stopped while the
    /// database was away) start the breaker open, so they are drained first.
    pub fn new(
        sink: Arc<dyn Sink>,
        spool: (Spool, super::spool::Opened),
        settings: WriterSettings,
    ) -> Result<(Writer, watch::Receiver<WriterStatus>), SpoolError> {
        let (spool, opened) = spool;
        let waiting = spool.waiting()?;
        let (status, rx) = watch::channel(WriterStatus::default());
        let mut w = Writer {
            sink,
            spool,
            memory: VecDeque::new(),
            outbox: Vec::new(),
            spool_trouble: Episode::new(settings.report_every),
            memory_trouble: Episode::new(settings.report_every),
            offset_trouble: Episode::new(settings.report_every),
            settings,
            status,
            drain_now: Arc::new(Notify::new()),
        };
        if opened.torn_line_dropped {
            w.event(
                LogStatus::Warning,
                format!(
                    "the spool {} ended in a torn line (a crash mid-append): 1 line dropped",
                    w.spool.path().display()
                ),
            );
        }
        if !w.spool.is_drained() {
            w.status.send_modify(|s| {
                s.breaker = Breaker::Open;
                s.spooled = waiting;
            });
            w.event(LogStatus::Warning, format!("the spool {} holds {waiting} records from an earlier run: circuit breaker open until they are stored", w.spool.path().display()));
        }
        Ok((w, rx))
    }

    /// Notifying it makes an open breaker try to drain at once (the schema just became ready,
    /// say) rather than at the next interval.
    pub fn drain_trigger(&self) -> Arc<Notify> {
        self.drain_now.clone()
    }

    fn is_open(&self) -> bool {
        self.status.borrow().breaker == Breaker::Open
    }

    /// A breaker event: logged now, stored as an `api_logs` record with the next records.
    fn event(&mut self, status: LogStatus, message: String) {
        match status {
            LogStatus::Ok => info!(api_mode = "BRIDGE", "{message}"),
            LogStatus::Warning => warn!(api_mode = "BRIDGE", "{message}"),
            LogStatus::Error => error!(api_mode = "BRIDGE", "{message}"),
        }
        let entry = ApiLogEntry::new(Timestamp::now(), ApiMode::Bridge, status, message);
        self.outbox
            .push(Record::api_log(&self.settings.bridge, &entry));
    }

    /// Runs until every sender is gone, then keeps what is still in memory as well as it can.
    pub async fn run(mut self, mut rx: RecordReceiver) {
        let mut drain = tokio::time::interval(self.settings.flush_interval);
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let trigger = self.drain_now.clone();
        loop {
            let pending = self.is_open() || !self.memory.is_empty();
            tokio::select! {
                // Records first: once their senders are gone the bridge is stopping, and no
                // drain should start then.
                biased;
                batch = rx.recv() => match batch {
                    Some(mut records) => {
                        while let Ok(more) = rx.try_recv() {
                            records.extend(more);
                        }
                        self.accept(records).await;
                        if !pending && self.is_open() {
                            // Just opened: the next drain is a full interval away, not at once.
                            drain.reset();
                        }
                    }
                    None => break,
                },
                _ = drain.tick(), if pending => self.drain(Some(&mut rx)).await,
                _ = trigger.notified(), if pending => self.drain(Some(&mut rx)).await,
            }
        }
        self.accept(Vec::new()).await;
        if !self.memory.is_empty() {
            error!(
                "stopping with {} records only in memory: the spool could not take them; they are lost",
                self.memory.len()
            );
        }
    }

    /// Stores `records` (and pending events), or puts them in line if that cannot be done.
    async fn accept(&mut self, mut records: Vec<Record>) {
        self.report_due();
        records.append(&mut self.outbox);
        if records.is_empty() && self.memory.is_empty() {
            return;
        }
        if !self.is_open() {
            match self.store(&records).await {
                Ok(()) => return,
                Err(e) => {
                    self.status.send_modify(|s| s.breaker = Breaker::Open);
                    self.event(LogStatus::Error, format!("writing to PostgreSQL failed ({e}): circuit breaker opened, records go to the spool {}", self.spool.path().display()));
                    records.append(&mut self.outbox);
                }
            }
        }
        self.keep(records);
    }

    async fn store(&self, records: &[Record]) -> Result<(), String> {
        let result = self.sink.store(records).await;
        self.stored(records.len(), &result);
        result
    }

    fn stored(&self, count: usize, result: &Result<(), String>) {
        match result {
            Ok(()) => self.status.send_modify(|s| s.stored += count as u64),
            Err(e) => self.status.send_modify(|s| s.last_error = Some(e.clone())),
        }
    }

    /// Puts `records` at the end of the line: memory first goes back into the spool, then
    /// they follow; if the spool cannot be written, they wait in memory.
    fn keep(&mut self, mut records: Vec<Record>) {
        records.append(&mut self.outbox);
        if records.is_empty() && self.memory.is_empty() {
            return;
        }
        let waiting = self.memory.len();
        let all: Vec<Record> = self.memory.drain(..).chain(records).collect();
        let result = self.spool.append(&all);
        let now = Timestamp::now();
        match result {
            Ok(()) => {
                let count = all.len();
                self.status.send_modify(|s| s.spooled += count);
                if let Some(notice) = self.spool_trouble.succeeded(now) {
                    self.report_spool(notice);
                }
                if waiting > 0 {
                    info!("{waiting} records moved from memory to the spool");
                }
            }
            Err(e) => {
                self.memory.extend(all);
                if let Some(notice) = self.spool_trouble.failed(now, &e.to_string()) {
                    self.report_spool(notice);
                }
            }
        }
        self.limit_memory(now);
        self.publish();
    }

    /// Drops the oldest records in memory beyond its limit, counting them; ends the memory
    /// trouble once nothing more is dropped.
    fn limit_memory(&mut self, now: Timestamp) {
        let over = self.memory.len().saturating_sub(self.settings.memory_limit);
        let notice = if over > 0 {
            self.memory.drain(..over);
            self.status.send_modify(|s| s.dropped += over as u64);
            let dropped = self.status.borrow().dropped;
            self.memory_trouble
                .failed(now, &format!("{dropped} records dropped since start"))
        } else {
            self.memory_trouble.succeeded(now)
        };
        if let Some(notice) = notice {
            self.report_memory(notice);
        }
    }

    /// Everything waiting was stored: the spool's troubles are over, whether or not it could be
    /// written in the meantime, since nothing needs it any more.
    fn line_emptied(&mut self) {
        let now = Timestamp::now();
        if let Some(n) = self.spool_trouble.succeeded(now) {
            self.report_spool(n);
        }
        if let Some(n) = self.offset_trouble.succeeded(now) {
            self.report_offset(n);
        }
        self.limit_memory(now);
    }

    /// Summaries of troubles that changed more often than they could be reported.
    fn report_due(&mut self) {
        let now = Timestamp::now();
        if let Some(n) = self.spool_trouble.due(now) {
            self.report_spool(n);
        }
        if let Some(n) = self.memory_trouble.due(now) {
            self.report_memory(n);
        }
        if let Some(n) = self.offset_trouble.due(now) {
            self.report_offset(n);
        }
    }

    fn report_spool(&mut self, notice: Notice) {
        let path = self.spool.path().display().to_string();
        let limit = self.settings.memory_limit;
        let (status, message) = match notice {
            Notice::Began { error } => (
                LogStatus::Error,
                format!(
                    "{error}: records wait in memory (at most {limit}; beyond that the oldest are \
                     dropped) and go back into the spool as soon as it can be written"
                ),
            ),
            Notice::Flapping {
                failures,
                recoveries,
                error,
            } => (
                LogStatus::Error,
                format!(
                    "the spool {path} still cannot be written reliably: {failures} failures and \
                     {recoveries} recoveries since the last report; now: {error}"
                ),
            ),
            Notice::Ended {
                since,
                failures,
                recoveries,
            } => (
                LogStatus::Ok,
                format!(
                    "no record waits in memory any more: the spool {path} took them or they were \
                     stored (it could not be written since {since}; {failures} failures and \
                     {recoveries} recoveries since the last report)"
                ),
            ),
        };
        self.event(status, message);
    }

    fn report_memory(&mut self, notice: Notice) {
        let limit = self.settings.memory_limit;
        let (status, message) = match notice {
            Notice::Began { error } | Notice::Flapping { error, .. } => (
                LogStatus::Error,
                format!(
                    "memory is full too: the oldest records are dropped to keep {limit} ({error})"
                ),
            ),
            Notice::Ended { since, .. } => (
                LogStatus::Warning,
                format!(
                    "records are no longer dropped (dropping since {since}; {} dropped since start)",
                    self.status.borrow().dropped
                ),
            ),
        };
        self.event(status, message);
    }

    fn report_offset(&mut self, notice: Notice) {
        let (status, message) = match notice {
            Notice::Began { error } | Notice::Flapping { error, .. } => (
                LogStatus::Warning,
                format!(
                    "the drain position cannot be saved ({error}); the drain goes on, and a \
                     crash now would replay records already stored (stored once all the same)"
                ),
            ),
            Notice::Ended { .. } => (
                LogStatus::Ok,
                "the drain position can be saved again".to_owned(),
            ),
        };
        self.event(status, message);
    }

    fn publish(&self) {
        let in_memory = self.memory.len();
        self.status.send_modify(|s| s.in_memory = in_memory);
    }

    /// Stores everything waiting, oldest first — the spool, then memory — and closes the
    /// breaker once both are empty. Stops at the first failure, leaving the rest for next time.
    /// Records arriving on `incoming` meanwhile join the line at once.
    async fn drain(&mut self, incoming: Option<&mut RecordReceiver>) {
        self.report_due();
        let waiting = self.status.borrow().spooled + self.memory.len();
        self.event(
            LogStatus::Warning,
            format!("drain attempted: {waiting} records waiting"),
        );
        // Memory goes back into the spool if it can; the event waits in line, so it is stored
        // by this drain too.
        self.keep(Vec::new());

        let mut drained = 0usize;
        match self.drain_spool(&mut drained, incoming, &mut |_| {}).await {
            Ok(Drained::Empty) => {}
            Ok(Drained::Stopping) => {
                // The bridge is stopping: the rest waits, kept, for the next start.
                self.event(
                    LogStatus::Warning,
                    format!("drain paused after {drained} records: the bridge is stopping"),
                );
                self.keep(Vec::new());
                return;
            }
            Err(e) => {
                self.event(
                    LogStatus::Error,
                    format!("drain stopped after {drained} records: {e}"),
                );
                self.keep(Vec::new());
                return;
            }
        }
        // The spool is drained; what memory holds is newer than all of it.
        while !self.memory.is_empty() {
            let n = self.memory.len().min(self.settings.batch);
            let batch: Vec<Record> = self.memory.iter().take(n).cloned().collect();
            if let Err(e) = self.store(&batch).await {
                self.event(
                    LogStatus::Error,
                    format!("drain stopped after {drained} records: {e}"),
                );
                self.keep(Vec::new());
                return;
            }
            self.memory.drain(..n);
            drained += n;
            self.publish();
        }
        if let Err(e) = self.spool.clear() {
            // The position stands at the end, so nothing waits; the file is emptied next time.
            warn!("the drained spool could not be emptied: {e}");
        }
        self.status.send_modify(|s| {
            s.breaker = Breaker::Closed;
            s.spooled = 0;
            s.last_error = None;
        });
        self.line_emptied();
        self.publish();
        self.event(
            LogStatus::Ok,
            format!("{drained} records drained: circuit breaker closed"),
        );
        // Closed now: the events go straight to the database with the next records.
    }

    /// Stores the spool's records from its drain position on, moving the position after each
    /// committed batch, until the position reaches the end; `progress` hears the running count.
    /// While a batch is being stored, records from `incoming` are put in line (appended); once
    /// `incoming` closes (the bridge is stopping) it finishes that batch and stops.
    async fn drain_spool(
        &mut self,
        drained: &mut usize,
        mut incoming: Option<&mut RecordReceiver>,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Drained, String> {
        let mut stopping = false;
        let max = self.settings.batch;
        // The batch after the one being stored, read and parsed on another thread meanwhile:
        // parsing is the drain's own work, and PostgreSQL need not wait for it.
        let mut ahead: Option<tokio::task::JoinHandle<Result<Batch, SpoolError>>> = None;
        loop {
            if stopping {
                return Ok(Drained::Stopping);
            }
            let offset = self.spool.offset();
            let batch = match ahead.take() {
                Some(read) => read.await.map_err(|e| e.to_string())?,
                None => self.spool.read(offset, max),
            }
            .map_err(|e| e.to_string())?;
            if batch.next == offset {
                return Ok(Drained::Empty);
            }
            if batch.next < self.spool.end() {
                let reader = self.spool.reader().map_err(|e| e.to_string())?;
                let from = batch.next;
                ahead = Some(tokio::task::spawn_blocking(move || reader.read(from, max)));
            }
            if !batch.records.is_empty() {
                let sink = self.sink.clone();
                let store = sink.store(&batch.records);
                tokio::pin!(store);
                let result = loop {
                    let Some(rx) = incoming.as_deref_mut() else {
                        break store.await;
                    };
                    tokio::select! {
                        result = &mut store => break result,
                        more = rx.recv() => match more {
                            Some(records) => self.keep(records),
                            None => {
                                incoming = None;
                                stopping = true;
                            }
                        },
                    }
                };
                self.stored(batch.records.len(), &result);
                result?;
                failpoint::hit("spool.drain.after_commit");
            }
            // Only once the batch is stored, so a failed attempt does not copy them again.
            if !batch.unreadable.is_empty() {
                let n = batch.unreadable.len();
                let rejects = format!("{}.rejects", self.spool.path().display());
                let message = match self.spool.reject(&batch.unreadable) {
                    Ok(()) => format!("{n} unreadable spool lines moved to {rejects}"),
                    // A full disk must not hold the drain up: the lines go to the process log.
                    Err(e) => format!(
                        "{n} unreadable spool lines could not be moved to {rejects} ({e}); they \
                         are skipped, and here they are: {:?}",
                        batch.unreadable
                    ),
                };
                self.event(LogStatus::Error, message);
            }
            let saved = self.spool.set_offset(batch.next);
            let now = Timestamp::now();
            let notice = match saved {
                Ok(()) => self.offset_trouble.succeeded(now),
                Err(e) => self.offset_trouble.failed(now, &e.to_string()),
            };
            if let Some(notice) = notice {
                self.report_offset(notice);
            }
            *drained += batch.records.len();
            let count = batch.records.len();
            self.status
                .send_modify(|s| s.spooled = s.spooled.saturating_sub(count));
            progress(*drained);
        }
    }

    /// Drains the spool once, as `portfolio-bridge spool drain` does: how many records were
    /// stored; `progress` hears the running count after each batch.
    pub async fn drain_now(
        &mut self,
        mut progress: impl FnMut(usize) + Send,
    ) -> Result<usize, String> {
        let mut drained = 0;
        let result = self.drain_spool(&mut drained, None, &mut progress).await;
        // Without incoming records there is no stopping half-way: it drained to the end.
        let result = result.and_then(|_| self.spool.clear().map_err(|e| e.to_string()));
        match &result {
            Ok(()) => self.event(
                LogStatus::Ok,
                format!("{drained} records drained by `portfolio-bridge spool drain`"),
            ),
            Err(e) => self.event(
                LogStatus::Error,
                format!("`portfolio-bridge spool drain` stopped after {drained} records: {e}"),
            ),
        }
        // The events (rejects included) are api_logs rows like any other; they were logged
        // already if the database will not take them either.
        let events = std::mem::take(&mut self.outbox);
        if let Err(e) = self.store(&events).await {
            warn!("the drain's api_logs events could not be stored: {e}");
        }
        result.map(|()| drained)
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
