//! One module per subcommand.

pub mod athena;
pub mod deploy;
pub mod destroy;
pub mod functions;
pub mod outputs;
pub mod package;
pub mod reindex;
pub mod render;
pub mod stack;
pub mod stage;
pub mod tenant;
pub mod up;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use bookstore_runtime::aws::{Connection, DynamoStore, DynamoStreams, S3Objects};
use bookstore_runtime::embedded::EmbeddedStore;
use bookstore_runtime::lake::LakeObjects;
use bookstore_runtime::store::SharedStore;
use clap::Args;

use crate::cloud::AwsArgs;
use crate::stage::{Provider, Stage, load as load_stage};

/// Which local stage and data directory a command works on.
#[derive(Debug, Args)]
pub struct LocalStageArgs {
    /// The stage (local stages use the embedded store under --data-dir).
    #[arg(long, default_value = "local")]
    pub stage: String,
    /// Directory holding the stage files (default: ./stages or the nearest above).
    #[arg(long)]
    pub stages_dir: Option<PathBuf>,
    /// Where the local stage keeps its data.
    #[arg(long, default_value = ".bookstore")]
    pub data_dir: PathBuf,
}

impl LocalStageArgs {
    pub fn load_stage(&self) -> Result<Stage> {
        load_stage(&self.stage, self.stages_dir.as_deref())
    }
}

/// How a command on this machine reaches an AWS stage's DynamoDB tables.
#[derive(Debug, Clone, Args)]
pub struct DynamoArgs {
    /// AWS stages: DynamoDB and DynamoDB Streams at this endpoint (DynamoDB Local), where
    /// the stage's tables are created if missing.
    #[arg(long, env = "BOOKSTORE_DYNAMODB_ENDPOINT_URL")]
    pub dynamodb_endpoint_url: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl DynamoArgs {
    pub fn connection(&self, stage: &Stage) -> Connection {
        Connection {
            region: self.aws.region.clone().unwrap_or_else(|| stage.region.clone()),
            endpoint_url: self.dynamodb_endpoint_url.clone().or_else(|| self.aws.endpoint_url.clone()),
            profile: self.aws.profile.clone(),
        }
    }

    /// Where the stage's lake bucket is: with `--endpoint-url`, that emulator; with
    /// `--dynamodb-endpoint-url` alone, nowhere (DynamoDB Local has no S3: the lake stays
    /// in the data directory); with neither, the stage's AWS account.
    pub fn lake_connection(&self, stage: &Stage) -> Option<Connection> {
        if self.dynamodb_endpoint_url.is_some() && self.aws.endpoint_url.is_none() {
            return None;
        }
        Some(Connection {
            region: self.aws.region.clone().unwrap_or_else(|| stage.region.clone()),
            endpoint_url: self.aws.endpoint_url.clone(),
            profile: self.aws.profile.clone(),
        })
    }

    /// The stage's store and streams. On an emulator the stage's tables are created from
    /// the `Table` model when missing; on AWS they come from `bookstore deploy`.
    pub async fn store_and_streams(
        &self,
        stage: &Stage,
        poll: std::time::Duration,
    ) -> Result<(DynamoStore, DynamoStreams, Connection)> {
        let connection = self.connection(stage);
        let (store, streams) = connection.dynamo_store_and_streams(&stage.prefix, poll).await;
        if connection.endpoint_url.is_some() {
            let created = store.create_missing_tables().await.with_context(|| {
                format!("cannot create the tables of stage {} at {}", stage.name, connection.describe())
            })?;
            if !created.is_empty() {
                eprintln!("created {} tables at {}: {}", created.len(), connection.describe(), created.join(", "));
            }
        }
        Ok((store, streams, connection))
    }
}

/// The stage's lake bucket (`{prefix}-lake-{account}`, as the stack names it). On an
/// emulator it is created when missing; on AWS it must exist (`bookstore deploy`).
pub async fn stage_lake(stage: &Stage, connection: &Connection) -> Result<S3Objects> {
    let config = connection.sdk_config().await;
    let identity = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.map_err(|err| {
        anyhow::anyhow!(
            "cannot tell which AWS account {} is: {}",
            connection.describe(),
            crate::cloud::describe_sdk_error(&err)
        )
    })?;
    let bucket = stage.lake_bucket(identity.account().unwrap_or_default());
    let objects = connection.s3_objects(&bucket).await;
    if connection.endpoint_url.is_some() {
        if objects.create_if_missing(&connection.region).await.context("cannot create the lake bucket")? {
            eprintln!("created lake bucket {bucket} at {}", connection.describe());
        }
    } else {
        objects.list(&format!("{}/", stage.prefix)).await.with_context(|| {
            format!(
                "cannot read lake bucket {bucket} (is the stage deployed? run `bookstore deploy --stage {}`)",
                stage.name
            )
        })?;
    }
    Ok(objects)
}

/// A stage's store: embedded under the data directory on a local stage, its DynamoDB
/// tables on an AWS stage.
pub async fn open_stage_store(stage: &Stage, data_dir: &Path, dynamo: &DynamoArgs) -> Result<SharedStore> {
    match stage.provider {
        Provider::Local => Ok(open_local_store(data_dir)?),
        Provider::Aws => {
            let (store, _, _) = dynamo.store_and_streams(stage, std::time::Duration::from_secs(1)).await?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens the local stage's store under the data directory, creating it if needed.
pub fn open_local_store(data_dir: &Path) -> Result<Arc<EmbeddedStore>> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let path = data_dir.join("store.redb");
    let store = EmbeddedStore::open(&path).with_context(|| {
        format!("cannot open {} (is another `bookstore up` using this --data-dir?)", path.display())
    })?;
    Ok(Arc::new(store))
}
