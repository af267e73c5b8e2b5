//! AWS adapters of the ports: the `Store` on DynamoDB, the change feed on DynamoDB
//! Streams, the lake's objects on S3, analytics on Athena. Built only with the `aws` feature, which links none
//! of the embedded engines.

mod athena;
mod attributes;
mod cost;
mod expressions;
mod s3;
mod store;
mod streams;
mod tables;

pub use athena::{AthenaEngine, AthenaFailure, Progress};
pub use cost::Spend;
pub use s3::{S3Objects, S3Requests};
pub use store::DynamoStore;
pub use streams::{DynamoStreams, EVENT_SOURCE_POLL};

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where AWS calls go and as whom.
#[derive(Debug, Clone)]
pub struct Connection {
    pub region: String,
    /// An emulator's URL (DynamoDB Local, moto); `None` for the region's AWS endpoint.
    pub endpoint_url: Option<String>,
    /// A named profile from ~/.aws/config.
    pub profile: Option<String>,
}

impl Connection {
    pub fn new(region: impl Into<String>, endpoint_url: Option<String>) -> Self {
        Self { region: region.into(), endpoint_url, profile: None }
    }

    /// Where the calls go, as error messages name it.
    pub fn describe(&self) -> String {
        match &self.endpoint_url {
            Some(url) => url.clone(),
            None => format!("the AWS endpoint of {}", self.region),
        }
    }

    /// The SDK's configuration: throttling and 5xx answers retried with backoff (five
    /// attempts), a connection refused quickly (a wrong endpoint is an error within
    /// seconds, not a hang).
    pub async fn sdk_config(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .build(),
            );
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
            // An emulator takes any credentials; a laptop without an AWS account has none.
            if self.profile.is_none() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local", "local", None, None, "emulator",
                ));
            }
        }
        loader.load().await
    }

    /// Whether `service`'s calls go to an emulator: this connection's endpoint, or the
    /// SDK's standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables.
    pub fn emulates(&self, service: &str) -> bool {
        self.endpoint_url.is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os(format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase())).is_some()
    }

    /// The clients of this connection, on one loaded configuration.
    pub async fn services(&self) -> Services {
        Services { config: self.sdk_config().await, connection: self.clone() }
    }

    /// The lake bucket's objects.
    pub async fn s3_objects(&self, bucket: &str) -> S3Objects {
        self.services().await.s3_objects(bucket)
    }

    /// The stage's Athena: its workgroup and Glue database.
    pub async fn athena(&self, workgroup: &str, database: &str) -> AthenaEngine {
        self.services().await.athena(workgroup, database)
    }

    /// The store of the stage whose tables are named `{prefix}-{table}`.
    pub async fn dynamo_store(&self, prefix: &str) -> DynamoStore {
        self.services().await.dynamo_store(prefix)
    }

    /// The stage's store and its tables' streams, on one configuration (DynamoDB Local
    /// keeps each access key's and region's data apart).
    pub async fn dynamo_store_and_streams(&self, prefix: &str, poll: Duration) -> (DynamoStore, DynamoStreams) {
        let services = self.services().await;
        let streams = DynamoStreams::new(&services.config, prefix, self.describe(), poll);
        (services.dynamo_store(prefix), streams)
    }
}

/// The adapters' clients on one loaded SDK configuration: a Lambda loads it once per cold
/// start and builds each client from it.
#[derive(Debug, Clone)]
pub struct Services {
    config: SdkConfig,
    connection: Connection,
}

impl Services {
    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// The lake bucket's objects. An emulator is addressed by path (`{endpoint}/{bucket}`),
    /// since its buckets have no DNS names.
    pub fn s3_objects(&self, bucket: &str) -> S3Objects {
        let s3 =
            aws_sdk_s3::config::Builder::from(&self.config).force_path_style(self.connection.emulates("s3")).build();
        S3Objects::new(aws_sdk_s3::Client::from_conf(s3), bucket, self.connection.describe())
    }

    /// The stage's Athena: its workgroup and Glue database.
    pub fn athena(&self, workgroup: &str, database: &str) -> AthenaEngine {
        let client = aws_sdk_athena::Client::new(&self.config);
        AthenaEngine::new(client, workgroup, database, self.connection.emulates("athena"))
    }

    /// The store of the stage whose tables are named `{prefix}-{table}`.
    pub fn dynamo_store(&self, prefix: &str) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.config), prefix, self.connection.describe())
    }
}
