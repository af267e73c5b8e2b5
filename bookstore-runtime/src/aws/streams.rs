//! The change-feed port on DynamoDB Streams: a table's stream found from the table
//! (`LatestStreamArn`), its shards listed page by page, a shard read from an iterator at
//! the consumer's checkpoint (`AFTER_SEQUENCE_NUMBER`) or at its oldest record
//! (`TRIM_HORIZON`), the next iterator kept for the next read and renewed when expired.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::{OperationType, Record, ShardIteratorType};

use super::attributes::stream_json;
use crate::changes::{ChangeKind, ChangeRecord, ChangeStream, ChangeWaiter, Shard, ShardRead};
use crate::store::{Key, StoreError, Table};

/// DynamoDB Streams returns at most this many records per `GetRecords`.
const MAX_RECORDS_PER_READ: usize = 1000;

/// How often a caught-up consumer polls: as often as Lambda's event source mapping (four
/// times a second).
pub const EVENT_SOURCE_POLL: Duration = Duration::from_millis(250);

/// Iterators kept per shard: one per consumer reading it, and a few spare.
const ITERATORS_PER_SHARD: usize = 8;

/// An iterator a read handed on, with the sequence number it resumes after.
struct KeptIterator {
    after: Option<String>,
    iterator: String,
}

pub struct DynamoStreams {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: StreamsClient,
    prefix: String,
    endpoint: String,
    poll: Duration,
    arns: Mutex<HashMap<Table, String>>,
    /// Per shard, the iterators reads handed on, each with the sequence number it resumes
    /// after; taken by the read that uses it, so an iterator is used once.
    iterators: Mutex<HashMap<String, Vec<KeptIterator>>>,
}

impl DynamoStreams {
    /// The streams of the stage whose tables are named `{prefix}-{table}`; a consumer
    /// polls every `poll` when caught up (`EVENT_SOURCE_POLL` is Lambda's).
    pub fn new(config: &aws_config::SdkConfig, prefix: &str, endpoint: impl Into<String>, poll: Duration) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            streams: StreamsClient::new(config),
            prefix: prefix.to_owned(),
            endpoint: endpoint.into(),
            poll,
            arns: Mutex::default(),
            iterators: Mutex::default(),
        }
    }

    fn failure<E>(
        &self,
        table: Table,
        err: &SdkError<E, aws_sdk_dynamodbstreams::config::http::HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let name = table.stage_name(&self.prefix);
        match err.code() {
            Some(code) => StoreError::Unavailable(format!(
                "DynamoDB Streams at {} on the stream of {name}: {code}: {}",
                self.endpoint,
                err.message().unwrap_or_default()
            )),
            None => StoreError::Unavailable(format!(
                "cannot reach DynamoDB Streams at {} for the stream of {name}: {}",
                self.endpoint,
                super::store::chain(err)
            )),
        }
    }

    async fn stream_arn(&self, table: Table) -> Result<String, StoreError> {
        if let Some(arn) = self.arns.lock().map_err(poisoned)?.get(&table) {
            return Ok(arn.clone());
        }
        let name = table.stage_name(&self.prefix);
        let described = self.dynamodb.describe_table().table_name(&name).send().await.map_err(|err| {
            StoreError::Unavailable(format!(
                "table {name} at {}: {}: {}",
                self.endpoint,
                err.code().unwrap_or("unreachable"),
                err.message().map(str::to_owned).unwrap_or_else(|| super::store::chain(&err))
            ))
        })?;
        let arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| StoreError::Invalid(format!("table {name} has no stream")))?
            .to_owned();
        self.arns.lock().map_err(poisoned)?.insert(table, arn.clone());
        Ok(arn)
    }

    async fn fresh_iterator(
        &self,
        table: Table,
        shard: &str,
        after: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let arn = self.stream_arn(table).await?;
        let request = self.streams.get_shard_iterator().stream_arn(arn).shard_id(shard);
        let request = match after {
            Some(sequence) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence)
            }
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        match request.send().await {
            Ok(output) => Ok(output.shard_iterator().map(str::to_owned)),
            // The shard is past the retention period: nothing left to read.
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(None),
            // The checkpoint's record was trimmed (older than 24 hours): what is left
            // starts at the shard's oldest record. Records in between are lost; say so.
            Err(err) if err.code() == Some("TrimmedDataAccessException") && after.is_some() => {
                tracing::warn!(table = ?table, shard, after, "checkpoint trimmed from the stream; resuming at its oldest record");
                Box::pin(self.fresh_iterator(table, shard, None)).await
            }
            Err(err) => Err(self.failure(table, &err)),
        }
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> StoreError {
    StoreError::Unavailable("a stream reader panicked".to_owned())
}

fn record_of(table: Table, record: &Record) -> Result<ChangeRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Unavailable(format!("a stream record without {what}"));
    let change = record.dynamodb().ok_or_else(|| corrupt("its change"))?;
    let kind = match record.event_name() {
        Some(OperationType::Insert) => ChangeKind::Insert,
        Some(OperationType::Modify) => ChangeKind::Modify,
        Some(OperationType::Remove) => ChangeKind::Remove,
        other => return Err(StoreError::Unavailable(format!("a stream record of kind {other:?}"))),
    };
    let keys = stream_json::item(change.keys().ok_or_else(|| corrupt("keys"))?)?;
    let key = Key::of(&keys).ok_or_else(|| corrupt("pk and sk"))?;
    let at = change
        .approximate_creation_date_time()
        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_else(chrono::Utc::now);
    Ok(ChangeRecord {
        sequence: change.sequence_number().ok_or_else(|| corrupt("a sequence number"))?.to_owned(),
        table,
        kind,
        key,
        old_image: change.old_image().map(stream_json::item).transpose()?,
        new_image: change.new_image().map(stream_json::item).transpose()?,
        at,
    })
}

/// Orders shards so that each parent still listed comes before its children.
fn parents_first(mut shards: Vec<Shard>) -> Vec<Shard> {
    let mut ordered: Vec<Shard> = Vec::with_capacity(shards.len());
    while !shards.is_empty() {
        let listed = |id: &String, pending: &[Shard]| pending.iter().any(|s| &s.id == id);
        let ready = shards
            .iter()
            .position(|s| s.parent.as_ref().is_none_or(|p| !listed(p, &shards)))
            // A cycle cannot come from DynamoDB; take the shards as listed rather than loop.
            .unwrap_or(0);
        ordered.push(shards.remove(ready));
    }
    ordered
}

#[async_trait::async_trait]
impl ChangeStream for DynamoStreams {
    async fn shards(&self, table: Table) -> Result<Vec<Shard>, StoreError> {
        let arn = self.stream_arn(table).await?;
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = self
                .streams
                .describe_stream()
                .stream_arn(&arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|err| self.failure(table, &err))?;
            let Some(description) = output.stream_description() else { break };
            for shard in description.shards() {
                if let Some(id) = shard.shard_id() {
                    shards.push(Shard { id: id.to_owned(), parent: shard.parent_shard_id().map(str::to_owned) });
                }
            }
            match description.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_owned()),
                None => break,
            }
        }
        Ok(parents_first(shards))
    }

    async fn read(
        &self,
        table: Table,
        shard: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ShardRead, StoreError> {
        let kept = {
            let mut iterators = self.iterators.lock().map_err(poisoned)?;
            let kept = iterators.entry(shard.to_owned()).or_default();
            kept.iter().position(|k| k.after.as_deref() == after).map(|found| kept.remove(found).iterator)
        };
        let mut iterator = match kept {
            Some(iterator) => Some(iterator),
            None => self.fresh_iterator(table, shard, after).await?,
        };
        let mut renewed = false;
        let limit = i32::try_from(limit.clamp(1, MAX_RECORDS_PER_READ)).unwrap_or(1);
        loop {
            let Some(current) = iterator.take() else {
                return Ok(ShardRead { records: Vec::new(), closed: true });
            };
            let output = match self.streams.get_records().shard_iterator(current).limit(limit).send().await {
                Ok(output) => output,
                // An iterator lives 15 minutes; one kept across a pause gets a new one.
                Err(err) if err.code() == Some("ExpiredIteratorException") && !renewed => {
                    renewed = true;
                    iterator = self.fresh_iterator(table, shard, after).await?;
                    continue;
                }
                Err(err) if err.code() == Some("TrimmedDataAccessException") && !renewed => {
                    renewed = true;
                    iterator = self.fresh_iterator(table, shard, None).await?;
                    continue;
                }
                Err(err) => return Err(self.failure(table, &err)),
            };
            let records = output.records().iter().map(|r| record_of(table, r)).collect::<Result<Vec<_>, _>>()?;
            let closed = output.next_shard_iterator().is_none();
            if let Some(next) = output.next_shard_iterator() {
                let resumes_after = records.last().map(|r| r.sequence.clone()).or_else(|| after.map(str::to_owned));
                let mut iterators = self.iterators.lock().map_err(poisoned)?;
                let kept = iterators.entry(shard.to_owned()).or_default();
                if kept.len() >= ITERATORS_PER_SHARD {
                    kept.remove(0);
                }
                kept.push(KeptIterator { after: resumes_after, iterator: next.to_owned() });
            }
            return Ok(ShardRead { records, closed });
        }
    }

    fn waiter(&self) -> ChangeWaiter {
        ChangeWaiter::Poll(self.poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard { id: id.to_owned(), parent: parent.map(str::to_owned) }
    }

    #[test]
    fn parents_come_before_their_children_however_listed() {
        let listed = vec![shard("c", Some("b")), shard("b", Some("a")), shard("x", Some("gone")), shard("a", None)];
        let ids: Vec<String> = parents_first(listed).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["x", "a", "b", "c"], "a parent no longer listed does not hold its child back");
    }
}
