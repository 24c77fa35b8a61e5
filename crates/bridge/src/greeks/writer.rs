//! Writer: stores records (greeks rows and `api_logs` entries) in PostgreSQL behind a circuit
//! breaker, so that neither a slow nor a dead database ever holds up the ticker or a source.
//!
//! - Closed: each batch goes straight to the database (one transaction, keys deduplicated).
//! - A failed write opens the breaker: that batch and every later one go to the spool —
//!   appended and flushed to disk before they count as kept — so order is kept.
//! - Every `BUFFER_FLUSH_INTERVAL_SECONDS` while open, the spool is drained oldest first in
//!   batches, each batch committed before the drain position moves; when it is empty the
//!   breaker closes. Replays after a crash are stored once thanks to the keys.
//! - If the spool cannot be written (disk full, permissions), records wait in memory, at most
//!   [`WriterSettings::memory_limit`] of them; beyond that the oldest are dropped and every drop
//!   is logged with its count.
//!
//! Each breaker event is itself an `api_logs` record, stored the same way (spooled while the
//! database is down). The writer is the spool's only user while the bridge runs.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, watch};
use tracing::{error, info, warn};

use super::record::Record;
use super::sink::Sink;
use super::spool::{Spool, SpoolError};
use crate::domain::api_log::{ApiLogEntry, ApiMode, LogStatus};
use crate::failpoint;

/// How records reach the writer; never blocks the sender.
pub type RecordSender = mpsc::UnboundedSender<Vec<Record>>;

#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// How often an open breaker tries to drain.
    pub flush_interval: Duration,
    /// Records per database transaction while draining.
    pub batch: usize,
    /// Records kept in memory at most while the spool cannot be written.
    pub memory_limit: usize,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            flush_interval: Duration::from_secs(60),
            batch: 5000,
            memory_limit: 200_000,
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
    path: PathBuf,
    spool: Option<Spool>,
    /// Why the spool cannot be used, while it cannot.
    spool_problem: Option<String>,
    memory: VecDeque<Record>,
    /// Breaker events waiting to be stored with the next records.
    outbox: Vec<Record>,
    settings: WriterSettings,
    status: watch::Sender<WriterStatus>,
    drain_now: Arc<Notify>,
}

/// A channel to the writer.
pub fn channel() -> (RecordSender, mpsc::UnboundedReceiver<Vec<Record>>) {
    mpsc::unbounded_channel()
}

impl Writer {
    /// A writer over the spool at `path`. A spool left with records (an earlier run stopped
    /// while the database was away) starts the breaker open, so they are drained first.
    pub fn new(
        sink: Arc<dyn Sink>,
        path: PathBuf,
        settings: WriterSettings,
    ) -> (Writer, watch::Receiver<WriterStatus>) {
        let (status, rx) = watch::channel(WriterStatus::default());
        let mut w = Writer {
            sink,
            path,
            spool: None,
            spool_problem: None,
            memory: VecDeque::new(),
            outbox: Vec::new(),
            settings,
            status,
            drain_now: Arc::new(Notify::new()),
        };
        w.open_spool();
        if let Some(spool) = &w.spool
            && !spool.is_drained()
        {
            let waiting = super::spool::status(spool.path())
                .ok()
                .flatten()
                .map_or(0, |s| s.rows);
            w.status.send_modify(|s| {
                s.breaker = Breaker::Open;
                s.spooled = waiting;
            });
            w.event(LogStatus::Warning, format!("the spool {} holds {waiting} records from an earlier run: circuit breaker open until they are stored", w.path.display()));
        }
        (w, rx)
    }

    /// Notifying it makes an open breaker try to drain at once (the schema just became ready,
    /// say) rather than at the next interval.
    pub fn drain_trigger(&self) -> Arc<Notify> {
        self.drain_now.clone()
    }

    fn is_open(&self) -> bool {
        self.status.borrow().breaker == Breaker::Open
    }

    fn open_spool(&mut self) {
        match Spool::open(&self.path) {
            Ok((spool, opened)) => {
                if opened.torn_line_dropped {
                    self.event(LogStatus::Warning, format!("the spool {} ended in a torn line (a crash mid-append): 1 line dropped", self.path.display()));
                }
                if self.spool_problem.take().is_some() {
                    self.event(
                        LogStatus::Ok,
                        format!("the spool {} can be written again", self.path.display()),
                    );
                }
                self.spool = Some(spool);
            }
            Err(e) => self.spool_failed(e),
        }
    }

    fn spool_failed(&mut self, e: SpoolError) {
        self.spool = None;
        let message = format!(
            "{e}: records wait in memory (at most {}; beyond that the oldest are dropped)",
            self.settings.memory_limit
        );
        if self.spool_problem.as_deref() != Some(message.as_str()) {
            error!("{message}");
            self.spool_problem = Some(message.clone());
            self.event(LogStatus::Error, message);
        }
    }

    /// A breaker event: logged now, stored as an `api_logs` record with the next records.
    fn event(&mut self, status: LogStatus, message: String) {
        match status {
            LogStatus::Ok => info!(api_mode = "BRIDGE", "{message}"),
            LogStatus::Warning => warn!(api_mode = "BRIDGE", "{message}"),
            LogStatus::Error => error!(api_mode = "BRIDGE", "{message}"),
        }
        let entry = ApiLogEntry::new(Timestamp::now(), ApiMode::Bridge, status, message);
        self.outbox.push(Record::api_log(&entry));
    }

    /// Runs until every sender is gone, then keeps what is still in memory as well as it can.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Vec<Record>>) {
        let mut drain = tokio::time::interval(self.settings.flush_interval);
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let trigger = self.drain_now.clone();
        loop {
            let pending = self.is_open() || !self.memory.is_empty();
            tokio::select! {
                batch = rx.recv() => match batch {
                    Some(mut records) => {
                        while let Ok(more) = rx.try_recv() {
                            records.extend(more);
                        }
                        self.accept(records).await;
                    }
                    None => break,
                },
                _ = drain.tick(), if pending => self.drain().await,
                _ = trigger.notified(), if pending => self.drain().await,
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

    /// Stores `records` (and pending events), or keeps them in order if that cannot be done.
    async fn accept(&mut self, mut records: Vec<Record>) {
        records.append(&mut self.outbox);
        if records.is_empty() {
            return;
        }
        if !self.is_open() {
            // Records waiting in memory (the spool could not take them) go first.
            let mut all: Vec<Record> = self.memory.drain(..).collect();
            all.append(&mut records);
            match self.store(&all).await {
                Ok(()) => {
                    self.publish();
                    return;
                }
                Err(e) => {
                    self.status.send_modify(|s| s.breaker = Breaker::Open);
                    self.event(LogStatus::Error, format!("writing to PostgreSQL failed ({e}): circuit breaker opened, records go to the spool {}", self.path.display()));
                    all.append(&mut self.outbox);
                    records = all;
                }
            }
        }
        self.keep(records);
        self.publish();
    }

    async fn store(&self, records: &[Record]) -> Result<(), String> {
        let result = self.sink.store(records).await;
        match &result {
            Ok(()) => self
                .status
                .send_modify(|s| s.stored += records.len() as u64),
            Err(e) => self.status.send_modify(|s| s.last_error = Some(e.clone())),
        }
        result
    }

    /// Keeps `records` after everything already waiting: in the spool, else in memory.
    fn keep(&mut self, records: Vec<Record>) {
        if self.spool.is_none() && self.spool_problem.is_some() {
            self.open_spool();
        }
        let mut records = records;
        records.append(&mut self.outbox);
        if let Some(spool) = self.spool.as_mut() {
            let waiting: Vec<Record> = self.memory.drain(..).collect();
            let all: Vec<Record> = waiting.into_iter().chain(records).collect();
            let count = all.len();
            match spool.append(&all) {
                Ok(()) => {
                    self.status.send_modify(|s| s.spooled += count);
                    return;
                }
                Err(e) => {
                    records = all;
                    self.spool_failed(e);
                    records.append(&mut self.outbox);
                }
            }
        }
        self.memory.extend(records);
        let over = self.memory.len().saturating_sub(self.settings.memory_limit);
        if over > 0 {
            self.memory.drain(..over);
            self.status.send_modify(|s| s.dropped += over as u64);
            error!(
                "memory is full too: dropped the {over} oldest records (keeping {})",
                self.settings.memory_limit
            );
        }
    }

    fn publish(&self) {
        let in_memory = self.memory.len();
        self.status.send_modify(|s| s.in_memory = in_memory);
    }

    /// Stores everything waiting, oldest first, and closes the breaker if that empties the
    /// spool and memory. Stops at the first failure, leaving the rest for next time.
    async fn drain(&mut self) {
        let waiting = self.status.borrow().spooled + self.memory.len();
        self.event(
            LogStatus::Warning,
            format!("drain attempted: {waiting} records waiting"),
        );
        // The event itself waits in line, so it is stored by this drain too.
        let event = std::mem::take(&mut self.outbox);
        self.keep(event);

        let mut drained = 0usize;
        if let Some(mut spool) = self.spool.take() {
            let result = self
                .drain_spool(&mut spool, &mut drained, &mut |_| {})
                .await;
            self.spool = Some(spool);
            if let Err(e) = result {
                self.event(
                    LogStatus::Error,
                    format!("drain stopped after {drained} records: {e}"),
                );
                let events = std::mem::take(&mut self.outbox);
                self.keep(events);
                self.publish();
                return;
            }
        }
        while !self.memory.is_empty() {
            let n = self.memory.len().min(self.settings.batch);
            let batch: Vec<Record> = self.memory.iter().take(n).cloned().collect();
            if let Err(e) = self.store(&batch).await {
                self.event(
                    LogStatus::Error,
                    format!("drain stopped after {drained} records: {e}"),
                );
                self.publish();
                return;
            }
            self.memory.drain(..n);
            drained += n;
        }
        if let Some(spool) = self.spool.as_mut()
            && let Err(e) = spool.clear()
        {
            self.spool_failed(e);
            self.publish();
            return;
        }
        self.status.send_modify(|s| {
            s.breaker = Breaker::Closed;
            s.spooled = 0;
            s.last_error = None;
        });
        self.publish();
        self.event(
            LogStatus::Ok,
            format!("{drained} records drained: circuit breaker closed"),
        );
        // Closed now: the events go straight to the database with the next records.
    }

    /// Stores the spool's records from its drain position on, moving the position after each
    /// committed batch; `progress` hears the running count.
    async fn drain_spool(
        &mut self,
        spool: &mut Spool,
        drained: &mut usize,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<(), String> {
        let mut offset = spool.offset();
        loop {
            let batch = spool
                .read(offset, self.settings.batch)
                .map_err(|e| e.to_string())?;
            if batch.next == offset {
                return Ok(());
            }
            if !batch.unreadable.is_empty() {
                spool.reject(&batch.unreadable).map_err(|e| e.to_string())?;
                let n = batch.unreadable.len();
                self.event(
                    LogStatus::Error,
                    format!(
                        "{n} unreadable spool lines moved to {}.rejects",
                        spool.path().display()
                    ),
                );
            }
            if !batch.records.is_empty() {
                self.store(&batch.records).await?;
                failpoint::hit("spool.drain.after_commit");
            }
            spool.set_offset(batch.next).map_err(|e| e.to_string())?;
            offset = batch.next;
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
        let Some(mut spool) = self.spool.take() else {
            return Err(self
                .spool_problem
                .clone()
                .unwrap_or_else(|| "no spool".into()));
        };
        let mut drained = 0;
        let result = self
            .drain_spool(&mut spool, &mut drained, &mut progress)
            .await;
        let result = result.and_then(|()| spool.clear().map_err(|e| e.to_string()));
        self.spool = Some(spool);
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
