//! Reaching an AWS stage's search host. With `DOCKER_HOST` set (an operator's tunnel, the
//! tests' local daemon) the command drives the host's Docker API itself; otherwise it
//! finds the stage's host with EC2 (waiting while it boots) and invokes the stage's
//! `tenant-admin` function, which runs inside the VPC and drives Docker over mutual TLS.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::store::SharedStore;
use bookstore_runtime::tenancy::{
    AdminCommand, ContainerSettings, Networking, NodeImage, SearchHost, Step, TenantAdmin, TenantSearchReport,
    docker_tls,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cmd::DynamoArgs;
use crate::stage::{SearchNetworking, SearchNode, Stage};

/// Overrides the stage's `search.networking` (`host` on a daemon without a bridge).
const NETWORKING_VARIABLE: &str = "BOOKSTORE_SEARCH_NETWORKING";
/// Where the tenant ports are reached from this machine (default: DOCKER_HOST's host).
const ADDRESS_VARIABLE: &str = "BOOKSTORE_SEARCH_ADDRESS";
/// How long `tenant` waits for a booting search host.
const HOST_BOOT_WAIT: Duration = Duration::from_secs(300);

pub enum SearchHostAccess {
    Direct(Box<TenantAdmin>),
    Function { lambda: aws_sdk_lambda::Client, function: String },
}

fn settings(stage: &Stage) -> Result<ContainerSettings> {
    let image = match stage.search.node {
        SearchNode::BookstoreSearch => NodeImage::BookstoreSearch(stage.search.image()),
        SearchNode::Elasticsearch => NodeImage::Elasticsearch(stage.search.image()),
    };
    let networking = match std::env::var(NETWORKING_VARIABLE).ok().as_deref() {
        Some("host") => Networking::Host,
        Some("port_mapping") => Networking::PortMapping,
        Some(other) => bail!("{NETWORKING_VARIABLE}={other:?}: use host or port_mapping"),
        None => match stage.search.networking {
            SearchNetworking::Host => Networking::Host,
            SearchNetworking::PortMapping => Networking::PortMapping,
        },
    };
    Ok(ContainerSettings {
        image,
        networking,
        memory_bytes: i64::from(stage.search.container_memory_mb()) * 1024 * 1024,
        stage: stage.name.clone(),
    })
}

/// The host part of `DOCKER_HOST` (a unix socket is this machine).
fn address_of(docker_host: &str) -> String {
    match docker_host.strip_prefix("tcp://").or_else(|| docker_host.strip_prefix("https://")) {
        Some(rest) => rest.rsplit_once(':').map_or(rest, |(host, _)| host).to_owned(),
        None => "127.0.0.1".to_owned(),
    }
}

impl SearchHostAccess {
    /// How to reach the stage's search host; `None` on emulated AWS (an endpoint URL given)
    /// without `DOCKER_HOST`, where there is no host to find: the command then does what
    /// the local stage does (the tenant rows only) and says so.
    pub async fn open(stage: &Stage, store: SharedStore, dynamo: &DynamoArgs) -> Result<Option<Self>> {
        if let Ok(docker_host) = std::env::var("DOCKER_HOST") {
            let (docker, endpoint) = docker_tls::from_environment()?;
            let host_address = std::env::var(ADDRESS_VARIABLE).unwrap_or_else(|_| address_of(&docker_host));
            let host = SearchHost::new(docker, endpoint, settings(stage)?);
            return Ok(Some(SearchHostAccess::Direct(Box::new(TenantAdmin { store, host, host_address }))));
        }
        if dynamo.dynamodb_endpoint_url.is_some() || dynamo.aws.endpoint_url.is_some() {
            eprintln!("search containers: skipped (emulated AWS has no search host; set DOCKER_HOST to place them)");
            return Ok(None);
        }
        let config = dynamo.connection(stage).sdk_config().await;
        wait_for_host(&aws_sdk_ec2::Client::new(&config), stage).await?;
        Ok(Some(SearchHostAccess::Function {
            lambda: aws_sdk_lambda::Client::new(&config),
            function: format!("{}-tenant-admin", stage.prefix),
        }))
    }

    /// Places the tenant's container, with a progress display when driving Docker here.
    pub async fn place(&self, tenant: &TenantId, port: Option<u16>) -> Result<TenantSearchReport> {
        let SearchHostAccess::Direct(admin) = self else {
            return self.run(AdminCommand::Place { tenant: tenant.clone(), port }).await?.pop().context("no report");
        };
        let bar = ProgressBar::new(4).with_style(
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        let started = Instant::now();
        let shown = |step: Step<'_>| match step {
            Step::Volume => bar.set_message(format!("volume {tenant}-search-data")),
            Step::Container { port } => {
                bar.set_position(1);
                bar.set_message(format!("container {tenant}-search on port {port}"));
            }
            Step::Waiting(status) => {
                bar.set_position(2);
                bar.set_message(format!("waiting for healthy: {} / {}", status.state, status.health));
            }
            Step::Indices => {
                bar.set_position(3);
                bar.set_message(format!("indices {tenant}-books, {tenant}-purchases"));
            }
        };
        let placed = admin.place(tenant, port, &shown).await;
        bar.finish_and_clear();
        let report = placed.with_context(|| format!("cannot place tenant {tenant}'s search container"))?;
        eprintln!(
            "{tenant}-search healthy on port {} after {:.1} s",
            report.port.unwrap_or_default(),
            started.elapsed().as_secs_f64()
        );
        Ok(report)
    }

    pub async fn run(&self, command: AdminCommand) -> Result<Vec<TenantSearchReport>> {
        match self {
            SearchHostAccess::Direct(admin) => Ok(admin.run(command).await?),
            SearchHostAccess::Function { lambda, function } => invoke(lambda, function, &command).await,
        }
    }
}

/// Finds the stage's search host by the stack's tags, waiting while it boots.
async fn wait_for_host(ec2: &aws_sdk_ec2::Client, stage: &Stage) -> Result<String> {
    use aws_sdk_ec2::types::Filter;
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let started = Instant::now();
    loop {
        let found = ec2
            .describe_instances()
            .filters(filter("tag:aws:cloudformation:stack-name", &stage.stack_name()))
            .filters(filter("tag:Name", &format!("{}-search", stage.prefix)))
            .send()
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "cannot look up the search host of stage {}: {}",
                    stage.name,
                    aws_sdk_ec2::error::DisplayErrorContext(&err)
                )
            })?;
        let instances: Vec<_> = found.reservations().iter().flat_map(|r| r.instances()).collect();
        let state = |i: &&aws_sdk_ec2::types::Instance| {
            i.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).unwrap_or_default()
        };
        if let Some(running) = instances.iter().find(|i| state(i) == "running") {
            return Ok(running.instance_id().unwrap_or_default().to_owned());
        }
        if !instances.iter().any(|i| state(i) == "pending") {
            bail!(
                "stage {} has no running search host (is it deployed? run `bookstore deploy --stage {}`)",
                stage.name,
                stage.name
            );
        }
        if started.elapsed() > HOST_BOOT_WAIT {
            bail!("the search host of stage {} is still booting after {:?}", stage.name, HOST_BOOT_WAIT);
        }
        eprintln!("the search host of stage {} is booting; waiting", stage.name);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Runs one command in the stage's `tenant-admin` function and reads its answer.
async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    command: &AdminCommand,
) -> Result<Vec<TenantSearchReport>> {
    let payload = serde_json::to_vec(command)?;
    let answer = lambda
        .invoke()
        .function_name(function)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .map_err(|err| {
            anyhow::anyhow!("cannot invoke {function}: {}", aws_sdk_lambda::error::DisplayErrorContext(&err))
        })?;
    let body = answer.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    read_answer(function, answer.function_error(), &body)
}

/// The function's answer: its reports, or the error it raised (`errorMessage`).
fn read_answer(function: &str, function_error: Option<&str>, body: &[u8]) -> Result<Vec<TenantSearchReport>> {
    if function_error.is_some() {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        bail!("{function} failed: {message}");
    }
    serde_json::from_slice(body).with_context(|| {
        format!("{function} answered something that is not a report: {}", String::from_utf8_lossy(body))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_of_a_docker_host() {
        assert_eq!(address_of("unix:///run/docker.sock"), "127.0.0.1");
        assert_eq!(address_of("tcp://10.0.1.5:2376"), "10.0.1.5");
    }

    #[test]
    fn a_function_error_is_read_as_its_message() {
        let err = read_answer("p-tenant-admin", Some("Unhandled"), br#"{"errorMessage":"port 9201 is taken"}"#)
            .expect_err("an error");
        assert_eq!(err.to_string(), "p-tenant-admin failed: port 9201 is taken");
        let reports = read_answer("f", None, b"[]").expect("reports");
        assert!(reports.is_empty());
        assert!(read_answer("f", None, b"{}").is_err());
    }
}
