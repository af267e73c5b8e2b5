//! One consumer of one table's change stream: what a DynamoDB Streams event source mapping
//! does on AWS (batches per shard, `ReportBatchItemFailures`, bounded retries, an
//! on-failure destination), over any `ChangeStream` adapter.
//!
//! Guarantees: every record of the table reaches the handler at least once, in shard
//! order, a parent shard's before its children's; the checkpoint is durable and only moves
//! past a record once it was processed or dead-lettered, so a restart loses and skips
//! nothing; a record that keeps failing is retried with backoff, then dead-lettered alone
//! while the rest go on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{ChangeRecord, ChangeStream, DeadLetter, FeedLedger, Shard, ShardCheckpoint};
use crate::cdc::{StreamHandler, stream_event};
use crate::store::{StoreError, Table};

/// How a consumer reads its stream.
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
    /// How long a batch short of `batch_size` may gather more records before the handler
    /// gets it (DynamoDB's `MaximumBatchingWindowInSeconds`); zero hands each read on.
    pub batching_window: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            max_attempts: 3,
            retry_backoff: Duration::from_millis(100),
            region: "local".to_owned(),
            batching_window: Duration::ZERO,
        }
    }
}

/// What one step of the feed did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing new after the checkpoints.
    CaughtUp,
    /// A shard's checkpoint moved to this sequence number.
    Advanced(String),
    /// The handler failed a record that will be tried again after a backoff.
    Retrying { sequence: String, attempt: u32 },
    /// A record was given up on and dead-lettered.
    DeadLettered(String),
    /// A short batch is gathering more records, for at most this long.
    Gathering(Duration),
}

/// A batch that failed and is offered again: the same shard, from the same record, no
/// more records than it had (a retry is that batch again, not a larger one).
struct Retry {
    shard: String,
    records: usize,
}

/// One consumer of a table's stream.
pub struct ChangeFeed {
    stream: Arc<dyn ChangeStream>,
    ledger: Arc<dyn FeedLedger>,
    consumer: String,
    table: Table,
    handler: Arc<dyn StreamHandler>,
    config: FeedConfig,
    attempts: HashMap<String, u32>,
    retry: Option<Retry>,
    /// A short batch read but not yet handed on, while its batching window is open.
    gathered: Option<Gathered>,
    /// The shards as last listed; listed again once the feed caught up or a shard ended.
    shards: Option<Vec<Shard>>,
}

/// Records read past the checkpoint and held for the batching window: a crash loses
/// them from memory only, and they are read again from the checkpoint.
struct Gathered {
    shard: String,
    after: Option<String>,
    records: Vec<ChangeRecord>,
    since: Instant,
}

/// Runs ledger bookkeeping off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Unavailable(format!("feed task failed: {e}")))?
}

impl ChangeFeed {
    pub fn new(
        stream: Arc<dyn ChangeStream>,
        ledger: Arc<dyn FeedLedger>,
        consumer: impl Into<String>,
        table: Table,
        handler: Arc<dyn StreamHandler>,
        config: FeedConfig,
    ) -> Self {
        Self {
            stream,
            ledger,
            consumer: consumer.into(),
            table,
            handler,
            config,
            attempts: HashMap::new(),
            retry: None,
            gathered: None,
            shards: None,
        }
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    async fn checkpoint(&self, shard: &str) -> Result<Option<ShardCheckpoint>, StoreError> {
        let (ledger, consumer, shard) = (Arc::clone(&self.ledger), self.consumer.clone(), shard.to_owned());
        blocking(move || ledger.checkpoint(&consumer, &shard)).await
    }

    async fn advance(&self, shard: &str, to: ShardCheckpoint, poison: Option<DeadLetter>) -> Result<(), StoreError> {
        let (ledger, consumer, shard) = (Arc::clone(&self.ledger), self.consumer.clone(), shard.to_owned());
        blocking(move || ledger.advance(&consumer, &shard, &to, poison.as_ref())).await
    }

    /// The shards to read now, in order: not finished, and whose parent (if still listed)
    /// is finished.
    async fn readable_shards(&mut self) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let shards = match self.shards.take() {
            Some(shards) => shards,
            None => self.stream.shards(self.table).await?,
        };
        let mut finished = std::collections::HashSet::new();
        let mut readable = Vec::new();
        for shard in &shards {
            match self.checkpoint(&shard.id).await? {
                Some(ShardCheckpoint::Finished) => {
                    finished.insert(shard.id.clone());
                }
                at => {
                    let parent_pending = shard
                        .parent
                        .as_ref()
                        .is_some_and(|p| shards.iter().any(|s| &s.id == p) && !finished.contains(p));
                    if !parent_pending {
                        let after = match at {
                            Some(ShardCheckpoint::After(sequence)) => Some(sequence),
                            _ => None,
                        };
                        readable.push((shard.id.clone(), after));
                    }
                }
            }
        }
        self.shards = Some(shards);
        Ok(readable)
    }

    /// Processes one batch of one shard (waiting out a retry backoff if needed), or
    /// gathers a short batch while its batching window is open.
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        self.step_with(false).await
    }

    async fn step_with(&mut self, flush: bool) -> Result<Step, StoreError> {
        let limit = self.config.batch_size.max(1);
        if let Some(gathered) = self.gathered.take() {
            return self.gather(gathered, limit, flush).await;
        }
        let readable = self.readable_shards().await?;
        let retrying = self.retry.as_ref().map(|r| r.shard.clone());
        let ordered = readable.into_iter().filter(|(id, _)| retrying.as_ref().is_none_or(|r| r == id));
        for (shard, after) in ordered {
            let limit = self.retry.as_ref().map_or(limit, |r| r.records.min(limit));
            let read = self.stream.read(self.table, &shard, after.as_deref(), limit).await?;
            if read.records.is_empty() {
                self.retry = None;
                if read.closed {
                    self.advance(&shard, ShardCheckpoint::Finished, None).await?;
                    self.shards = None;
                }
                continue;
            }
            let window = self.config.batching_window;
            if !flush && self.retry.is_none() && !window.is_zero() && read.records.len() < limit && !read.closed {
                self.gathered = Some(Gathered { shard, after, records: read.records, since: Instant::now() });
                return Ok(Step::Gathering(window));
            }
            return self.process(&shard, after, read.records).await;
        }
        self.retry = None;
        self.shards = None;
        Ok(Step::CaughtUp)
    }

    /// Reads more of the gathered shard; hands the batch on once it is full, its shard
    /// ended, its window closed, or a drain asks for it.
    async fn gather(&mut self, mut gathered: Gathered, limit: usize, flush: bool) -> Result<Step, StoreError> {
        let last = gathered.records.last().map(|r| r.sequence.clone());
        let room = limit.saturating_sub(gathered.records.len());
        let closed = if room > 0 {
            let read = self.stream.read(self.table, &gathered.shard, last.as_deref(), room).await?;
            gathered.records.extend(read.records);
            read.closed
        } else {
            false
        };
        let open_for = self.config.batching_window.saturating_sub(gathered.since.elapsed());
        if flush || closed || gathered.records.len() >= limit || open_for.is_zero() {
            return self.process(&gathered.shard, gathered.after, gathered.records).await;
        }
        self.gathered = Some(gathered);
        Ok(Step::Gathering(open_for))
    }

    async fn process(
        &mut self,
        shard: &str,
        after: Option<String>,
        records: Vec<ChangeRecord>,
    ) -> Result<Step, StoreError> {
        let last = records.last().map(|r| r.sequence.clone()).unwrap_or_default();
        let Some(failed_at) = self.first_failure(&records).await else {
            self.attempts.clear();
            self.retry = None;
            self.advance(shard, ShardCheckpoint::After(last.clone()), None).await?;
            return Ok(Step::Advanced(last));
        };
        let failed = records[failed_at].clone();
        let attempt = {
            let count = self.attempts.entry(failed.sequence.clone()).or_insert(0);
            *count += 1;
            *count
        };
        if attempt >= self.config.max_attempts.max(1) {
            tracing::warn!(consumer = %self.consumer, sequence = %failed.sequence, attempt, "change record dead-lettered");
            let letter = DeadLetter {
                consumer: self.consumer.clone(),
                shard: shard.to_owned(),
                reason: format!("the handler failed it {attempt} times"),
                attempts: attempt,
                at: Utc::now(),
                record: failed.clone(),
            };
            self.advance(shard, ShardCheckpoint::After(failed.sequence.clone()), Some(letter)).await?;
            self.attempts.remove(&failed.sequence);
            let rest = records.len() - failed_at - 1;
            self.retry = (rest > 0).then(|| Retry { shard: shard.to_owned(), records: rest });
            return Ok(Step::DeadLettered(failed.sequence));
        }
        // Everything before the failed record is done; resume at the failed record.
        let done = match failed_at {
            0 => after.map(ShardCheckpoint::After),
            n => Some(ShardCheckpoint::After(records[n - 1].sequence.clone())),
        };
        if let Some(done) = done {
            self.advance(shard, done, None).await?;
        }
        self.retry = Some(Retry { shard: shard.to_owned(), records: records.len() - failed_at });
        let backoff = self.config.retry_backoff.saturating_mul(1 << (attempt - 1).min(16));
        tokio::time::sleep(backoff).await;
        Ok(Step::Retrying { sequence: failed.sequence, attempt })
    }

    /// Calls the handler and returns the position of the earliest record it reported as
    /// failed. An identifier that names no record of the batch fails the whole batch, as
    /// on AWS.
    async fn first_failure(&self, records: &[ChangeRecord]) -> Option<usize> {
        let response = self.handler.handle(stream_event(records, &self.config.region)).await;
        response
            .batch_item_failures
            .iter()
            .map(|failure| {
                let id = failure.item_identifier.as_deref();
                records.iter().position(|r| Some(r.sequence.as_str()) == id).unwrap_or(0)
            })
            .min()
    }

    /// Steps until the consumer has processed (or dead-lettered) everything readable,
    /// handing on short batches at once.
    pub async fn drain(&mut self) -> Result<(), StoreError> {
        while self.step_with(true).await? != Step::CaughtUp {}
        Ok(())
    }

    /// Runs until `shutdown` resolves, waking whenever the stream may hold more. A step
    /// once begun runs to its end: given up after its handler applied a batch, it would
    /// leave the checkpoint behind what was applied.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), StoreError> {
        let mut waiter = self.stream.waiter();
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
                        more = waiter.wait() => if !more { return Ok(()) },
                    }
                }
                // New records wake the wait early; the gathered batch then reads them.
                Ok(Step::Gathering(open_for)) => {
                    tokio::select! {
                        () = &mut shutdown => return Ok(()),
                        () = tokio::time::sleep(open_for) => {},
                        more = waiter.wait() => if !more { return Ok(()) },
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
