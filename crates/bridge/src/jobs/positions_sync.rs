//! `positions.sync`: the active source's legs → `positions`, one row per account and conid,
//! replacing each account's rows (a closed leg disappears).
//!
//! Inside `portfolio-bridge run` the legs come from the live portfolio the source keeps
//! current, and only once the source has delivered all of them since it last connected: a
//! feed that is down or still loading fails the attempt rather than wipe the table. A
//! standalone worker in PORTAL mode reads them from the Client Portal itself. Every account's
//! legs are read before any is written. With `IBKR_CP_ENABLED=true`, a successful sync
//! enqueues `combo_positions.sync`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use sqlx::PgPool;

use super::{COMBO_POSITIONS_SYNC, Handler, JobError, JobFuture, POSITIONS_SYNC};
use crate::domain::contract::{Contract, SecType};
use crate::domain::ids::{AccountCode, BridgeName};
use crate::domain::portfolio::{Leg, LegValues, Portfolio, RawPayload, SharedPortfolio};
use crate::ibkr::portal::{PortalClient, PortalError};
use crate::store::jobs::{self as queue, Enqueued, NewJob};
use crate::store::positions::{self, PositionRow};

/// Where the legs come from.
#[derive(Clone)]
pub enum LegSource {
    /// The portfolio the running source keeps current; `source` names it in the table
    /// (`tws` or `cpapi`).
    Live {
        portfolio: SharedPortfolio,
        source: &'static str,
    },
    /// A fresh read of the Client Portal's positions.
    Portal(PortalClient),
}

pub struct PositionsSync {
    pub pool: PgPool,
    pub legs: LegSource,
    /// Enqueue `combo_positions.sync` for this bridge after each success.
    pub then_combos: Option<BridgeName>,
}

/// Every account's rows from a portfolio whose legs are complete.
pub fn rows_from_portfolio(
    p: &Portfolio,
) -> Result<BTreeMap<AccountCode, Vec<PositionRow>>, JobError> {
    let health = p.health();
    if !health.connected {
        return Err(JobError::transient(format!(
            "the IBKR feed is down ({}): positions not synced; the stored ones stay as they were",
            health.message
        )));
    }
    if p.positions_complete().is_none() || p.accounts().is_empty() {
        return Err(JobError::transient(
            "the IBKR feed has not delivered every position since it connected: positions not \
             synced yet",
        ));
    }
    Ok(p.accounts()
        .iter()
        .map(|account| {
            let rows = p
                .account_legs(account)
                .map(|leg| PositionRow {
                    contract: p.contract(leg.conid).cloned().unwrap_or_else(|| {
                        Contract::new(
                            leg.conid,
                            leg.conid.to_string(),
                            SecType::Other(String::new()),
                        )
                    }),
                    quantity: leg.quantity,
                    values: leg_values(leg),
                    raw: leg.raw.clone(),
                })
                .collect();
            (account.clone(), rows)
        })
        .collect())
}

fn leg_values(leg: &Leg) -> LegValues {
    LegValues {
        avg_cost: leg.avg_cost,
        market_price: leg.market_price,
        market_value: leg.market_value,
        unrealized_pnl: leg.unrealized_pnl,
        realized_pnl: leg.realized_pnl,
    }
}

async fn rows_from_portal(
    client: &PortalClient,
) -> Result<BTreeMap<AccountCode, Vec<PositionRow>>, JobError> {
    let fail = |e: PortalError| {
        let message = format!("reading positions from the Client Portal: {e}");
        JobError::from_portal(&e, message)
    };
    let mut out = BTreeMap::new();
    for account in client.accounts().await.map_err(fail)? {
        let rows = client.positions(&account.code, true).await.map_err(|e| {
            let message = format!("account {}: {e}", account.code.masked())
                .replace(account.code.as_str(), &account.code.masked());
            JobError::from_portal(&e, message)
        })?;
        // Pages can shift while they are read: a conid seen twice is kept once, the last time.
        let by_conid: BTreeMap<_, _> = rows
            .into_iter()
            .map(|r| {
                let row = PositionRow {
                    contract: r.contract,
                    quantity: r.quantity,
                    values: r.values,
                    raw: Some(RawPayload::new(&r.raw)),
                };
                (row.contract.conid, row)
            })
            .filter(|(_, r)| r.quantity != 0.0)
            .collect();
        out.insert(account.code, by_conid.into_values().collect());
    }
    Ok(out)
}

impl PositionsSync {
    async fn sync(&self) -> Result<Value, JobError> {
        let started = Instant::now();
        let (snapshot, source) = match &self.legs {
            LegSource::Live { portfolio, source } => {
                (portfolio.read(rows_from_portfolio)?, *source)
            }
            LegSource::Portal(client) => (rows_from_portal(client).await?, "cpapi"),
        };
        let (mut written, mut removed) = (0, 0);
        for (account, rows) in &snapshot {
            let done = positions::replace_account(&self.pool, account, rows, source).await?;
            written += done.written;
            removed += done.removed;
        }
        let mut result = json!({
            "source": source,
            "accounts": snapshot.len(),
            "legs_written": written,
            "legs_removed": removed,
            "duration_ms": started.elapsed().as_millis() as u64,
        });
        if let Some(bridge) = &self.then_combos {
            let job = NewJob::new(COMBO_POSITIONS_SYNC, POSITIONS_SYNC).for_bridge(bridge);
            let id = match queue::enqueue(&self.pool, &job).await? {
                Enqueued::Created(id) | Enqueued::AlreadyActive(id) => id,
            };
            result["combo_positions_sync_job"] = json!(id);
        }
        Ok(result)
    }
}

impl Handler for PositionsSync {
    fn job_type(&self) -> &'static str {
        POSITIONS_SYNC
    }

    fn run<'a>(&'a self, _job: &'a queue::Claimed) -> JobFuture<'a> {
        Box::pin(self.sync())
    }
}
