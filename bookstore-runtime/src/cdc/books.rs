//! books stream → the tenant's search index. INSERT and MODIFY index the new image
//! (a book taken off sale is removed), REMOVE deletes; every change carries the book's
//! version, so the index keeps the newest whatever order records arrive in.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::records::{Change, book_change};
use super::{StreamHandler, apply_by_tenant};
use crate::domain::TenantId;
use crate::search::{BookDocument, IndexChange, SearchIndex};

/// Keeps the search index in step with the books table.
pub struct BooksToSearch {
    search: Arc<dyn SearchIndex>,
}

impl BooksToSearch {
    pub fn new(search: Arc<dyn SearchIndex>) -> Self {
        Self { search }
    }
}

/// What one stream record asks of the index.
fn index_change(record: &EventRecord) -> Result<Option<(TenantId, IndexChange)>, String> {
    Ok(book_change(record)?.map(|(change, book)| {
        let index_change = if change != Change::Removed && book.is_active {
            IndexChange::Upsert(BookDocument::from(&book))
        } else {
            IndexChange::Delete { book_id: book.book_id, version: book.version }
        };
        (book.tenant_id, index_change)
    }))
}

#[async_trait::async_trait]
impl StreamHandler for BooksToSearch {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        apply_by_tenant(
            &event,
            index_change,
            |tenant, changes| async move { self.search.apply(&tenant, changes).await },
        )
        .await
    }
}
