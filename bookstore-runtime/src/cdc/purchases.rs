//! purchases stream → the tenant's purchase search index (for
//! `/search/{tenant}/purchases`). Purchases are never deleted; a status change is a
//! MODIFY with a higher version, so replays and reordering leave the newest.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::records::{Change, purchase_change};
use super::{StreamHandler, apply_by_tenant};
use crate::search::{PurchaseDocument, SearchIndex};

/// Keeps the purchase index in step with the purchases table.
pub struct PurchasesToSearch {
    search: Arc<dyn SearchIndex>,
}

impl PurchasesToSearch {
    pub fn new(search: Arc<dyn SearchIndex>) -> Self {
        Self { search }
    }
}

#[async_trait::async_trait]
impl StreamHandler for PurchasesToSearch {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let parse = |record: &_| {
            Ok(purchase_change(record)?
                .filter(|(change, _)| *change != Change::Removed)
                .map(|(_, p)| (p.tenant_id.clone(), PurchaseDocument::from(&p))))
        };
        apply_by_tenant(&event, parse, |tenant, documents| async move {
            self.search.apply_purchases(&tenant, documents).await
        })
        .await
    }
}
