//! Where a tenant's search node runs: its container on the stage's search host and the
//! host port it answers on. Written by `bookstore tenant add` before the container is
//! created (so an interrupted add leaves a record the next one repairs), read by the
//! functions to find the tenant's endpoint.

use serde::{Deserialize, Serialize};

use crate::domain::TenantId;
use crate::error::Result;
use crate::store::{self, Store, Table, keys};

/// The first and last host port a tenant container may take (the search host's security
/// group opens 9200-9299; 9200 stays free for an operator's own node).
pub const FIRST_TENANT_PORT: u16 = 9201;
pub const LAST_TENANT_PORT: u16 = 9299;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPlacement {
    pub tenant_id: TenantId,
    /// The host port the tenant's node answers on.
    pub port: u16,
    /// The image its container runs (`bookstore-search:…` or Elasticsearch's).
    pub image: String,
    pub container: String,
    pub volume: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub async fn get(store: &dyn Store, tenant: &TenantId) -> Result<Option<SearchPlacement>> {
    let item = store.get(Table::Tenants, &keys::tenant_search_placement(tenant)).await?;
    Ok(item.map(store::item_record).transpose()?)
}

pub async fn put(store: &dyn Store, placement: &SearchPlacement) -> Result<()> {
    let item = store::record_item(placement, &keys::tenant_search_placement(&placement.tenant_id), &[])?;
    Ok(store.put(Table::Tenants, item, None).await?)
}

pub async fn delete(store: &dyn Store, tenant: &TenantId) -> Result<()> {
    store.delete(Table::Tenants, &keys::tenant_search_placement(tenant), None).await?;
    Ok(())
}
