//! From a function's environment to a function ready to serve: its clients built once,
//! the runtime's handler chosen by `BOOKSTORE_FUNCTION`.

use std::sync::Arc;

use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::aws::{Connection, Services};
use bookstore_runtime::cdc::{BooksToLake, BooksToSearch, PurchasesToLake, PurchasesToSearch, StreamHandler};
use bookstore_runtime::config::{RuntimeConfig, Secret};
use bookstore_runtime::elasticsearch::{ElasticsearchSearch, PlacedEndpoints};
use bookstore_runtime::functions::{self, FUNCTIONS};
use bookstore_runtime::lake::{BatchLake, LakeWriter};
use bookstore_runtime::limits::{ProcessCounter, SharedCounter, UsageCounter};
use bookstore_runtime::metrics::EmbeddedMetricFormat;
use bookstore_runtime::search::SearchIndex;
use bookstore_runtime::store::SharedStore;
use bookstore_runtime::tenancy::docker_tls::{self, ClientTls};
use bookstore_runtime::tenancy::{ContainerSettings, Networking, NodeImage, SearchHost, TenantAdmin};

use crate::Started;
use crate::environment::*;

/// The port of the search host's Docker API (TLS).
const DOCKER_TLS_PORT: u16 = 2376;

/// Reads the environment and builds the function it names.
pub async fn start(environment: &FunctionEnvironment) -> Result<Started, StartError> {
    let name = environment.required(FUNCTION)?;
    let Some(function) = functions::named(name) else {
        let known: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        return Err(StartError(format!("{FUNCTION}={name:?}: expected one of {}", known.join(", "))));
    };
    let connection = Connection::new(environment.required(AWS_REGION)?, None);
    let services = connection.services().await;
    let store: SharedStore = Arc::new(services.dynamo_store(environment.required(TABLE_PREFIX)?));
    let search = || -> Result<Arc<dyn SearchIndex>, StartError> {
        let endpoints = PlacedEndpoints::new(store.clone(), environment.required(SEARCH_HOST)?);
        Ok(Arc::new(ElasticsearchSearch::new(Arc::new(endpoints))))
    };
    let lake = || -> Result<Arc<dyn LakeWriter>, StartError> {
        Ok(Arc::new(BatchLake::new(Arc::new(services.s3_objects(environment.required(LAKE_BUCKET)?)))))
    };
    let stream = |handler: Arc<dyn StreamHandler>| Ok(Started::Stream(handler));
    match function.name {
        functions::API => api(environment, &services, store.clone(), search()?).await,
        functions::BOOKS_TO_SEARCH => stream(Arc::new(BooksToSearch::new(search()?))),
        functions::PURCHASES_TO_SEARCH => stream(Arc::new(PurchasesToSearch::new(search()?))),
        functions::BOOKS_TO_LAKE => stream(Arc::new(BooksToLake::new(lake()?))),
        functions::PURCHASES_TO_LAKE => stream(Arc::new(PurchasesToLake::new(lake()?))),
        functions::TENANT_ADMIN => tenant_admin(environment, &services, store.clone()).await,
        other => Err(StartError(format!("{FUNCTION}={other:?}: this bootstrap cannot serve it"))),
    }
}

async fn api(
    environment: &FunctionEnvironment,
    services: &Services,
    store: SharedStore,
    search: Arc<dyn SearchIndex>,
) -> Result<Started, StartError> {
    let stage = environment.required(STAGE)?.to_owned();
    let jwt_secret = match environment.optional(JWT_SECRET_SSM) {
        Some(name) => Secret::new(parameter(services, name).await?),
        None => Secret::new(environment.required(JWT_SECRET)?),
    };
    let config = RuntimeConfig {
        stage: stage.clone(),
        jwt_secret,
        token_ttl_seconds: environment.parsed(TOKEN_TTL_SECONDS, "whole seconds")?,
        tax_rate: environment.parsed(TAX_RATE, "a decimal rate such as 0.21")?,
        cors_origins: environment
            .optional(CORS_ORIGINS)
            .map(|origins| origins.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        rate_limits: environment.json(RATE_LIMITS)?,
        max_body_bytes: environment.parsed(MAX_BODY_BYTES, "a number of bytes")?,
    };
    let usage: Arc<dyn UsageCounter> = match environment.optional(RATE_BUDGETS).unwrap_or("shared") {
        // Every instance of the function counts against the same budgets, in the store.
        "shared" => Arc::new(SharedCounter::new(store.clone())),
        "per-instance" => Arc::new(ProcessCounter::new()),
        other => return Err(StartError(format!("{RATE_BUDGETS}={other:?}: expected shared or per-instance"))),
    };
    let mut state = AppState::new(store, search, config)
        .with_metrics(Arc::new(EmbeddedMetricFormat::to_stdout(stage)))
        .with_usage_counter(usage);
    if let Some(workgroup) = environment.optional(ATHENA_WORKGROUP) {
        let athena = services.athena(workgroup, environment.required(GLUE_DATABASE)?);
        let lake = Arc::new(services.s3_objects(environment.required(LAKE_BUCKET)?));
        state = state.with_analytics(Arc::new(athena.with_lake(lake)));
    }
    Ok(Started::Http(app(state)))
}

/// One SSM parameter's decrypted value.
async fn parameter(services: &Services, name: &str) -> Result<String, StartError> {
    let ssm = aws_sdk_ssm::Client::new(services.config());
    let answer = ssm.get_parameter().name(name).with_decryption(true).send().await.map_err(|err| {
        StartError(format!("cannot read SSM parameter {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(err)))
    })?;
    answer.parameter.and_then(|p| p.value).ok_or_else(|| StartError(format!("SSM parameter {name} has no value")))
}

async fn tenant_admin(
    environment: &FunctionEnvironment,
    services: &Services,
    store: SharedStore,
) -> Result<Started, StartError> {
    let host_address = environment.required(SEARCH_HOST)?.to_owned();
    let image = environment.required(SEARCH_IMAGE)?.to_owned();
    let settings = ContainerSettings {
        image: match environment.required(SEARCH_NODE)? {
            "bookstore-search" => NodeImage::BookstoreSearch(image),
            "elasticsearch" => NodeImage::Elasticsearch(image),
            other => {
                return Err(StartError(format!("{SEARCH_NODE}={other:?}: expected bookstore-search or elasticsearch")));
            }
        },
        networking: match environment.optional(SEARCH_NETWORKING) {
            None | Some("port_mapping") => Networking::PortMapping,
            Some("host") => Networking::Host,
            Some(other) => {
                return Err(StartError(format!("{SEARCH_NETWORKING}={other:?}: expected port_mapping or host")));
            }
        },
        memory_bytes: environment.parsed::<i64>(SEARCH_CONTAINER_MEMORY_MB, "megabytes")? * 1024 * 1024,
        stage: environment.required(STAGE)?.to_owned(),
    };
    // `DOCKER_HOST` reaches a daemon directly (tests); otherwise the host's TLS port with
    // the client certificate the stage keeps in SSM.
    let (docker, endpoint) = if environment.optional("DOCKER_HOST").is_some() {
        docker_tls::from_environment()
    } else {
        let path = environment.required(DOCKER_TLS_SSM_PATH)?.trim_end_matches('/');
        let tls = ClientTls {
            ca: parameter(services, &format!("{path}/ca.pem")).await?,
            cert: parameter(services, &format!("{path}/client-cert.pem")).await?,
            key: parameter(services, &format!("{path}/client-key.pem")).await?,
        };
        docker_tls::with_tls(&format!("{host_address}:{DOCKER_TLS_PORT}"), &tls)
    }
    .map_err(|err| StartError(err.to_string()))?;
    let host = SearchHost::new(docker, endpoint, settings);
    Ok(Started::Admin(Arc::new(TenantAdmin { store, host, host_address })))
}
