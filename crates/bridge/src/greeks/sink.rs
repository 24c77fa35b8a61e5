//! Sink: where the writer stores records — PostgreSQL in the bridge, something that can be
//! made to fail in tests. One call stores a batch whole or not at all.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

use super::record::Record;
use crate::store::{self, SchemaState};

pub type Stored<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub trait Sink: Send + Sync {
    /// Stores `records` in order, in one transaction; already-stored keys are skipped.
    fn store<'a>(&'a self, records: &'a [Record]) -> Stored<'a>;
}

/// PostgreSQL, with a time limit so a hung database fails fast instead of holding the writer.
pub struct PgSink {
    pub pool: PgPool,
    pub timeout: Duration,
    /// `Some` while the schema may still be being applied: a write waits (within `timeout`)
    /// for it to be ready rather than fail on a missing table, and says why it is not.
    pub schema: Option<watch::Receiver<SchemaState>>,
}

impl Sink for PgSink {
    fn store<'a>(&'a self, records: &'a [Record]) -> Stored<'a> {
        Box::pin(async move {
            if let Some(schema) = &self.schema {
                let mut schema = schema.clone();
                let ready = tokio::time::timeout(
                    self.timeout,
                    schema.wait_for(|s| *s == SchemaState::Ready),
                )
                .await
                .is_ok_and(|r| r.is_ok());
                if !ready {
                    // Read once more: it may have become ready as the wait ran out.
                    match &*schema.borrow() {
                        SchemaState::Pending(why) => {
                            return Err(format!("the schema is not applied yet: {why}"));
                        }
                        SchemaState::Unusable(why) => return Err(why.clone()),
                        SchemaState::Ready => {}
                    }
                }
            }
            match tokio::time::timeout(
                self.timeout,
                store::greeks::insert_records(&self.pool, records),
            )
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "PostgreSQL did not answer within {} s",
                    self.timeout.as_secs_f64()
                )),
            }
        })
    }
}
