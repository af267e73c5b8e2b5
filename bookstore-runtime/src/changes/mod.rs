//! The change-feed port: what a streamed table's writes produced, read the way DynamoDB
//! Streams offers it — one stream per table, split into shards, each shard an ordered run
//! of records with sequence numbers that order records only within that shard.
//!
//! Guarantees every adapter keeps (the change-feed conformance suite checks them):
//! - every write to a streamed table yields one record, with old and new image, and a
//!   write that failed its condition yields none;
//! - the records of one key are in one shard, in write order;
//! - a shard read after a sequence number returns exactly what followed it, so a consumer
//!   that re-reads from its checkpoint is offered the same records again;
//! - a shard with a parent may only be read once the parent is drained (the feed does so).
//!
//! Positions are opaque: a consumer checkpoints the sequence number of the last record it
//! finished, per shard (`FeedLedger`), and hands it back to `read`.

mod feed;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use feed::{ChangeFeed, FeedConfig, Step};

use crate::store::{Item, Key, StoreError, Table};

/// What a change record says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

/// One record of a table's stream, in the spirit of a DynamoDB Streams record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// Unique within the stream; orders records within their shard only.
    pub sequence: String,
    pub table: Table,
    pub kind: ChangeKind,
    pub key: Key,
    pub old_image: Option<Item>,
    pub new_image: Option<Item>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A shard of a table's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub id: String,
    /// The shard this one continues (after a split or a rotation); read only after it.
    pub parent: Option<String>,
}

/// What one read of a shard found.
#[derive(Debug, Clone, Default)]
pub struct ShardRead {
    pub records: Vec<ChangeRecord>,
    /// The shard has nothing after these records and never will.
    pub closed: bool,
}

/// How a consumer learns that new records may be readable.
pub enum ChangeWaiter {
    /// Woken by each commit (the embedded store).
    Commits(tokio::sync::watch::Receiver<u64>),
    /// Polled (DynamoDB Streams, as an event source mapping polls).
    Poll(Duration),
}

impl ChangeWaiter {
    /// Waits for the next chance of new records; `false` when none can ever come.
    pub async fn wait(&mut self) -> bool {
        match self {
            ChangeWaiter::Commits(commits) => commits.changed().await.is_ok(),
            ChangeWaiter::Poll(interval) => {
                tokio::time::sleep(*interval).await;
                true
            }
        }
    }
}

/// The change-feed port: the streams of the tables that have one.
#[async_trait::async_trait]
pub trait ChangeStream: Send + Sync + 'static {
    /// The table's shards that still hold records, parents listed before their children.
    async fn shards(&self, table: Table) -> Result<Vec<Shard>, StoreError>;
    /// Up to `limit` records of the shard after the sequence number `after` (from the
    /// shard's oldest record when `None`), oldest first.
    async fn read(&self, table: Table, shard: &str, after: Option<&str>, limit: usize)
    -> Result<ShardRead, StoreError>;
    /// How a consumer of this stream waits for more.
    fn waiter(&self) -> ChangeWaiter;
}

/// Where a consumer stands in one shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardCheckpoint {
    /// Every record up to and including this sequence number is done.
    After(String),
    /// The shard is closed and every record of it is done.
    Finished,
}

/// A record a consumer gave up on, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub consumer: String,
    pub shard: String,
    pub record: ChangeRecord,
    pub reason: String,
    pub attempts: u32,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Durable bookkeeping of the consumers of change streams: a checkpoint per consumer and
/// shard, and dead letters. Calls block (they may touch a disk); the feed runs them off
/// the async threads.
pub trait FeedLedger: Send + Sync + 'static {
    fn checkpoint(&self, consumer: &str, shard: &str) -> Result<Option<ShardCheckpoint>, StoreError>;
    /// Records the consumer's new checkpoint, dead-lettering `poison` in the same durable
    /// step when given. A checkpoint never moves back.
    fn advance(
        &self,
        consumer: &str,
        shard: &str,
        to: &ShardCheckpoint,
        poison: Option<&DeadLetter>,
    ) -> Result<(), StoreError>;
    /// The records the consumer gave up on, oldest first.
    fn dead_letters(&self, consumer: &str) -> Result<Vec<DeadLetter>, StoreError>;
}

/// Orders two sequence numbers of one shard: DynamoDB's are decimal numbers of up to 40
/// digits, written without leading zeros, so the shorter is the smaller.
pub fn sequence_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl ShardCheckpoint {
    /// Whether moving from `self` to `next` goes forward.
    pub fn precedes(&self, next: &ShardCheckpoint) -> bool {
        match (self, next) {
            (ShardCheckpoint::Finished, _) => false,
            (ShardCheckpoint::After(_), ShardCheckpoint::Finished) => true,
            (ShardCheckpoint::After(a), ShardCheckpoint::After(b)) => sequence_order(a, b).is_lt(),
        }
    }
}

/// Every record of a table's stream, shard by shard from each shard's start (tests, and
/// rebuilding what a stream feeds).
pub async fn read_all(stream: &dyn ChangeStream, table: Table) -> Result<Vec<ChangeRecord>, StoreError> {
    const PAGE: usize = 1000;
    let mut records = Vec::new();
    for shard in stream.shards(table).await? {
        let mut after: Option<String> = None;
        loop {
            let read = stream.read(table, &shard.id, after.as_deref(), PAGE).await?;
            let Some(last) = read.records.last() else { break };
            after = Some(last.sequence.clone());
            records.extend(read.records);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_order_as_numbers() {
        assert!(sequence_order("9", "10").is_lt());
        assert!(sequence_order("000000000000000000042", "43").is_lt());
        assert!(sequence_order("100", "099").is_gt());
        assert!(sequence_order("7", "007").is_eq());
    }

    #[test]
    fn a_checkpoint_only_moves_forward() {
        let at = |s: &str| ShardCheckpoint::After(s.to_owned());
        assert!(at("5").precedes(&at("12")));
        assert!(!at("12").precedes(&at("5")));
        assert!(at("12").precedes(&ShardCheckpoint::Finished));
        assert!(!ShardCheckpoint::Finished.precedes(&at("99")));
    }
}
