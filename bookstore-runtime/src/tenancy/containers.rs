//! A tenant's search container on the search host, through the host's Docker API: one
//! container named after the tenant (`{tenant}-search`), its named volume
//! (`{tenant}-search-data`), its own host port, a memory limit, `unless-stopped`, and a
//! healthcheck the image can run without a shell.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, HealthConfig, HealthStatusEnum, HostConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::domain::TenantId;

/// The label every container and volume Bookstore manages carries, with the tenant.
pub const TENANT_LABEL: &str = "bookstore.tenant";

/// Which node a stage's tenants run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeImage {
    /// `bookstore-search` (the image holds the static binary at `/bookstore-search`).
    BookstoreSearch(String),
    /// The official Elasticsearch image, single node, security off inside the VPC.
    Elasticsearch(String),
}

impl NodeImage {
    pub fn reference(&self) -> &str {
        match self {
            NodeImage::BookstoreSearch(image) | NodeImage::Elasticsearch(image) => image,
        }
    }

    /// Where the node keeps its data inside the container.
    fn data_dir(&self) -> &'static str {
        match self {
            NodeImage::BookstoreSearch(_) => "/data",
            NodeImage::Elasticsearch(_) => "/usr/share/elasticsearch/data",
        }
    }
}

/// How a container's port reaches the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Networking {
    /// `-p PORT:9200` (the EC2 host's normal dockerd).
    PortMapping,
    /// `--network host`, the node listening on the tenant's port (a dockerd without a
    /// bridge, as in the tests).
    Host,
}

#[derive(Debug, Clone)]
pub struct ContainerSettings {
    pub image: NodeImage,
    pub networking: Networking,
    pub memory_bytes: i64,
    /// Labels every container and volume of this stage gets (`bookstore.stage`).
    pub stage: String,
}

/// What a container is doing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContainerStatus {
    pub name: String,
    pub image: String,
    /// `running`, `exited`, `created`, … (Docker's state).
    pub state: String,
    /// `healthy`, `starting`, `unhealthy`, or `none`.
    pub health: String,
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the search host's Docker API at {endpoint} refused or failed: {reason}")]
    Docker { endpoint: String, reason: String },
    #[error("{name} is taken by a container or volume Bookstore does not manage; rename or remove it first")]
    NameTaken { name: String },
    #[error(
        "{container} did not become healthy within {waited:?} (state {state}, health {health}); its last log lines:\n{logs}"
    )]
    Unhealthy { container: String, waited: Duration, state: String, health: String, logs: String },
}

pub fn container_name(tenant: &TenantId) -> String {
    format!("{tenant}-search")
}

pub fn volume_name(tenant: &TenantId) -> String {
    format!("{tenant}-search-data")
}

/// The port the node listens on inside the container.
const NODE_PORT: u16 = 9200;

pub struct SearchHost {
    docker: Docker,
    endpoint: String,
    pub settings: ContainerSettings,
}

impl SearchHost {
    pub fn new(docker: Docker, endpoint: impl Into<String>, settings: ContainerSettings) -> Self {
        Self { docker, endpoint: endpoint.into(), settings }
    }

    fn failed(&self, err: DockerError) -> HostError {
        HostError::Docker { endpoint: self.endpoint.clone(), reason: describe(err) }
    }

    /// Checks the API answers (and accepts our certificate).
    pub async fn ping(&self) -> Result<(), HostError> {
        self.docker.ping().await.map(|_| ()).map_err(|err| self.failed(err))
    }

    fn labels(&self, tenant: &TenantId) -> HashMap<String, String> {
        HashMap::from([
            (TENANT_LABEL.to_owned(), tenant.to_string()),
            ("bookstore.stage".to_owned(), self.settings.stage.clone()),
        ])
    }

    /// Creates the tenant's volume unless it exists (and refuses one that is not ours).
    pub async fn ensure_volume(&self, tenant: &TenantId) -> Result<(), HostError> {
        let name = volume_name(tenant);
        match self.docker.inspect_volume(&name).await {
            Ok(volume) if volume.labels.get(TENANT_LABEL) == Some(&tenant.to_string()) => Ok(()),
            Ok(_) => Err(HostError::NameTaken { name }),
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {
                let request =
                    VolumeCreateRequest { name: Some(name), labels: Some(self.labels(tenant)), ..Default::default() };
                self.docker.create_volume(request).await.map(|_| ()).map_err(|err| self.failed(err))
            }
            Err(err) => Err(self.failed(err)),
        }
    }

    fn container_spec(&self, tenant: &TenantId, port: u16) -> ContainerCreateBody {
        let settings = &self.settings;
        let listen_port = match settings.networking {
            Networking::Host => port,
            Networking::PortMapping => NODE_PORT,
        };
        let (cmd, env, healthcheck) = match &settings.image {
            NodeImage::BookstoreSearch(_) => (
                Some(vec![
                    "/bookstore-search".to_owned(),
                    "--data-dir".to_owned(),
                    "/data".to_owned(),
                    "--listen".to_owned(),
                    format!("0.0.0.0:{listen_port}"),
                ]),
                None,
                vec![
                    "CMD".to_owned(),
                    "/bookstore-search".to_owned(),
                    "health".to_owned(),
                    "--url".to_owned(),
                    format!("http://127.0.0.1:{listen_port}"),
                ],
            ),
            NodeImage::Elasticsearch(_) => (
                None,
                Some(vec![
                    "discovery.type=single-node".to_owned(),
                    "xpack.security.enabled=false".to_owned(),
                    format!("http.port={listen_port}"),
                    format!("ES_JAVA_OPTS=-Xms{0}m -Xmx{0}m", (settings.memory_bytes / 2 / 1024 / 1024).max(256)),
                ]),
                vec![
                    "CMD-SHELL".to_owned(),
                    format!("curl -fs http://127.0.0.1:{listen_port}/_cluster/health || exit 1"),
                ],
            ),
        };
        let second = 1_000_000_000;
        let mut host_config = HostConfig {
            memory: Some(settings.memory_bytes),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            binds: Some(vec![format!("{}:{}", volume_name(tenant), settings.image.data_dir())]),
            ..Default::default()
        };
        match settings.networking {
            Networking::Host => host_config.network_mode = Some("host".to_owned()),
            Networking::PortMapping => {
                let binding = PortBinding { host_ip: Some("0.0.0.0".to_owned()), host_port: Some(port.to_string()) };
                host_config.port_bindings = Some(HashMap::from([(format!("{NODE_PORT}/tcp"), Some(vec![binding]))]));
            }
        }
        let mut labels = self.labels(tenant);
        labels.insert("bookstore.port".to_owned(), port.to_string());
        ContainerCreateBody {
            image: Some(settings.image.reference().to_owned()),
            cmd,
            env,
            labels: Some(labels),
            exposed_ports: (settings.networking == Networking::PortMapping).then(|| vec![format!("{NODE_PORT}/tcp")]),
            healthcheck: Some(HealthConfig {
                test: Some(healthcheck),
                interval: Some(second),
                timeout: Some(3 * second),
                retries: Some(3),
                start_period: Some(30 * second),
                start_interval: Some(second / 4),
            }),
            host_config: Some(host_config),
            ..Default::default()
        }
    }

    /// The tenant's container as Docker reports it, or `None` when there is none.
    pub async fn status(&self, tenant: &TenantId) -> Result<Option<ContainerStatus>, HostError> {
        let name = container_name(tenant);
        let inspected = match self.docker.inspect_container(&name, None).await {
            Ok(inspected) => inspected,
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => return Ok(None),
            Err(err) => return Err(self.failed(err)),
        };
        let labels = inspected.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
        if labels.get(TENANT_LABEL) != Some(&tenant.to_string()) {
            return Err(HostError::NameTaken { name });
        }
        let state = inspected.state.as_ref();
        let status = state.and_then(|s| s.status).map_or("unknown".to_owned(), |s| state_name(s).to_owned());
        let health = state.and_then(|s| s.health.as_ref()).and_then(|h| h.status).map_or("none", health_name);
        Ok(Some(ContainerStatus {
            name,
            image: inspected.config.as_ref().and_then(|c| c.image.clone()).unwrap_or_default(),
            state: status,
            health: health.to_owned(),
            port: labels.get("bookstore.port").and_then(|p| p.parse().ok()),
        }))
    }

    /// Makes the tenant's container exist, on `port` and this stage's image, and run:
    /// creates it if missing, recreates it if its image or port differ, starts it if stopped.
    pub async fn ensure_running(&self, tenant: &TenantId, port: u16) -> Result<(), HostError> {
        let name = container_name(tenant);
        match self.status(tenant).await? {
            // A healthy (or starting) container of the right image and port stays; any
            // other is replaced: a stopped or failing one starts over with fresh health.
            Some(current)
                if current.image == self.settings.image.reference()
                    && current.port == Some(port)
                    && current.state == "running"
                    && current.health != "unhealthy" =>
            {
                return Ok(());
            }
            Some(_) => {
                self.remove_container(tenant).await?;
            }
            None => {}
        }
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(options), self.container_spec(tenant, port))
            .await
            .map_err(|err| self.failed(err))?;
        if let Err(err) = self.docker.start_container(&name, None).await {
            // A container that cannot start (its port taken) is not left behind.
            let failure = self.failed(err);
            let _ = self.remove_container(tenant).await;
            return Err(failure);
        }
        Ok(())
    }

    /// Waits until Docker reports the container healthy; fails with its logs' tail when it
    /// exits, turns unhealthy, or `deadline` passes. `progress` hears each state seen.
    pub async fn wait_healthy(
        &self,
        tenant: &TenantId,
        deadline: Duration,
        progress: &(dyn Fn(&ContainerStatus) + Send + Sync),
    ) -> Result<ContainerStatus, HostError> {
        let started = Instant::now();
        loop {
            let status = self.status(tenant).await?.ok_or_else(|| HostError::Docker {
                endpoint: self.endpoint.clone(),
                reason: format!("container {} disappeared while starting", container_name(tenant)),
            })?;
            progress(&status);
            if status.health == "healthy" {
                return Ok(status);
            }
            let gave_up = status.state == "exited" || status.state == "dead" || status.health == "unhealthy";
            if gave_up || started.elapsed() > deadline {
                return Err(HostError::Unhealthy {
                    container: status.name,
                    waited: started.elapsed(),
                    state: status.state,
                    health: status.health,
                    logs: self.logs_tail(tenant, 20).await,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The container's last log lines (empty when they cannot be read).
    pub async fn logs_tail(&self, tenant: &TenantId, lines: usize) -> String {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&lines.to_string()).build();
        let mut stream = self.docker.logs(&container_name(tenant), Some(options));
        let mut out = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        out
    }

    pub async fn remove_container(&self, tenant: &TenantId) -> Result<bool, HostError> {
        let name = container_name(tenant);
        if self.status(tenant).await?.is_none() {
            return Ok(false);
        }
        let stop = StopContainerOptionsBuilder::new().t(10).build();
        match self.docker.stop_container(&name, Some(stop)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 304 | 404, .. }) => {}
            Err(err) => return Err(self.failed(err)),
        }
        let remove = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(&name, Some(remove)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(true),
            Err(err) => Err(self.failed(err)),
        }
    }

    pub async fn remove_volume(&self, tenant: &TenantId) -> Result<bool, HostError> {
        let name = volume_name(tenant);
        match self.docker.inspect_volume(&name).await {
            Ok(volume) if volume.labels.get(TENANT_LABEL) != Some(&tenant.to_string()) => {
                return Err(HostError::NameTaken { name });
            }
            Ok(_) => {}
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => return Ok(false),
            Err(err) => return Err(self.failed(err)),
        }
        let options = RemoveVolumeOptionsBuilder::new().force(true).build();
        self.docker.remove_volume(&name, Some(options)).await.map(|_| true).map_err(|err| self.failed(err))
    }

    pub async fn volume_exists(&self, tenant: &TenantId) -> Result<bool, HostError> {
        match self.docker.inspect_volume(&volume_name(tenant)).await {
            Ok(_) => Ok(true),
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(err) => Err(self.failed(err)),
        }
    }

    /// Host ports taken by this host's tenant containers.
    pub async fn ports_in_use(&self) -> Result<Vec<u16>, HostError> {
        let filters = HashMap::from([("label".to_owned(), vec![TENANT_LABEL.to_owned()])]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let containers = self.docker.list_containers(Some(options)).await.map_err(|err| self.failed(err))?;
        Ok(containers.iter().filter_map(|c| c.labels.as_ref()?.get("bookstore.port")?.parse().ok()).collect())
    }
}

fn state_name(state: ContainerStateStatusEnum) -> &'static str {
    match state {
        ContainerStateStatusEnum::CREATED => "created",
        ContainerStateStatusEnum::RUNNING => "running",
        ContainerStateStatusEnum::PAUSED => "paused",
        ContainerStateStatusEnum::RESTARTING => "restarting",
        ContainerStateStatusEnum::REMOVING => "removing",
        ContainerStateStatusEnum::EXITED => "exited",
        ContainerStateStatusEnum::DEAD => "dead",
        ContainerStateStatusEnum::STOPPING => "stopping",
        ContainerStateStatusEnum::EMPTY => "unknown",
    }
}

fn health_name(health: HealthStatusEnum) -> &'static str {
    match health {
        HealthStatusEnum::HEALTHY => "healthy",
        HealthStatusEnum::STARTING => "starting",
        HealthStatusEnum::UNHEALTHY => "unhealthy",
        HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => "none",
    }
}

/// A Docker failure in words: the daemon's message, or the transport's (a refused
/// certificate shows up here).
fn describe(err: DockerError) -> String {
    match err {
        DockerError::DockerResponseServerError { status_code, message } => format!("{status_code}: {message}"),
        other => {
            let text = other.to_string();
            if text.contains("BadCertificate") || text.contains("UnknownCA") || text.contains("CertificateRequired") {
                format!(
                    "{text} (the daemon refused this client certificate: check DOCKER_CERT_PATH, or the stage's TLS material in SSM)"
                )
            } else {
                text
            }
        }
    }
}
