//! Remembers, for a few seconds, which tenants were found active, so a request does
//! not read the tenants table every time. A suspension takes effect within `TTL`;
//! an unknown or suspended tenant is never remembered, so it is checked every time.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::accounts;
use crate::domain::TenantId;
use crate::error::Result;
use crate::store::Store;

/// How long a tenant found active is trusted without reading it again.
pub const TTL: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct ActiveTenants {
    checked_at: RwLock<HashMap<TenantId, Instant>>,
}

impl ActiveTenants {
    /// Fails unless the tenant exists and is active (as of at most `TTL` ago).
    pub async fn require(&self, store: &dyn Store, tenant: &TenantId) -> Result<()> {
        let fresh = self
            .checked_at
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(tenant)
            .is_some_and(|at| at.elapsed() < TTL);
        if fresh {
            return Ok(());
        }
        accounts::require_active_tenant(store, tenant).await?;
        self.checked_at.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(tenant.clone(), Instant::now());
        Ok(())
    }
}
