//! The change-feed port on the embedded store: a log per streamed table, written in the
//! redb transaction of the write it records, and the consumers' checkpoints and dead
//! letters in the same file, so a restart resumes exactly where a consumer stopped.
//!
//! A table's log is one shard that never closes. Sequence numbers come from one counter
//! over all logs (so a record's number is unique in the file) and are written as
//! DynamoDB writes them: 21 decimal digits.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::store::EmbeddedStore;
use crate::changes::{
    ChangeRecord, ChangeStream, ChangeWaiter, DeadLetter, FeedLedger, Shard, ShardCheckpoint, ShardRead,
};
use crate::store::{StoreError, Table};

type LogTable = TableDefinition<'static, u64, &'static [u8]>;

/// The one shard of a table's log.
pub const LOG_SHARD: &str = "log";

/// (consumer, shard) → the consumer's `ShardCheckpoint` there, as JSON.
const CHECKPOINTS: TableDefinition<'static, (&'static str, &'static str), &'static [u8]> =
    TableDefinition::new("feed_shard_checkpoints");
/// (consumer, sequence number) → a record the consumer gave up on, with the reason.
const DEAD_LETTERS: TableDefinition<'static, (&'static str, &'static str), &'static [u8]> =
    TableDefinition::new("feed_shard_dead_letters");

fn log_table(table: Table) -> Option<LogTable> {
    match table {
        Table::Books => Some(TableDefinition::new("changes:books")),
        Table::Purchases => Some(TableDefinition::new("changes:purchases")),
        _ => None,
    }
}

fn storage(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

/// A sequence number as DynamoDB Streams writes it, zero-padded so text order is number
/// order.
pub fn sequence_text(sequence: u64) -> String {
    format!("{sequence:021}")
}

fn parse_sequence(text: &str) -> Result<u64, StoreError> {
    text.parse().map_err(|_| StoreError::Invalid(format!("{text:?} is not a sequence number of this log")))
}

fn stream_table(table: Table) -> Result<LogTable, StoreError> {
    log_table(table).ok_or_else(|| StoreError::Invalid(format!("table {} has no stream", table.name())))
}

/// Creates the logs and the consumers' tables of a new file.
pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    for table in Table::ALL.into_iter().filter_map(log_table) {
        txn.open_table(table).map_err(storage)?;
    }
    txn.open_table(CHECKPOINTS).map_err(storage)?;
    txn.open_table(DEAD_LETTERS).map_err(storage)?;
    Ok(())
}

/// The newest sequence number in any log (0 before the first record).
pub(super) fn last_sequence(db: &Database) -> Result<u64, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let mut last = 0;
    for table in Table::ALL.into_iter().filter_map(log_table) {
        let log = txn.open_table(table).map_err(storage)?;
        last = last.max(log.last().map_err(storage)?.map_or(0, |(k, _)| k.value()));
    }
    Ok(last)
}

/// Appends a record to its table's log inside the write's own transaction.
pub(super) fn append(txn: &WriteTransaction, sequence: u64, record: &ChangeRecord) -> Result<(), StoreError> {
    let mut log = txn.open_table(stream_table(record.table)?).map_err(storage)?;
    let json = serde_json::to_vec(record).map_err(storage)?;
    log.insert(sequence, json.as_slice()).map_err(storage)?;
    Ok(())
}

#[async_trait::async_trait]
impl ChangeStream for EmbeddedStore {
    async fn shards(&self, table: Table) -> Result<Vec<Shard>, StoreError> {
        stream_table(table)?;
        Ok(vec![Shard { id: LOG_SHARD.to_owned(), parent: None }])
    }

    async fn read(
        &self,
        table: Table,
        shard: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ShardRead, StoreError> {
        if shard != LOG_SHARD {
            return Err(StoreError::Invalid(format!("the embedded log has no shard {shard:?}")));
        }
        let log_table = stream_table(table)?;
        let after = after.map(parse_sequence).transpose()?.unwrap_or(0);
        let txn = self.database().begin_read().map_err(storage)?;
        let log = txn.open_table(log_table).map_err(storage)?;
        let mut records = Vec::new();
        for row in log.range((after.saturating_add(1))..).map_err(storage)?.take(limit) {
            let (_, value) = row.map_err(storage)?;
            records.push(serde_json::from_slice(value.value()).map_err(storage)?);
        }
        Ok(ShardRead { records, closed: false })
    }

    fn waiter(&self) -> ChangeWaiter {
        ChangeWaiter::Commits(self.subscribe_changes())
    }
}

impl FeedLedger for EmbeddedStore {
    fn checkpoint(&self, consumer: &str, shard: &str) -> Result<Option<ShardCheckpoint>, StoreError> {
        let txn = self.database().begin_read().map_err(storage)?;
        let checkpoints = txn.open_table(CHECKPOINTS).map_err(storage)?;
        let found = checkpoints.get((consumer, shard)).map_err(storage)?;
        found.map(|v| serde_json::from_slice(v.value()).map_err(storage)).transpose()
    }

    fn advance(
        &self,
        consumer: &str,
        shard: &str,
        to: &ShardCheckpoint,
        poison: Option<&DeadLetter>,
    ) -> Result<(), StoreError> {
        let txn = self.database().begin_write().map_err(storage)?;
        {
            let mut checkpoints = txn.open_table(CHECKPOINTS).map_err(storage)?;
            let current: Option<ShardCheckpoint> = checkpoints
                .get((consumer, shard))
                .map_err(storage)?
                .map(|v| serde_json::from_slice(v.value()).map_err(storage))
                .transpose()?;
            if current.is_none_or(|current| current.precedes(to)) {
                let json = serde_json::to_vec(to).map_err(storage)?;
                checkpoints.insert((consumer, shard), json.as_slice()).map_err(storage)?;
            }
            if let Some(letter) = poison {
                let mut letters = txn.open_table(DEAD_LETTERS).map_err(storage)?;
                let json = serde_json::to_vec(letter).map_err(storage)?;
                letters.insert((consumer, letter.record.sequence.as_str()), json.as_slice()).map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }

    fn dead_letters(&self, consumer: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let txn = self.database().begin_read().map_err(storage)?;
        let letters = txn.open_table(DEAD_LETTERS).map_err(storage)?;
        let mut found = Vec::new();
        for row in letters.range((consumer, "")..=(consumer, "\u{10FFFF}")).map_err(storage)? {
            let (_, value) = row.map_err(storage)?;
            found.push(serde_json::from_slice(value.value()).map_err(storage)?);
        }
        Ok(found)
    }
}
