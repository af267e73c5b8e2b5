//! Talking to AWS (or moto) for `deploy`, `diff`, `destroy`, `outputs`, `package`,
//! `athena query` and `athena tables`.

pub mod artifacts;
pub mod athena;
pub mod events;
pub mod functions;
pub mod glue;
pub mod gsi_steps;
pub mod stack;

use aws_config::{BehaviorVersion, Region};
use clap::Args;

use crate::stage::Stage;

/// Where the AWS calls go and as whom.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// A named profile from ~/.aws/config.
    #[arg(long)]
    pub profile: Option<String>,
    /// The region (default: the stage's).
    #[arg(long)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint instead (moto, LocalStack).
    #[arg(long, env = "BOOKSTORE_AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// The clients one command needs.
#[derive(Debug, Clone)]
pub struct Clients {
    pub athena: aws_sdk_athena::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub glue: aws_sdk_glue::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    pub region: String,
    /// Set when talking to an emulator: polls faster, addresses buckets by path.
    pub emulated: bool,
    /// Where the calls go, as messages name it.
    pub endpoint: String,
}

impl Clients {
    /// The account the credentials belong to.
    pub async fn account(&self) -> anyhow::Result<String> {
        let identity =
            self.sts.get_caller_identity().send().await.map_err(|err| {
                anyhow::anyhow!("cannot tell which AWS account this is: {}", describe_sdk_error(&err))
            })?;
        Ok(identity.account().unwrap_or_default().to_owned())
    }

    /// The stage's lake bucket (`{prefix}-lake-{account}`), which must exist.
    pub async fn lake(&self, stage: &Stage) -> anyhow::Result<std::sync::Arc<bookstore_runtime::aws::S3Objects>> {
        let bucket = stage.lake_bucket(&self.account().await?);
        if let Err(err) = self.s3.head_bucket().bucket(&bucket).send().await {
            anyhow::bail!(
                "cannot reach lake bucket {bucket} at {} ({}); is the stage deployed? run `bookstore deploy --stage {}`",
                self.endpoint,
                describe_sdk_error(&err),
                stage.name
            );
        }
        Ok(std::sync::Arc::new(bookstore_runtime::aws::S3Objects::new(self.s3.clone(), bucket, self.endpoint.clone())))
    }
}

impl AwsArgs {
    pub async fn clients(&self, stage: &Stage) -> Clients {
        let region = self.region.clone().unwrap_or_else(|| stage.region.clone());
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.clone()));
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let s3_config =
            aws_sdk_s3::config::Builder::from(&config).force_path_style(self.endpoint_url.is_some()).build();
        let endpoint = self.endpoint_url.clone().unwrap_or_else(|| format!("the AWS endpoint of {region}"));
        Clients {
            athena: aws_sdk_athena::Client::new(&config),
            cloudformation: aws_sdk_cloudformation::Client::new(&config),
            glue: aws_sdk_glue::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sts: aws_sdk_sts::Client::new(&config),
            region,
            emulated: self.endpoint_url.is_some(),
            endpoint,
        }
    }
}

/// An SDK error with its service message, which `Display` on the SDK type hides.
pub fn describe_sdk_error<E>(
    err: &aws_sdk_cloudformation::error::SdkError<E, aws_sdk_cloudformation::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_cloudformation::error::SdkError;
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (None, Some(message)) => message.to_owned(),
                // An answer the SDK could not parse (emulators sometimes send another
                // service's error shape): its body is the only explanation there is.
                _ => {
                    let body = service.raw().body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
                    let body: String = body.chars().take(400).collect();
                    if body.is_empty() { inner.to_string() } else { format!("{inner}: {body}") }
                }
            }
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
