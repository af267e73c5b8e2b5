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

    /// The lake bucket's objects. An emulator is addressed by path (`{endpoint}/{bucket}`),
    /// since its buckets have no DNS names.
    pub async fn s3_objects(&self, bucket: &str) -> S3Objects {
        let config = self.sdk_config().await;
        let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(self.endpoint_url.is_some()).build();
        S3Objects::new(aws_sdk_s3::Client::from_conf(s3), bucket, self.describe())
    }

    /// The stage's Athena: its workgroup and Glue database.
    pub async fn athena(&self, workgroup: &str, database: &str) -> AthenaEngine {
        let client = aws_sdk_athena::Client::new(&self.sdk_config().await);
        AthenaEngine::new(client, workgroup, database, self.endpoint_url.is_some())
    }

    /// The store of the stage whose tables are named `{prefix}-{table}`.
    pub async fn dynamo_store(&self, prefix: &str) -> DynamoStore {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk_config().await);
        DynamoStore::new(client, prefix, self.describe())
    }

    /// The stage's store and its tables' streams, on one configuration (DynamoDB Local
    /// keeps each access key's and region's data apart).
    pub async fn dynamo_store_and_streams(&self, prefix: &str, poll: Duration) -> (DynamoStore, DynamoStreams) {
        let config = self.sdk_config().await;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), prefix, self.describe());
        (store, DynamoStreams::new(&config, prefix, self.describe(), poll))
    }
}
