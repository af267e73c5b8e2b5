//! Streams → the analytics lake. Each purchase lands once, when it is made (INSERT);
//! each book change lands as a snapshot (INSERT and MODIFY), from which analytics keeps
//! the newest version. A retried batch rewrites the same files (the lake names files by
//! their rows), so replays do not duplicate rows.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::records::{Change, book_change, purchase_change};
use super::{StreamHandler, apply_by_tenant};
use crate::lake::{Dataset, LakeRow, LakeWriter};

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
        let parse = |record: &_| {
            Ok(purchase_change(record)?
                .filter(|(change, _)| *change == Change::Inserted)
                .map(|(_, p)| (p.tenant_id.clone(), LakeRow::purchase(&p))))
        };
        apply_by_tenant(&event, parse, |tenant, rows| async move {
            self.lake.write(&tenant, Dataset::Purchases, rows).await
        })
        .await
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
        let parse = |record: &_| {
            Ok(book_change(record)?
                .filter(|(change, _)| *change != Change::Removed)
                .map(|(_, book)| (book.tenant_id.clone(), LakeRow::book(&book))))
        };
        apply_by_tenant(
            &event,
            parse,
            |tenant, rows| async move { self.lake.write(&tenant, Dataset::Books, rows).await },
        )
        .await
    }
}
