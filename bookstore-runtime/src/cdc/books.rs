//! books stream → the tenant's search index. INSERT and MODIFY index the new image
//! (a book taken off sale is removed), REMOVE deletes; every change carries the book's
//! version, so the index keeps the newest whatever order records arrive in.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::{StreamHandler, apply_by_tenant, decode_image};
use crate::domain::{Book, TenantId};
use crate::search::{BookDocument, IndexChange, SearchIndex};
use crate::store::{Item, keys};

/// Keeps the search index in step with the books table.
pub struct BooksToSearch {
    search: Arc<dyn SearchIndex>,
}

impl BooksToSearch {
    pub fn new(search: Arc<dyn SearchIndex>) -> Self {
        Self { search }
    }
}

/// What one stream record asks of the index (`None`: not a book, e.g. an ISBN claim).
fn index_change(record: &EventRecord) -> Result<Option<(TenantId, IndexChange)>, String> {
    let new = decode_image(&record.change.new_image)?;
    let old = decode_image(&record.change.old_image)?;
    let is_book =
        |item: &Item| item.get("sk").and_then(|v| v.as_str()).is_some_and(|sk| sk.starts_with(keys::BOOK_SK_PREFIX));
    let book = |item: Item| {
        serde_json::from_value::<Book>(serde_json::Value::Object(item)).map_err(|e| format!("not a book: {e}"))
    };
    match (record.event_name.as_str(), new, old) {
        ("INSERT" | "MODIFY", Some(image), _) if is_book(&image) => {
            let book = book(image)?;
            let change = if book.is_active {
                IndexChange::Upsert(BookDocument::from(&book))
            } else {
                IndexChange::Delete { book_id: book.book_id, version: book.version }
            };
            Ok(Some((book.tenant_id, change)))
        }
        ("REMOVE", _, Some(image)) if is_book(&image) => {
            let book = book(image)?;
            Ok(Some((book.tenant_id, IndexChange::Delete { book_id: book.book_id, version: book.version })))
        }
        ("INSERT" | "MODIFY" | "REMOVE", _, _) => Ok(None),
        (other, _, _) => Err(format!("unknown event name {other:?}")),
    }
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
