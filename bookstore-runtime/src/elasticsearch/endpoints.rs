//! A tenant's search endpoint from its placement row: the search host's address and the
//! port its container answers on, cached and re-read when it stops answering.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::SearchEndpoints;
use crate::domain::TenantId;
use crate::search::SearchError;
use crate::search::placement;
use crate::store::SharedStore;

/// How long a placement is trusted before it is read again (a moved container is also
/// noticed at once: a failed call forgets the cached address).
const PLACEMENT_TTL: Duration = Duration::from_secs(60);

pub struct PlacedEndpoints {
    store: SharedStore,
    /// The search host's address (`BOOKSTORE_SEARCH_HOST`: its private IP).
    host: String,
    cache: Mutex<HashMap<TenantId, (String, Instant)>>,
}

impl PlacedEndpoints {
    pub fn new(store: SharedStore, host: impl Into<String>) -> Self {
        Self { store, host: host.into(), cache: Mutex::new(HashMap::new()) }
    }
}

#[async_trait::async_trait]
impl SearchEndpoints for PlacedEndpoints {
    async fn endpoint(&self, tenant: &TenantId) -> Result<String, SearchError> {
        if let Some((url, read_at)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(tenant)
            && read_at.elapsed() < PLACEMENT_TTL
        {
            return Ok(url.clone());
        }
        let placed = placement::get(self.store.as_ref(), tenant)
            .await
            .map_err(|err| SearchError::Unavailable(format!("reading {tenant}'s search placement: {err}")))?
            .ok_or_else(|| {
                SearchError::Unavailable(format!(
                    "tenant {tenant} has no search container: run `bookstore tenant add {tenant}`"
                ))
            })?;
        let url = format!("http://{}:{}", self.host, placed.port);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(tenant.clone(), (url.clone(), Instant::now()));
        Ok(url)
    }

    fn forget(&self, tenant: &TenantId) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(tenant);
    }
}
