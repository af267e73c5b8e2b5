//! purchases stream → the tenant's purchase search index (for
//! `/search/{tenant}/purchases`). Purchases are never deleted; a status change is a
//! MODIFY with a higher version, so replays and reordering leave the newest.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::{StreamHandler, apply_by_tenant, decode_image};
use crate::domain::Purchase;
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

fn purchase(record: &EventRecord) -> Result<Option<Purchase>, String> {
    let image = match record.event_name.as_str() {
        "INSERT" | "MODIFY" => decode_image(&record.change.new_image)?,
        "REMOVE" => return Ok(None),
        other => return Err(format!("unknown event name {other:?}")),
    };
    let Some(image) = image else { return Err("no new image".to_owned()) };
    let is_purchase = image.get("sk").and_then(|v| v.as_str()).is_some_and(|sk| sk.starts_with("PURCHASE#"));
    if !is_purchase {
        return Ok(None);
    }
    serde_json::from_value(serde_json::Value::Object(image)).map(Some).map_err(|e| format!("not a purchase: {e}"))
}

#[async_trait::async_trait]
impl StreamHandler for PurchasesToSearch {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let parse = |record: &EventRecord| {
            purchase(record).map(|found| found.map(|p| (p.tenant_id.clone(), PurchaseDocument::from(&p))))
        };
        apply_by_tenant(&event, parse, |tenant, documents| async move {
            self.search.apply_purchases(&tenant, documents).await
        })
        .await
    }
}
