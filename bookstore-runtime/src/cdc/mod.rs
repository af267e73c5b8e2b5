//! Change-data capture. Handlers take a batch of change records **in the DynamoDB
//! Streams shape** (`aws_lambda_events::dynamodb::Event`) and answer which records
//! failed (`ReportBatchItemFailures`), so the same handler runs in a Lambda on a stream's
//! event source mapping and, locally, on the embedded store's change feed.
//!
//! What a handler must guarantee: applying a record twice, or a stale record after a
//! newer one, leaves the same final state; a record it cannot process is reported by
//! its sequence number and does not stop the others.

mod books;
mod purchases;
mod stream_shape;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

pub use books::BooksToSearch;
pub use purchases::PurchasesToSearch;
pub use stream_shape::{decode_image, stream_event, stream_record};

/// A consumer of a table's change stream.
#[async_trait::async_trait]
pub trait StreamHandler: Send + Sync + 'static {
    /// Processes a batch; the response names the records that failed by sequence number.
    async fn handle(&self, event: Event) -> DynamoDbEventResponse;
}

/// Reports a record as failed, by its sequence number.
fn failure(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = record.change.sequence_number.clone();
    failure
}
