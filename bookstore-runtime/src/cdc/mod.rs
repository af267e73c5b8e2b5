//! Change-data capture. Handlers take a batch of change records **in the DynamoDB
//! Streams shape** (`aws_lambda_events::dynamodb::Event`) and answer which records
//! failed (`ReportBatchItemFailures`), so the same handler runs in a Lambda on a stream's
//! event source mapping and, locally, on the embedded store's change feed.
//!
//! What a handler must guarantee: applying a record twice, or a stale record after a
//! newer one, leaves the same final state; a record it cannot process is reported by
//! its sequence number and does not stop the others.

mod books;
mod lake;
mod purchases;
mod rebuild;
mod records;
mod stream_shape;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

pub use books::BooksToSearch;
pub use lake::{BooksToLake, PurchasesToLake};
pub use purchases::PurchasesToSearch;
pub use rebuild::{index_is_missing, rebuild_index};
pub use stream_shape::{decode_image, stream_event, stream_record};

use crate::changes::{ChangeFeed, ChangeStream, FeedConfig, FeedLedger};
use crate::domain::TenantId;
use crate::functions;
use crate::lake::LakeWriter;
use crate::search::{SearchError, SearchIndex};
use crate::store::Table;

/// A consumer of a table's change stream.
#[async_trait::async_trait]
pub trait StreamHandler: Send + Sync + 'static {
    /// Processes a batch; the response names the records that failed by sequence number.
    async fn handle(&self, event: Event) -> DynamoDbEventResponse;
}

/// Records per lake batch: a file holds up to this many of one tenant's day.
pub const LAKE_BATCH_SIZE: usize = 1000;

/// How long the lake consumers gather a short batch. A file per read would make a file
/// per purchase or two when traffic is light; five seconds keeps a burst's purchases in
/// a few files, and the lake five seconds behind the store.
pub const LAKE_BATCHING_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// The stage's change-data capture: one feed per stream and consumer, as the event source
/// mappings are on AWS (each with its own checkpoints and dead letters in `ledger`); the
/// lake's gather their batches for `LAKE_BATCHING_WINDOW`.
pub fn stream_feeds(
    stream: Arc<dyn ChangeStream>,
    ledger: Arc<dyn FeedLedger>,
    search: Arc<dyn SearchIndex>,
    lake: Arc<dyn LakeWriter>,
    config: &FeedConfig,
) -> Vec<ChangeFeed> {
    let lake_config =
        FeedConfig { batch_size: LAKE_BATCH_SIZE, batching_window: LAKE_BATCHING_WINDOW, ..config.clone() };
    let feed = |name: &str, table: Table, handler: Arc<dyn StreamHandler>, config: &FeedConfig| {
        ChangeFeed::new(stream.clone(), ledger.clone(), name, table, handler, config.clone())
    };
    vec![
        feed(functions::BOOKS_TO_SEARCH, Table::Books, Arc::new(BooksToSearch::new(search.clone())), config),
        feed(functions::PURCHASES_TO_SEARCH, Table::Purchases, Arc::new(PurchasesToSearch::new(search)), config),
        feed(functions::BOOKS_TO_LAKE, Table::Books, Arc::new(BooksToLake::new(lake.clone())), &lake_config),
        feed(functions::PURCHASES_TO_LAKE, Table::Purchases, Arc::new(PurchasesToLake::new(lake)), &lake_config),
    ]
}

/// Reports a record as failed, by its sequence number.
fn failure(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = record.change.sequence_number.clone();
    failure
}

/// Parses each record into a tenant's change (or nothing to do), applies the changes
/// tenant by tenant, and reports as failed the records that did not parse and those of
/// a tenant whose apply failed; the others stand.
async fn apply_by_tenant<T, Fut>(
    event: &Event,
    parse: impl Fn(&EventRecord) -> Result<Option<(TenantId, T)>, String>,
    apply: impl Fn(TenantId, Vec<T>) -> Fut,
) -> DynamoDbEventResponse
where
    Fut: Future<Output = Result<(), SearchError>>,
{
    let mut response = DynamoDbEventResponse::default();
    let mut by_tenant: BTreeMap<TenantId, Vec<(T, &EventRecord)>> = BTreeMap::new();
    for record in &event.records {
        match parse(record) {
            Ok(Some((tenant, change))) => by_tenant.entry(tenant).or_default().push((change, record)),
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(sequence = ?record.change.sequence_number, %reason, "change record not applicable");
                response.batch_item_failures.push(failure(record));
            }
        }
    }
    for (tenant, changes) in by_tenant {
        let (changes, records): (Vec<T>, Vec<&EventRecord>) = changes.into_iter().unzip();
        match apply(tenant.clone(), changes).await {
            Ok(()) => {}
            Err(SearchError::Refused { failed, reason }) => {
                tracing::error!(tenant = %tenant, %reason, refused = failed.len(), "the index refused some changes");
                response
                    .batch_item_failures
                    .extend(failed.into_iter().filter_map(|at| records.get(at)).map(|r| failure(r)));
            }
            Err(err) => {
                tracing::error!(tenant = %tenant, error = %err, "applying changes failed");
                response.batch_item_failures.extend(records.into_iter().map(failure));
            }
        }
    }
    response
}
