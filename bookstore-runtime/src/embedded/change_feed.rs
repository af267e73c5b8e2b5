//! The local stage's change feed: what a DynamoDB Streams event source mapping does on
//! AWS (batches, `ReportBatchItemFailures`, bounded retries, an on-failure destination),
//! over the embedded store's change log.
//!
//! Guarantees: every change record of the consumer's tables reaches the handler at
//! least once, in sequence order; the checkpoint is durable and only moves past a
//! record once it was processed or dead-lettered, so a restart loses and skips nothing;
//! a record that keeps failing is retried with backoff, then dead-lettered alone while
//! the rest go on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::store::{DeadLetter, EmbeddedStore};
use crate::cdc::{StreamHandler, stream_event};
use crate::store::{ChangeRecord, Store, StoreError, Table};

/// How a consumer reads the feed.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Records per handler call (DynamoDB's `BatchSize`).
    pub batch_size: usize,
    /// Calls that may fail on one record before it is dead-lettered (attempts, not retries).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub retry_backoff: Duration,
    /// Region named in the records, as a stream would.
    pub region: String,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self { batch_size: 100, max_attempts: 3, retry_backoff: Duration::from_millis(100), region: "local".to_owned() }
    }
}

/// What one step of the feed did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing new after the checkpoint.
    CaughtUp,
    /// The checkpoint moved to this sequence number.
    Advanced(u64),
    /// The handler failed a record that will be tried again after a backoff.
    Retrying { sequence: u64, attempt: u32 },
    /// A record was given up on and dead-lettered.
    DeadLettered(u64),
}

/// One consumer of the change log (one handler over some tables).
pub struct ChangeFeed {
    store: Arc<EmbeddedStore>,
    consumer: String,
    tables: Vec<Table>,
    handler: Arc<dyn StreamHandler>,
    config: FeedConfig,
    attempts: HashMap<u64, u32>,
    /// While retrying, the last sequence of the batch that failed: a retry re-reads no
    /// further, so it offers the handler the same records again (the lake names its files
    /// by the records in a batch; a longer retry batch would write a second copy).
    retry_until: Option<u64>,
}

/// Runs redb bookkeeping off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Unavailable(format!("feed task failed: {e}")))?
}

impl ChangeFeed {
    pub fn new(
        store: Arc<EmbeddedStore>,
        consumer: impl Into<String>,
        tables: Vec<Table>,
        handler: Arc<dyn StreamHandler>,
        config: FeedConfig,
    ) -> Self {
        Self { store, consumer: consumer.into(), tables, handler, config, attempts: HashMap::new(), retry_until: None }
    }

    /// Processes one batch after the checkpoint (waiting out a retry backoff if needed).
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        let store = Arc::clone(&self.store);
        let consumer = self.consumer.clone();
        let checkpoint = blocking(move || store.checkpoint(&consumer)).await?;
        let mut records = self.store.changes_after(checkpoint, self.config.batch_size.max(1)).await?;
        if let Some(until) = self.retry_until {
            records.retain(|r| r.sequence <= until);
        }
        let Some(last) = records.last().map(|r| r.sequence) else {
            self.retry_until = None;
            return Ok(Step::CaughtUp);
        };
        let relevant: Vec<ChangeRecord> = records.into_iter().filter(|r| self.tables.contains(&r.table)).collect();
        let first_failure = if relevant.is_empty() { None } else { self.first_failure(&relevant).await };
        let Some(failed) = first_failure else {
            self.attempts.clear();
            self.retry_until = None;
            self.advance(last, None).await?;
            return Ok(Step::Advanced(last));
        };
        let attempt = {
            let count = self.attempts.entry(failed.sequence).or_insert(0);
            *count += 1;
            *count
        };
        if attempt >= self.config.max_attempts.max(1) {
            tracing::warn!(consumer = %self.consumer, sequence = failed.sequence, attempt, "change record dead-lettered");
            let letter = DeadLetter {
                consumer: self.consumer.clone(),
                reason: format!("the handler failed it {attempt} times"),
                attempts: attempt,
                at: Utc::now(),
                record: failed.clone(),
            };
            self.advance(failed.sequence, Some(letter)).await?;
            self.attempts.remove(&failed.sequence);
            self.retry_until = (failed.sequence < last).then_some(last);
            return Ok(Step::DeadLettered(failed.sequence));
        }
        // Everything before the failed record is done; resume at the failed record.
        self.advance(failed.sequence - 1, None).await?;
        self.retry_until = Some(last);
        let backoff = self.config.retry_backoff.saturating_mul(1 << (attempt - 1).min(16));
        tokio::time::sleep(backoff).await;
        Ok(Step::Retrying { sequence: failed.sequence, attempt })
    }

    /// Calls the handler and returns the earliest record it reported as failed. An
    /// identifier that names no record of the batch fails the whole batch, as on AWS.
    async fn first_failure(&self, relevant: &[ChangeRecord]) -> Option<ChangeRecord> {
        let response = self.handler.handle(stream_event(relevant, &self.config.region)).await;
        let mut earliest: Option<&ChangeRecord> = None;
        for failure in &response.batch_item_failures {
            let named = failure
                .item_identifier
                .as_deref()
                .and_then(|id| id.parse::<u64>().ok())
                .and_then(|sequence| relevant.iter().find(|r| r.sequence == sequence));
            let record = named.unwrap_or(&relevant[0]);
            if earliest.is_none_or(|e| record.sequence < e.sequence) {
                earliest = Some(record);
            }
        }
        earliest.cloned()
    }

    async fn advance(&self, to: u64, poison: Option<DeadLetter>) -> Result<(), StoreError> {
        let (store, consumer) = (Arc::clone(&self.store), self.consumer.clone());
        blocking(move || store.advance_checkpoint(&consumer, to, poison.as_ref())).await
    }

    /// Steps until the consumer has processed (or dead-lettered) everything committed.
    pub async fn drain(&mut self) -> Result<(), StoreError> {
        while self.step().await? != Step::CaughtUp {}
        Ok(())
    }

    /// Runs until `shutdown` resolves, waking whenever the store commits a change. A step
    /// once begun runs to its end: given up after its handler applied a batch, it would
    /// leave the checkpoint behind what was applied.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), StoreError> {
        let mut committed = self.store.subscribe_changes();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                () = std::future::ready(()) => {}
            }
            match self.step().await {
                Ok(Step::CaughtUp) => {
                    tokio::select! {
                        () = &mut shutdown => return Ok(()),
                        changed = committed.changed() => if changed.is_err() { return Ok(()) },
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(consumer = %self.consumer, error = %err, "change feed step failed; retrying");
                    tokio::select! {
                        () = &mut shutdown => return Ok(()),
                        () = tokio::time::sleep(self.config.retry_backoff) => {},
                    }
                }
            }
        }
    }
}
