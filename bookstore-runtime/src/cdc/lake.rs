//! Streams → the analytics lake. Each purchase lands once, when it is made (INSERT);
//! each book change lands as a snapshot (INSERT and MODIFY), from which analytics keeps
//! the newest version.
//!
//! Exactly once in the lake's files, with at-least-once delivery: a batch file is named
//! by its first row, and every batch is offered again only from its first record (a
//! retry) or from the checkpoint (a replay after a crash). So a handler must never leave
//! a file holding a record past the record it reports as failed. It writes only the
//! records before the first one it cannot read (and reports that one), and a failed
//! write reports the batch's first record, which offers the whole batch again.
//! A replay then rewrites each file it wrote under the same name, whatever its length.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::StreamHandler;
use super::failure;
use super::records::{Change, book_change, purchase_change};
use crate::domain::TenantId;
use crate::lake::{Dataset, LakeRow, LakeWriter};

type ParseRow = fn(&EventRecord) -> Result<Option<(TenantId, LakeRow)>, String>;

/// Writes a batch's rows as the module says: the readable prefix, all of it or none.
async fn write_batch(lake: &dyn LakeWriter, dataset: Dataset, event: &Event, parse: ParseRow) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut by_tenant: BTreeMap<TenantId, Vec<LakeRow>> = BTreeMap::new();
    for record in &event.records {
        match parse(record) {
            Ok(Some((tenant, row))) => by_tenant.entry(tenant).or_default().push(row),
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(sequence = ?record.change.sequence_number, %reason, "change record not applicable");
                response.batch_item_failures.push(failure(record));
                break;
            }
        }
    }
    for (tenant, rows) in by_tenant {
        if let Err(err) = lake.write(&tenant, dataset, rows).await {
            tracing::error!(tenant = %tenant, error = %err, "lake write failed; the batch is offered again");
            response.batch_item_failures = event.records.first().map(failure).into_iter().collect();
            break;
        }
    }
    response
}

fn purchase_row(record: &EventRecord) -> Result<Option<(TenantId, LakeRow)>, String> {
    Ok(purchase_change(record)?
        .filter(|(change, _)| *change == Change::Inserted)
        .map(|(_, p)| (p.tenant_id.clone(), LakeRow::purchase(&p))))
}

fn book_row(record: &EventRecord) -> Result<Option<(TenantId, LakeRow)>, String> {
    Ok(book_change(record)?
        .filter(|(change, _)| *change != Change::Removed)
        .map(|(_, book)| (book.tenant_id.clone(), LakeRow::book(&book))))
}

/// purchases stream → `{tenant}/purchases/...`.
pub struct PurchasesToLake {
    lake: Arc<dyn LakeWriter>,
}

impl PurchasesToLake {
    pub fn new(lake: Arc<dyn LakeWriter>) -> Self {
        Self { lake }
    }
}

#[async_trait::async_trait]
impl StreamHandler for PurchasesToLake {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        write_batch(self.lake.as_ref(), Dataset::Purchases, &event, purchase_row).await
    }
}

/// books stream → `{tenant}/books/...` snapshots.
pub struct BooksToLake {
    lake: Arc<dyn LakeWriter>,
}

impl BooksToLake {
    pub fn new(lake: Arc<dyn LakeWriter>) -> Self {
        Self { lake }
    }
}

#[async_trait::async_trait]
impl StreamHandler for BooksToLake {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        write_batch(self.lake.as_ref(), Dataset::Books, &event, book_row).await
    }
}
