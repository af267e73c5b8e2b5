//! purchases stream → the tenant's purchase search index (for
//! `/search/{tenant}/purchases`). Purchases are never deleted; a status change is a
//! MODIFY with a higher version, so replays and reordering leave the newest.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::{StreamHandler, decode_image, failure};
use crate::domain::{Purchase, TenantId};
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
        let mut response = DynamoDbEventResponse::default();
        let mut by_tenant: BTreeMap<TenantId, Vec<(PurchaseDocument, &EventRecord)>> = BTreeMap::new();
        for record in &event.records {
            match purchase(record) {
                Ok(Some(p)) => {
                    by_tenant.entry(p.tenant_id.clone()).or_default().push((PurchaseDocument::from(&p), record))
                }
                Ok(None) => {}
                Err(reason) => {
                    tracing::warn!(sequence = ?record.change.sequence_number, %reason, "purchase change not indexable");
                    response.batch_item_failures.push(failure(record));
                }
            }
        }
        for (tenant, documents) in by_tenant {
            let records: Vec<&EventRecord> = documents.iter().map(|(_, r)| *r).collect();
            let documents = documents.into_iter().map(|(d, _)| d).collect();
            if let Err(err) = self.search.apply_purchases(&tenant, documents).await {
                tracing::error!(tenant = %tenant, error = %err, "purchase index update failed");
                response.batch_item_failures.extend(records.into_iter().map(failure));
            }
        }
        response
    }
}
