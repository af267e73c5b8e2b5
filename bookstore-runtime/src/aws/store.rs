//! The `Store` port on DynamoDB: one table per `Table`, named from the stage prefix as the
//! template renders it. Reads of a table are strongly consistent (the port promises a
//! reader sees every acknowledged write); index reads cannot be on DynamoDB and are not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::attributes::{Attributes, from_attributes, key_attributes, to_attributes};
use super::cost::{CostMeter, Spend};
use super::expressions::Placeholders;
use crate::store::{
    Condition, FailedCondition, Item, Key, Query, QueryPage, Store, StoreError, Table, UpdateAction, WriteAction,
    check_batch_get, check_transaction,
};

/// How often a transaction that lost a race to another one (`TransactionConflict`) is
/// tried again before the caller hears of it.
const CONFLICT_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    prefix: String,
    /// Where the calls go, for error messages ("the default endpoint of eu-west-1").
    endpoint: String,
    cost: Arc<CostMeter>,
}

impl DynamoStore {
    /// The stage prefix its tables are named with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The store of the stage whose tables are named `{prefix}-{table}`.
    pub fn new(client: Client, prefix: &str, endpoint: impl Into<String>) -> Self {
        Self { client, prefix: prefix.to_owned(), endpoint: endpoint.into(), cost: Arc::default() }
    }

    pub fn table_name(&self, table: Table) -> String {
        table.stage_name(&self.prefix)
    }

    /// Round trips and capacity units spent so far by this store (and its clones).
    pub fn spent(&self) -> Spend {
        self.cost.spent()
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    /// A failed call as the port's error, naming the table and the endpoint.
    pub(super) fn failure<E>(
        &self,
        table: Option<Table>,
        err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let tables = match table {
            Some(table) => format!("table {}", self.table_name(table)),
            None => format!("the tables {}-*", self.prefix),
        };
        let message = err.message().unwrap_or_default().to_owned();
        match err.code() {
            Some("ResourceNotFoundException") => StoreError::Unavailable(format!(
                "{tables} does not exist at {}: deploy the stage, or start `bookstore up --stage` which creates it",
                self.endpoint
            )),
            Some("ValidationException") => {
                StoreError::Invalid(format!("DynamoDB refused a request on {tables}: {message}"))
            }
            Some(
                code @ ("ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "LimitExceededException"),
            ) => StoreError::Unavailable(format!("DynamoDB throttled {tables} after every retry ({code}): {message}")),
            Some(code) => {
                StoreError::Unavailable(format!("DynamoDB at {} on {tables}: {code}: {message}", self.endpoint))
            }
            None => StoreError::Unavailable(format!(
                "cannot reach DynamoDB at {} for {tables}: {}",
                self.endpoint,
                chain(&err)
            )),
        }
    }

    fn condition_failed<E>(
        &self,
        table: Table,
        key: &Key,
        err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if err.code() == Some("ConditionalCheckFailedException") {
            StoreError::ConditionFailed { table, key: key.clone() }
        } else {
            self.failure(Some(table), err)
        }
    }

    fn transact_item(&self, action: &WriteAction) -> Result<TransactWriteItem, StoreError> {
        let mut p = Placeholders::default();
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(format!("transaction action: {e}"));
        let on_failure = ReturnValuesOnConditionCheckFailure::AllOld;
        let item = match action {
            WriteAction::Put { table, item, condition } => {
                let condition = condition.as_ref().map(|c| p.condition(c));
                TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(self.table_name(*table))
                        .set_item(Some(to_attributes(item)))
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .return_values_on_condition_check_failure(on_failure)
                        .build()
                        .map_err(built)?,
                )
            }
            WriteAction::Update { table, key, actions, condition } => {
                let update = p.update(actions)?;
                let condition = condition.as_ref().map(|c| p.condition(c));
                TransactWriteItem::builder().update(
                    Update::builder()
                        .table_name(self.table_name(*table))
                        .set_key(Some(key_attributes(key)))
                        .update_expression(update)
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .return_values_on_condition_check_failure(on_failure)
                        .build()
                        .map_err(built)?,
                )
            }
            WriteAction::Delete { table, key, condition } => {
                let condition = condition.as_ref().map(|c| p.condition(c));
                TransactWriteItem::builder().delete(
                    Delete::builder()
                        .table_name(self.table_name(*table))
                        .set_key(Some(key_attributes(key)))
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .return_values_on_condition_check_failure(on_failure)
                        .build()
                        .map_err(built)?,
                )
            }
            WriteAction::Check { table, key, condition } => {
                let condition = p.condition(condition);
                TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(self.table_name(*table))
                        .set_key(Some(key_attributes(key)))
                        .condition_expression(condition)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .return_values_on_condition_check_failure(on_failure)
                        .build()
                        .map_err(built)?,
                )
            }
        };
        Ok(item.build())
    }

    async fn transact(&self, actions: Vec<WriteAction>, token: Option<&str>) -> Result<(), StoreError> {
        check_transaction(&actions)?;
        let items = actions.iter().map(|action| self.transact_item(action)).collect::<Result<Vec<_>, _>>()?;
        let first_table = actions.first().map(WriteAction::table);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .set_client_request_token(token.map(str::to_owned))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let err = match sent {
                Ok(output) => {
                    self.cost.write_all(output.consumed_capacity());
                    return Ok(());
                }
                Err(err) => err,
            };
            self.cost.failed(());
            let outcome = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    cancellation(cancelled.cancellation_reasons())
                }
                // Another request with this token is still running, or ran with other
                // actions (a concurrent checkout with the same idempotency key): the
                // caller finds out what the first one did.
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => Cancellation::Conflict,
                Some(TransactWriteItemsError::IdempotentParameterMismatchException(_)) => {
                    Cancellation::Failed(Vec::new())
                }
                _ => return Err(self.failure(first_table, err)),
            };
            match outcome {
                Cancellation::Failed(failed) => return Err(StoreError::TransactionCancelled { failed }),
                Cancellation::Invalid(why) => return Err(StoreError::Invalid(why)),
                Cancellation::Conflict if attempt < CONFLICT_ATTEMPTS => backoff(attempt).await,
                Cancellation::Conflict => {
                    return Err(StoreError::Unavailable(format!(
                        "the transaction lost {CONFLICT_ATTEMPTS} races to concurrent transactions on the same items"
                    )));
                }
            }
        }
    }
}

/// What a `TransactionCanceledException` says, position by position.
enum Cancellation {
    Failed(Vec<FailedCondition>),
    Invalid(String),
    /// Only lost races (`TransactionConflict`): worth trying again.
    Conflict,
}

fn cancellation(reasons: &[CancellationReason]) -> Cancellation {
    let mut failed = Vec::new();
    for (position, reason) in reasons.iter().enumerate() {
        if reason.code() == Some("ConditionalCheckFailed") {
            match item_of(reason.item()) {
                Ok(current) => failed.push(FailedCondition { position, current }),
                Err(err) => return Cancellation::Invalid(err.to_string()),
            }
        }
    }
    if !failed.is_empty() {
        return Cancellation::Failed(failed);
    }
    let other =
        reasons.iter().find(|reason| !matches!(reason.code(), None | Some("None") | Some("TransactionConflict")));
    match other {
        Some(reason) => Cancellation::Invalid(format!(
            "DynamoDB cancelled the transaction: {} {}",
            reason.code().unwrap_or_default(),
            reason.message().unwrap_or_default()
        )),
        None => Cancellation::Conflict,
    }
}

/// Waits 10 ms, 20 ms, 40 ms … (at most 640 ms), each with up to half again at random so
/// racing transactions do not meet again.
async fn backoff(attempt: u32) {
    let base = 10u64 << attempt.min(6);
    let jitter = u64::from(getrandom::u32().unwrap_or(0)) % (base / 2 + 1);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// An error with its causes: the SDK's `Display` says only "dispatch failure".
pub(super) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn item_of(attributes: Option<&Attributes>) -> Result<Option<Item>, StoreError> {
    attributes.map(from_attributes).transpose()
}

#[async_trait::async_trait]
impl Store for DynamoStore {
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table_name(table))
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| self.cost.failed(self.failure(Some(table), err)))?;
        self.cost.read(output.consumed_capacity());
        item_of(output.item())
    }

    async fn put(&self, table: Table, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let key = Key::of(&item).ok_or_else(|| StoreError::Invalid("item without pk/sk".to_owned()))?;
        let mut p = Placeholders::default();
        let condition = condition.as_ref().map(|c| p.condition(c));
        let output = self
            .client
            .put_item()
            .table_name(self.table_name(table))
            .set_item(Some(to_attributes(&item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| self.cost.failed(self.condition_failed(table, &key, err)))?;
        self.cost.write(output.consumed_capacity());
        Ok(())
    }

    async fn update(
        &self,
        table: Table,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        // The key attributes are the item's identity: an update never rewrites them.
        let actions: Vec<UpdateAction> = actions.into_iter().filter(|action| !touches_key(action)).collect();
        let mut p = Placeholders::default();
        let update = p.update(&actions)?;
        let condition = condition.as_ref().map(|c| p.condition(c));
        let output = self
            .client
            .update_item()
            .table_name(self.table_name(table))
            .set_key(Some(key_attributes(key)))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| self.cost.failed(self.condition_failed(table, key, err)))?;
        self.cost.write(output.consumed_capacity());
        item_of(output.attributes())?
            .ok_or_else(|| StoreError::Unavailable("DynamoDB returned no image of an updated item".to_owned()))
    }

    async fn delete(&self, table: Table, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        let mut p = Placeholders::default();
        let condition = condition.as_ref().map(|c| p.condition(c));
        let output = self
            .client
            .delete_item()
            .table_name(self.table_name(table))
            .set_key(Some(key_attributes(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| self.cost.failed(self.condition_failed(table, key, err)))?;
        self.cost.write(output.consumed_capacity());
        item_of(output.attributes())
    }

    async fn query(&self, query: Query) -> Result<QueryPage, StoreError> {
        let (pk_attr, sk_attr) = match query.index {
            Some(index) if query.table.indexes().contains(&index) => (index.pk_attr(), index.sk_attr()),
            Some(index) => return Err(StoreError::Invalid(format!("{:?} has no index {index:?}", query.table))),
            None => ("pk", "sk"),
        };
        let limit = match query.limit {
            Some(0) => return Err(StoreError::Invalid("a query's limit is at least 1".to_owned())),
            Some(limit) => Some(i32::try_from(limit).unwrap_or(i32::MAX)),
            None => None,
        };
        let mut p = Placeholders::default();
        let key_condition = p.key_condition(pk_attr, &query.pk, sk_attr, &query.sk);
        // DynamoDB resumes from the key attributes alone: the table's and the index's.
        let start = query.start_after.as_ref().map(|last| {
            let mut start = Attributes::new();
            for attribute in ["pk", "sk", pk_attr, sk_attr] {
                if let Some(value) = last.get(attribute) {
                    start.insert(attribute.to_owned(), super::attributes::to_attribute(value));
                }
            }
            start
        });
        let output = self
            .client
            .query()
            .table_name(self.table_name(query.table))
            .set_index_name(query.index.map(|index| index.name().to_owned()))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .scan_index_forward(query.forward)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            // A global secondary index cannot be read consistently.
            .consistent_read(query.index.is_none() && query.consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| self.cost.failed(self.failure(Some(query.table), err)))?;
        self.cost.read(output.consumed_capacity());
        let items = output.items().iter().map(from_attributes).collect::<Result<Vec<_>, _>>()?;
        let last_evaluated = item_of(output.last_evaluated_key())?;
        Ok(QueryPage { items, last_evaluated })
    }

    async fn batch_get(&self, table: Table, keys: &[Key], consistent: bool) -> Result<Vec<Option<Item>>, StoreError> {
        check_batch_get(keys)?;
        let name = self.table_name(table);
        // DynamoDB refuses a key asked twice in one request.
        let mut wanted: Vec<&Key> = keys.iter().collect();
        wanted.sort();
        wanted.dedup();
        let mut found: HashMap<Key, Item> = HashMap::with_capacity(wanted.len());
        let mut pending: Vec<Attributes> = wanted.iter().map(|key| key_attributes(key)).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Invalid(format!("batch read: {e}")))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&name, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|err| self.cost.failed(self.failure(Some(table), err)))?;
            self.cost.read_all(output.consumed_capacity());
            for attributes in output.responses().and_then(|tables| tables.get(&name)).into_iter().flatten() {
                let item = from_attributes(attributes)?;
                if let Some(key) = Key::of(&item) {
                    found.insert(key, item);
                }
            }
            // Keys DynamoDB did not get to (throughput, or 16 MB) are asked again.
            if let Some(unprocessed) = output.unprocessed_keys().and_then(|tables| tables.get(&name)) {
                pending = unprocessed.keys().to_vec();
                if !pending.is_empty() {
                    if attempt >= CONFLICT_ATTEMPTS {
                        return Err(StoreError::Unavailable(format!(
                            "DynamoDB left keys of {name} unread after {attempt} batch reads"
                        )));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn transact_write(&self, actions: Vec<WriteAction>) -> Result<(), StoreError> {
        self.transact(actions, None).await
    }

    async fn transact_write_once(&self, actions: Vec<WriteAction>, token: &str) -> Result<(), StoreError> {
        self.transact(actions, Some(token)).await
    }
}

fn touches_key(action: &UpdateAction) -> bool {
    let attribute = match action {
        UpdateAction::Set(attribute, _) | UpdateAction::Add(attribute, _) | UpdateAction::Remove(attribute) => {
            attribute
        }
    };
    attribute == "pk" || attribute == "sk"
}
