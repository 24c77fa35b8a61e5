//! `greeks.history`: keeps the greeks history fast however long the bridge runs. Makes the
//! coming days' partitions of `portfolio_greeks` ahead, rolls the new 5-second rows up into
//! 1-minute rows, and drops the 5-second rows older than `GREEKS_RAW_RETENTION_DAYS` — never
//! one whose minute is not rolled up yet (`store::history`).
//!
//! It is about the database only: any bridge's worker runs it, and one run serves every
//! bridge sharing the database. It never touches the gateway.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use sqlx::PgPool;

use super::{GREEKS_HISTORY, Handler, JobError, JobFuture};
use crate::store::jobs::Claimed;
use crate::store::{history, partitions};

pub struct GreeksHistory {
    pub pool: PgPool,
    /// How long 5-second rows are kept; `None`: for good.
    pub raw_retention: Option<Duration>,
}

impl GreeksHistory {
    async fn run_once(&self, now: Timestamp) -> Result<serde_json::Value, JobError> {
        let made = partitions::make_days(
            &self.pool,
            &partitions::days_to_make(partitions::utc_day(now)),
        )
        .await?;
        let rolled = history::roll_up_pending(&self.pool).await?;
        let dropped = match self.raw_retention.and_then(|r| now.checked_sub(r).ok()) {
            Some(keep_from) => history::drop_raw_before(&self.pool, keep_from).await?,
            None => history::Dropped::default(),
        };
        Ok(json!({
            "partitions_made": made,
            "minutes_rolled_up": rolled.minutes,
            "partitions_dropped": dropped.partitions,
            "rows_deleted": dropped.rows,
        }))
    }
}

impl Handler for GreeksHistory {
    fn job_type(&self) -> &'static str {
        GREEKS_HISTORY
    }

    fn run<'a>(&'a self, _job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(self.run_once(Timestamp::now()))
    }
}
