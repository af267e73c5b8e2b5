//! Onboarding a tenant onto the stage's search host, repairing it, taking it off, and
//! reporting on it: the tenant row, its placement, its container and volume, its indices.
//! `bookstore tenant …` runs this against a Docker API it reaches directly
//! (`DOCKER_HOST`), and the `tenant-admin` function runs the same inside the VPC.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::containers::{ContainerStatus, HostError, SearchHost, container_name, volume_name};
use crate::domain::TenantId;
use crate::elasticsearch::{ElasticsearchSearch, IndexKind};
use crate::search::placement::{self, FIRST_TENANT_PORT, LAST_TENANT_PORT, SearchPlacement};
use crate::store::SharedStore;

/// How many times an add moves on when another add took its chosen port first.
const MAX_PORT_RACES: usize = 5;

/// Whether a start failed because something else holds the port.
fn takes_port(err: &AdminError) -> bool {
    let text = match err {
        AdminError::Host(HostError::Docker { reason, .. }) => reason.as_str(),
        AdminError::Host(HostError::Unhealthy { logs, .. }) => logs.as_str(),
        _ => return false,
    };
    let text = text.to_ascii_lowercase();
    text.contains("address already in use") || text.contains("port is already allocated")
}

/// How long a new container may take to become healthy.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(90);

/// What the admin is asked to do (also the `tenant-admin` function's event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AdminCommand {
    /// Place (or repair) the tenant's container; `port` pins its host port.
    Place {
        tenant: TenantId,
        port: Option<u16>,
    },
    /// Remove its container; with `purge`, its volume and placement too.
    Remove {
        tenant: TenantId,
        purge: bool,
    },
    Show {
        tenant: TenantId,
    },
    List,
    /// Rebuild the tenant's books index from the store, swapping it in when complete.
    Reindex {
        tenant: TenantId,
    },
}

/// One tenant's search placement as `tenant list|show` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantSearchReport {
    pub tenant: TenantId,
    pub container: Option<String>,
    pub state: String,
    pub health: String,
    pub port: Option<u16>,
    pub image: Option<String>,
    pub volume: Option<String>,
    /// Live documents in the tenant's indices (`None` when the node does not answer).
    pub documents: Option<u64>,
    pub disk_bytes: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("{0}")]
    Store(String),
    #[error("host port {port} is {why}; choose another with --port ({FIRST_TENANT_PORT}-{LAST_TENANT_PORT})")]
    Port { port: u16, why: String },
    #[error("every host port {FIRST_TENANT_PORT}-{LAST_TENANT_PORT} is taken: this host is full")]
    HostFull,
    #[error("the container of {tenant} is healthy but its indices could not be created: {reason}")]
    Indices { tenant: TenantId, reason: String },
}

impl From<crate::error::Error> for AdminError {
    fn from(err: crate::error::Error) -> Self {
        AdminError::Store(err.to_string())
    }
}

/// A step of placing a tenant, for a progress display.
#[derive(Debug, Clone)]
pub enum Step<'a> {
    Volume,
    Container { port: u16 },
    Waiting(&'a ContainerStatus),
    Indices,
}

pub struct TenantAdmin {
    pub store: SharedStore,
    pub host: SearchHost,
    /// Where the host's tenant ports are reached from here (`127.0.0.1`, its private IP).
    pub host_address: String,
}

impl TenantAdmin {
    fn endpoint(&self, port: u16) -> String {
        format!("http://{}:{port}", self.host_address)
    }

    /// The pinned port if it is free of other tenants, else the tenant's recorded one,
    /// else the lowest free; never one in `lost`.
    async fn choose_port(&self, tenant: &TenantId, wanted: Option<u16>, lost: &[u16]) -> Result<u16, AdminError> {
        let existing = placement::get(self.store.as_ref(), tenant).await?.filter(|p| !lost.contains(&p.port));
        let mut taken = self.host.ports_in_use().await?;
        taken.extend_from_slice(lost);
        for other in self.placements().await? {
            if other.tenant_id != *tenant {
                taken.push(other.port);
            }
        }
        if let Some(mine) = existing.as_ref().map(|p| p.port) {
            taken.retain(|p| *p != mine);
        }
        if let Some(port) = wanted {
            if !(FIRST_TENANT_PORT..=LAST_TENANT_PORT).contains(&port) {
                return Err(AdminError::Port { port, why: "outside the range the search host opens".into() });
            }
            if taken.contains(&port) {
                return Err(AdminError::Port { port, why: "taken by another tenant".into() });
            }
            return Ok(port);
        }
        if let Some(port) = existing.map(|p| p.port) {
            return Ok(port);
        }
        (FIRST_TENANT_PORT..=LAST_TENANT_PORT).find(|p| !taken.contains(p)).ok_or(AdminError::HostFull)
    }

    async fn placements(&self) -> Result<Vec<SearchPlacement>, AdminError> {
        let mut out = Vec::new();
        for tenant in crate::accounts::list_tenants(self.store.as_ref()).await? {
            out.extend(placement::get(self.store.as_ref(), &tenant.tenant_id).await?);
        }
        Ok(out)
    }

    /// Places the tenant's container, or repairs what an earlier run left: a missing
    /// volume, container or index, a stopped container, a changed image. The placement
    /// row is written first, so an interrupted run is repaired by the next.
    pub async fn place(
        &self,
        tenant: &TenantId,
        port: Option<u16>,
        progress: &(dyn Fn(Step<'_>) + Send + Sync),
    ) -> Result<TenantSearchReport, AdminError> {
        self.host.ping().await?;
        let mut lost_races = Vec::new();
        loop {
            let chosen = self.choose_port(tenant, port, &lost_races).await?;
            match self.start_on(tenant, chosen, progress).await {
                // Another add took the port between our look and our start: a pinned
                // port is the caller's to change; a chosen one moves on.
                Err(err) if port.is_none() && lost_races.len() < MAX_PORT_RACES && takes_port(&err) => {
                    lost_races.push(chosen);
                }
                Err(err) => return Err(err),
                Ok(()) => break,
            }
        }
        self.report(tenant).await
    }

    /// Records the placement, then makes the volume, the container on `port`, its health
    /// and its indices.
    async fn start_on(
        &self,
        tenant: &TenantId,
        port: u16,
        progress: &(dyn Fn(Step<'_>) + Send + Sync),
    ) -> Result<(), AdminError> {
        let record = SearchPlacement {
            tenant_id: tenant.clone(),
            port,
            image: self.host.settings.image.reference().to_owned(),
            container: container_name(tenant),
            volume: volume_name(tenant),
            updated_at: chrono::Utc::now(),
        };
        placement::put(self.store.as_ref(), &record).await?;
        progress(Step::Volume);
        self.host.ensure_volume(tenant).await?;
        progress(Step::Container { port });
        self.host.ensure_running(tenant, port).await?;
        if let Err(unhealthy) =
            self.host.wait_healthy(tenant, HEALTHY_WITHIN, &|status| progress(Step::Waiting(status))).await
        {
            // Not left restarting in a loop: the error carries its logs, the volume and
            // placement stay, and the next add starts a fresh container.
            let _ = self.host.remove_container(tenant).await;
            return Err(unhealthy.into());
        }
        progress(Step::Indices);
        let search = ElasticsearchSearch::at(self.endpoint(port));
        for kind in [IndexKind::Books, IndexKind::Purchases] {
            search
                .ensure_index(tenant, kind)
                .await
                .map_err(|err| AdminError::Indices { tenant: tenant.clone(), reason: err.to_string() })?;
        }
        Ok(())
    }

    /// Stops and removes the tenant's container; with `purge` its volume and placement.
    pub async fn remove(&self, tenant: &TenantId, purge: bool) -> Result<TenantSearchReport, AdminError> {
        self.host.remove_container(tenant).await?;
        if purge {
            self.host.remove_volume(tenant).await?;
            placement::delete(self.store.as_ref(), tenant).await?;
        }
        self.report(tenant).await
    }

    pub async fn report(&self, tenant: &TenantId) -> Result<TenantSearchReport, AdminError> {
        let placed = placement::get(self.store.as_ref(), tenant).await?;
        let status = self.host.status(tenant).await?;
        let volume = self.host.volume_exists(tenant).await?.then(|| volume_name(tenant));
        let port = status.as_ref().and_then(|s| s.port).or(placed.as_ref().map(|p| p.port));
        let (documents, disk_bytes) = match (&status, port) {
            (Some(s), Some(port)) if s.state == "running" => self.index_stats(tenant, port).await,
            _ => (None, None),
        };
        Ok(TenantSearchReport {
            tenant: tenant.clone(),
            container: status.as_ref().map(|s| s.name.clone()),
            state: status.as_ref().map_or("absent".to_owned(), |s| s.state.clone()),
            health: status.as_ref().map_or("none".to_owned(), |s| s.health.clone()),
            port,
            image: status.map(|s| s.image).or(placed.map(|p| p.image)),
            volume,
            documents,
            disk_bytes,
        })
    }

    /// Documents and bytes of the tenant's indices, from `_cat/indices`.
    async fn index_stats(&self, tenant: &TenantId, port: u16) -> (Option<u64>, Option<u64>) {
        let url = format!("{}/_cat/indices?format=json&bytes=b", self.endpoint(port));
        let Ok(answer) = reqwest::get(&url).await else { return (None, None) };
        let Ok(rows) = answer.json::<Vec<Value>>().await else { return (None, None) };
        let prefix = format!("{tenant}-");
        let number = |row: &Value, key: &str| row.get(key).and_then(|v| v.as_str()?.parse::<u64>().ok()).unwrap_or(0);
        let mine: Vec<&Value> =
            rows.iter().filter(|r| r["index"].as_str().is_some_and(|i| i.starts_with(&prefix))).collect();
        (
            Some(mine.iter().map(|r| number(r, "docs.count")).sum()),
            Some(mine.iter().map(|r| number(r, "store.size")).sum()),
        )
    }

    /// Rebuilds the tenant's books index in its container from the store (a new index
    /// generation swapped in by alias); `indexed` hears each chunk. Returns the books read.
    pub async fn reindex(
        &self,
        tenant: &TenantId,
        indexed: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, AdminError> {
        let placed = placement::get(self.store.as_ref(), tenant).await?.ok_or_else(|| {
            AdminError::Store(format!(
                "tenant {tenant} has no search container: run `bookstore tenant add {tenant}` first"
            ))
        })?;
        let search = ElasticsearchSearch::at(self.endpoint(placed.port));
        Ok(crate::cdc::rebuild_index(self.store.as_ref(), &search, tenant, indexed).await?)
    }

    pub async fn list(&self) -> Result<Vec<TenantSearchReport>, AdminError> {
        let mut out = Vec::new();
        for tenant in crate::accounts::list_tenants(self.store.as_ref()).await? {
            out.push(self.report(&tenant.tenant_id).await?);
        }
        Ok(out)
    }

    /// Runs a command as the `tenant-admin` function receives it.
    pub async fn run(&self, command: AdminCommand) -> Result<Vec<TenantSearchReport>, AdminError> {
        match command {
            AdminCommand::Place { tenant, port } => Ok(vec![self.place(&tenant, port, &|_| {}).await?]),
            AdminCommand::Remove { tenant, purge } => Ok(vec![self.remove(&tenant, purge).await?]),
            AdminCommand::Show { tenant } => Ok(vec![self.report(&tenant).await?]),
            AdminCommand::List => self.list().await,
            AdminCommand::Reindex { tenant } => {
                self.reindex(&tenant, &|_| {}).await?;
                Ok(vec![self.report(&tenant).await?])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_that_lost_its_port_is_told_from_other_failures() {
        let unhealthy = |logs: &str| {
            AdminError::Host(HostError::Unhealthy {
                container: "a-search".into(),
                waited: Duration::from_secs(1),
                state: "exited".into(),
                health: "unhealthy".into(),
                logs: logs.into(),
            })
        };
        assert!(takes_port(&unhealthy(
            "Error: listening on 0.0.0.0:9201\nCaused by: Address already in use (os error 98)"
        )));
        assert!(!takes_port(&unhealthy("out of memory")));
        let refused =
            |reason: &str| AdminError::Host(HostError::Docker { endpoint: "unix://x".into(), reason: reason.into() });
        assert!(takes_port(&refused("500: driver failed: Bind for 0.0.0.0:9201 failed: port is already allocated")));
        assert!(!takes_port(&refused("BadCertificate")));
        assert!(!takes_port(&AdminError::HostFull));
    }
}
