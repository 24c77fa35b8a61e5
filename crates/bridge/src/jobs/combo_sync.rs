//! `combo_positions.sync`, the first spec's `sync_combo_positions_once`: makes sure the Client
//! Portal session can read the portfolio (tickle, auth status, `ssodh/init` if that mends it),
//! reads `/portfolio/accounts` and every account's
//! `/portfolio/{accountId}/combo/positions?nocache=true`, and stores the combos with their legs —
//! one transaction per account (accounts read, then written, concurrently), replace semantics (a
//! combo no longer reported is marked stale, a leg no longer in its combo is removed), nothing
//! written when nothing changed. Stored combos are compared by content hash
//! ([`crate::domain::combo_hash`]); only those whose hash differs are read in full.
//!
//! The combo tables are checked first ([`schema::check_combo_tables_ready`]): a table that
//! cannot serve the sync fails the job for good, with what is wrong.
//!
//! All accounts are read and checked before anything is written: a missing login, an
//! unreachable gateway or a malformed combo fails the job with nothing changed, the error
//! naming the account and the combo and the job's result keeping the payload. Account codes
//! in errors and results are masked (`DU…567`): the read API shows jobs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::task::JoinSet;
use tracing::debug;

use super::{COMBO_POSITIONS_SYNC, Handler, JobError, JobFuture};
use crate::domain::combo::{self, Combo, ComboFields, Figures, LegFields, Snapshot};
use crate::domain::ids::AccountCode;
use crate::domain::portfolio::RawPayload;
use crate::ibkr::portal::{PortalClient, PortalError, SessionState, session, wire};
use crate::store::jobs::Claimed;
use crate::store::{StoreError, accounts, combos, schema};

pub struct ComboSync {
    pub pool: PgPool,
    pub client: PortalClient,
}

/// What a sync did, stored as the job's result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncMetrics {
    pub accounts: usize,
    pub combos_seen: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub marked_stale: usize,
    pub legs_written: usize,
    pub legs_removed: usize,
    /// Combos whose own row was written for its content hash only (a leg changed, or the
    /// hash was missing).
    pub hashes_stored: usize,
    /// Every row inserted, updated or deleted, in both tables.
    pub rows_written: usize,
}

impl SyncMetrics {
    fn add(&mut self, o: SyncMetrics) {
        self.combos_seen += o.combos_seen;
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.marked_stale += o.marked_stale;
        self.legs_written += o.legs_written;
        self.legs_removed += o.legs_removed;
        self.hashes_stored += o.hashes_stored;
        self.rows_written += o.rows_written;
    }

    pub fn to_json(self, duration: Duration) -> Value {
        json!({
            "accounts": self.accounts,
            "combos_seen": self.combos_seen,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "marked_stale": self.marked_stale,
            "legs_written": self.legs_written,
            "legs_removed": self.legs_removed,
            "hashes_stored": self.hashes_stored,
            "rows_written": self.rows_written,
            "duration_ms": duration.as_millis() as u64,
        })
    }
}

/// `text` with the account's code masked.
fn mask(text: &str, account: &AccountCode) -> String {
    text.replace(account.as_str(), &account.masked())
}

/// A combo in the domain's terms: its figures derived from its legs, its key from the
/// account and the legs' `conid:ratio` set. A combo that cannot be stored gives its raw
/// payload back with the reason, for the job's result.
fn to_domain(
    account: &AccountCode,
    c: wire::Combo,
) -> Result<Combo, (combo::ComboError, RawPayload)> {
    let fields = ComboFields {
        name: c.name,
        description: c.description,
        figures: Figures::default(),
        raw: c.raw.clone(),
    };
    let legs = c
        .legs
        .into_iter()
        .map(|l| {
            let figures = Figures {
                position: l.position,
                avg_price: l.avg_price,
                market_value: l.values.market_value,
                unrealized_pnl: l.values.unrealized_pnl,
                realized_pnl: l.values.realized_pnl,
            };
            let fields = LegFields {
                ratio: l.ratio,
                figures,
                raw: l.raw,
            };
            (l.conid, fields)
        })
        .collect();
    Combo::new(account, fields, legs).map_err(|e| (e, c.raw))
}

impl ComboSync {
    /// Fails unless the gateway says the portfolio endpoints can be read now (asked, not
    /// taken from the keeper's last look, which may be a minute old).
    async fn ensure_session(&self) -> Result<(), JobError> {
        let verdict = session::probe(&self.client).await;
        match verdict.state {
            SessionState::Authenticated | SessionState::Competing => Ok(()),
            SessionState::ReauthRequired => Err(JobError::permanent(verdict.message)),
            _ => Err(JobError::transient(format!(
                "the Client Portal session is not usable: {}",
                verdict.message
            ))),
        }
    }

    /// Every account's combos, checked; nothing is written here. Accounts are read at once
    /// (the client's pacer keeps the gateway's limits); errors are reported in account order.
    async fn read_all(&self) -> Result<BTreeMap<AccountCode, Snapshot>, JobError> {
        let accounts =
            self.client.accounts().await.map_err(|e| {
                JobError::from_portal(&e, format!("reading /portfolio/accounts: {e}"))
            })?;
        let mut reads = JoinSet::new();
        for account in accounts {
            reads.spawn(read_account(self.client.clone(), account.code));
        }
        let mut results = BTreeMap::new();
        while let Some(done) = reads.join_next().await {
            let (code, result) = done.map_err(|e| JobError::transient(e.to_string()))?;
            results.insert(code, result);
        }
        results
            .into_iter()
            .map(|(code, result)| result.map(|combos| (code, combos)))
            .collect()
    }

    pub async fn sync(&self) -> Result<Value, JobError> {
        let started = Instant::now();
        // Two catalog reads: a table altered under the running bridge fails the job with
        // what is wrong, for good, instead of a raw SQL error retried as if it could pass.
        schema::check_combo_tables_ready(&self.pool)
            .await
            .map_err(|e| match e {
                StoreError::Schema(e) => JobError::permanent(e.to_string()),
                other => JobError::transient(other.to_string()),
            })?;
        self.ensure_session().await?;
        let all = self.read_all().await?;
        let mut m = SyncMetrics {
            accounts: all.len(),
            ..SyncMetrics::default()
        };
        // At once: an account's database work overlaps another's planning. (Unchanged combos
        // are known by their hashes, so no account loads payloads it does not need.) Errors
        // are reported in account order.
        let mut writes = JoinSet::new();
        for (account, snapshot) in all {
            writes.spawn(write_account(self.pool.clone(), account, snapshot));
        }
        let mut results = BTreeMap::new();
        while let Some(done) = writes.join_next().await {
            let (account, result) = done.map_err(|e| JobError::transient(e.to_string()))?;
            results.insert(account, result);
        }
        for result in results.into_values() {
            m.add(result?);
        }
        Ok(m.to_json(started.elapsed()))
    }
}

/// One account's combos from the gateway, checked.
async fn read_account(
    client: PortalClient,
    code: AccountCode,
) -> (AccountCode, Result<Snapshot, JobError>) {
    let label = code.masked();
    let reported = match client.combo_positions(&code).await {
        Ok(reported) => reported,
        Err(e) => {
            let mut err = JobError::from_portal(&e, mask(&format!("account {label}: {e}"), &code));
            if let (
                PortalError::UnexpectedPayload { raw, .. },
                JobError::Permanent { result, .. },
            ) = (&e, &mut err)
            {
                *result = Some(json!({"account": label, "raw": mask(raw, &code)}));
            }
            return (code, Err(err));
        }
    };
    let checked = snapshot(&code, reported);
    (code, checked)
}

/// One account's reported combos, checked and hashed: what a sync compares with the
/// database. An error names the account (masked) and the combo, and keeps its payload.
pub fn snapshot(code: &AccountCode, reported: Vec<wire::Combo>) -> Result<Snapshot, JobError> {
    let label = code.masked();
    let mut checked = Vec::with_capacity(reported.len());
    for c in reported {
        let name = c.name.clone().unwrap_or_else(|| "(unnamed)".into());
        match to_domain(code, c) {
            Ok(combo) => checked.push(combo),
            Err((e, raw)) => {
                return Err(JobError::Permanent {
                    message: format!("account {label}, combo {name}: {e}"),
                    result: Some(json!({
                        "account": label,
                        "combo": name,
                        "raw": mask(raw.as_str(), code),
                    })),
                });
            }
        }
    }
    // Two combos with one key cannot both be stored: refuse before writing anything.
    Snapshot::new(checked).map_err(|e| JobError::permanent(format!("account {label}: a combo {e}")))
}

/// Writes one account's snapshot in one transaction; what it did.
async fn write_account(
    pool: PgPool,
    account: AccountCode,
    snapshot: Snapshot,
) -> (AccountCode, Result<SyncMetrics, JobError>) {
    let result = async {
        let label = account.masked();
        let mut tx = pool.begin().await?;
        let account_id = accounts::lock(&mut tx, &account, "combos").await?;
        // Hashes first; payloads only of the combos whose hash says they changed.
        let stored = combos::load_hashes(&mut tx, account_id).await?;
        let ids = combo::to_compare(&stored, &snapshot);
        let compared = combos::load(&mut tx, account_id, &ids).await?;
        debug!(account = %label, stored = stored.len(), compared = compared.len(), "combos loaded");
        let plan = combo::plan(&stored, &compared, &snapshot);
        combos::apply(&mut tx, account_id, &plan).await?;
        tx.commit().await?;
        debug!(account = %label, rows = plan.rows_written(), "combos written");
        Ok(SyncMetrics {
            accounts: 0,
            combos_seen: snapshot.len(),
            inserted: plan.insert.len(),
            updated: plan.changed,
            unchanged: plan.unchanged,
            marked_stale: plan.mark_stale.len(),
            legs_written: plan.legs_written(),
            legs_removed: plan.remove_legs.len(),
            hashes_stored: plan.rehash.len(),
            rows_written: plan.rows_written(),
        })
    }
    .await;
    (account, result)
}

impl Handler for ComboSync {
    fn job_type(&self) -> &'static str {
        COMBO_POSITIONS_SYNC
    }

    fn run<'a>(&'a self, _job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(self.sync())
    }
}
