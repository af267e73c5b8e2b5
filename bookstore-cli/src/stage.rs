//! Stage files (`stages/<stage>.yaml`) parsed into typed configuration. Unknown keys,
//! wrong types and unsafe choices (a literal JWT secret in prod) are refused with the
//! file, the field path and what is allowed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bookstore_runtime::config::{AttemptLimit, RateLimit, RateLimits, RuntimeConfig, Secret};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Aws,
    Local,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    pub provider: Provider,
    pub region: String,
    pub prefix: String,
    pub tables: Tables,
    pub search: Search,
    pub auth: Auth,
    pub api: Api,
    pub logs: Logs,
    pub lake: Lake,
    pub alarms: Alarms,
    #[serde(default)]
    pub functions: Functions,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub deploy: Deploy,
    #[serde(default)]
    pub encryption: Encryption,
}

/// Encryption at rest beyond the AWS defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// One customer-managed KMS key (rotated yearly, $1 a month plus requests) for the
    /// tables, function environments, log groups, the failure queue and the alarm topic;
    /// without it they use AWS-managed keys.
    #[serde(default)]
    pub customer_managed_key: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    pub billing_mode: BillingMode,
    /// Read and write capacity units per table and index; required with PROVISIONED.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// Continuous backups (35 days of point-in-time restore).
    #[serde(default)]
    pub point_in_time_recovery: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    pub read: u32,
    pub write: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    PayPerRequest,
    Provisioned,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    pub instance_type: String,
    pub volume_gb: u32,
    /// SSM path holding the Docker API's TLS material (`ca.pem`, `server-cert.pem`,
    /// `server-key.pem`); default `/<prefix>/search/docker-tls`.
    #[serde(default)]
    pub docker_tls_ssm_path: Option<String>,
    /// What each tenant's container runs.
    #[serde(default)]
    pub node: SearchNode,
    /// The image of that node (default: `bookstore-search:<this version>`, or
    /// Elasticsearch's official image).
    #[serde(default)]
    pub image: Option<String>,
    /// Memory limit of one tenant container (default 256 MB for `bookstore-search`,
    /// 1536 MB for Elasticsearch, whose heap takes half).
    #[serde(default)]
    pub container_memory_mb: Option<u32>,
    /// How a container's port reaches the host: `port_mapping` (the EC2 host) or `host`
    /// (a daemon without a bridge network).
    #[serde(default)]
    pub networking: SearchNetworking,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchNode {
    #[default]
    BookstoreSearch,
    Elasticsearch,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchNetworking {
    #[default]
    PortMapping,
    Host,
}

/// Elasticsearch's image when a stage runs it instead of `bookstore-search`.
pub const ELASTICSEARCH_IMAGE: &str = "docker.elastic.co/elasticsearch/elasticsearch:8.17.0";

impl Search {
    pub fn image(&self) -> String {
        self.image.clone().unwrap_or_else(|| match self.node {
            SearchNode::BookstoreSearch => format!("bookstore-search:{}", env!("CARGO_PKG_VERSION")),
            SearchNode::Elasticsearch => ELASTICSEARCH_IMAGE.to_owned(),
        })
    }

    pub fn container_memory_mb(&self) -> u32 {
        self.container_memory_mb.unwrap_or(match self.node {
            SearchNode::BookstoreSearch => 256,
            SearchNode::Elasticsearch => 1536,
        })
    }

    /// The SSM path of the Docker API's TLS material.
    pub fn docker_tls_ssm_path(&self, prefix: &str) -> String {
        self.docker_tls_ssm_path.clone().unwrap_or_else(|| format!("/{prefix}/search/docker-tls"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub jwt_secret: SecretSource,
    #[serde(default = "default_token_ttl")]
    pub token_ttl_seconds: i64,
}

fn default_token_ttl() -> i64 {
    3600
}

/// Where the JWT secret comes from: exactly one of the two.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// The secret itself (dev, test and local only).
    #[serde(default, serialize_with = "redacted")]
    pub literal: Option<Secret>,
    /// The name of an SSM SecureString parameter.
    #[serde(default)]
    pub ssm_parameter: Option<String>,
}

fn redacted<S: serde::Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub cors_origins: Vec<String>,
    pub tax_rate: Decimal,
    pub max_body_bytes: usize,
    pub rate_limits: RateLimits,
    /// API Gateway's throttling: the whole stage's ceiling, above every tenant's budget.
    #[serde(default = "default_gateway_throttling")]
    pub gateway_throttling: GatewayThrottling,
}

/// Requests per second (with a burst) API Gateway lets through to the function, before
/// any tenant's budget is counted: `default` for every route, `sign_in` for login and
/// registration.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayThrottling {
    pub default: RateLimit,
    pub sign_in: RateLimit,
}

fn default_gateway_throttling() -> GatewayThrottling {
    GatewayThrottling {
        default: RateLimit { per_second: 1000, burst: 2000 },
        sign_in: RateLimit { per_second: 100, burst: 200 },
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    pub retention_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lake {
    pub infrequent_access_after_days: u32,
    pub glacier_after_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    pub lambda_errors: u32,
    pub api_5xx_percent: u32,
    pub dynamodb_throttles: u32,
    pub iterator_age_seconds: u32,
}

/// Memory and timeouts of the Lambda functions, and how stream consumers retry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Functions {
    pub api: FunctionSize,
    pub streams: FunctionSize,
    pub stream_batch_size: u32,
    pub stream_maximum_retry_attempts: i32,
    pub stream_maximum_record_age_seconds: i32,
    pub stream_parallelization_factor: u32,
}

impl Default for Functions {
    fn default() -> Self {
        Self {
            api: FunctionSize { memory_mb: 512, timeout_seconds: 10, reserved_concurrency: None },
            streams: FunctionSize { memory_mb: 256, timeout_seconds: 60, reserved_concurrency: None },
            stream_batch_size: 100,
            stream_maximum_retry_attempts: 5,
            stream_maximum_record_age_seconds: 3600,
            stream_parallelization_factor: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSize {
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    /// Concurrency reserved for (and capping) each such function; none where the
    /// account's quota is small (a new account's 10 cannot reserve any).
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
}

/// The VPC holding the search host and the functions that reach it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    pub vpc_cidr: String,
    pub private_subnet_cidrs: [String; 2],
}

impl Default for Network {
    fn default() -> Self {
        Self {
            vpc_cidr: "10.42.0.0/16".to_owned(),
            private_subnet_cidrs: ["10.42.1.0/24".to_owned(), "10.42.2.0/24".to_owned()],
        }
    }
}

/// Where `bookstore deploy` keeps what it uploads.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deploy {
    /// The bucket for Lambda zips; default `<prefix>-artifacts`, created on first deploy.
    pub artifacts_bucket: Option<String>,
}

/// CloudWatch Logs accepts only these retention periods.
const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// The built-in copy of `stages/local.yaml`, used when no stages directory is found.
const BUILT_IN_LOCAL: &str = include_str!("../../stages/local.yaml");

/// A stage file that failed a rule, naming the file and the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct StageError {
    pub file: String,
    pub field: String,
    pub message: String,
}

/// Parses stage text; `origin` names it in errors.
pub fn parse(origin: &str, text: &str) -> Result<Stage, StageError> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let stage: Stage = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let field = err.path().to_string();
        let message = err.into_inner().to_string();
        // serde_yaml repeats the path at the front of its message; say it once.
        let message = message.strip_prefix(&format!("{field}: ")).map(str::to_owned).unwrap_or(message);
        StageError {
            file: origin.to_owned(),
            field: if field == "." { "(top level)".to_owned() } else { field },
            message,
        }
    })?;
    check(origin, &stage)?;
    Ok(stage)
}

fn check(origin: &str, stage: &Stage) -> Result<(), StageError> {
    let refuse = |field: &str, message: &str| StageError {
        file: origin.to_owned(),
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let source = &stage.auth.jwt_secret;
    if source.literal.is_some() == source.ssm_parameter.is_some() {
        return Err(refuse("auth.jwt_secret", "set exactly one of literal: <secret> or ssm_parameter: /name"));
    }
    if stage.name == "prod" && source.literal.is_some() {
        return Err(refuse(
            "auth.jwt_secret",
            "prod must take the secret from an SSM parameter (ssm_parameter: /name), never a literal",
        ));
    }
    if let Some(secret) = &source.literal
        && secret.expose().len() < 32
    {
        return Err(refuse("auth.jwt_secret.literal", "must be at least 32 characters"));
    }
    if stage.region.trim().is_empty() {
        return Err(refuse("region", "must name an AWS region such as eu-west-1"));
    }
    if !(Decimal::ZERO..Decimal::ONE).contains(&stage.api.tax_rate) {
        return Err(refuse("api.tax_rate", "must be a decimal from 0 to below 1, like \"0.21\""));
    }
    if !(300..=86_400).contains(&stage.auth.token_ttl_seconds) {
        return Err(refuse("auth.token_ttl_seconds", "must be from 300 to 86400"));
    }
    if !(1024..=10 * 1024 * 1024).contains(&stage.api.max_body_bytes) {
        return Err(refuse("api.max_body_bytes", "must be from 1024 to 10485760"));
    }
    check_limits(stage).map_err(|field| {
        refuse(&field, "per_second, burst and attempts must be at least 1, window_seconds from 1 to 86400")
    })?;
    check_deployment(stage).map_err(|(field, message)| refuse(&field, &message))
}

/// Every rate and attempt limit lets something through; the failure is the field's name.
fn check_limits(stage: &Stage) -> Result<(), String> {
    let limits = &stage.api.rate_limits;
    let throttling = &stage.api.gateway_throttling;
    let rates = [
        ("api.rate_limits.read", limits.read),
        ("api.rate_limits.write", limits.write),
        ("api.rate_limits.auth", limits.auth),
        ("api.gateway_throttling.default", throttling.default),
        ("api.gateway_throttling.sign_in", throttling.sign_in),
    ];
    let attempts = [
        ("api.rate_limits.sign_in_per_account", limits.sign_in_per_account),
        ("api.rate_limits.sign_in_per_address", limits.sign_in_per_address),
        ("api.rate_limits.registrations_per_address", limits.registrations_per_address),
    ];
    let rate_ok = |rate: RateLimit| rate.per_second >= 1 && rate.burst >= 1;
    let attempts_ok = |limit: AttemptLimit| limit.attempts >= 1 && (1..=86_400).contains(&limit.window_seconds);
    match rates.iter().find(|(_, rate)| !rate_ok(*rate)) {
        Some((field, _)) => Err((*field).to_owned()),
        None => attempts
            .iter()
            .find(|(_, limit)| !attempts_ok(*limit))
            .map_or(Ok(()), |(field, _)| Err((*field).to_owned())),
    }
}

/// Rules that keep the rendered stack deployable; each failure names its field.
fn check_deployment(stage: &Stage) -> Result<(), (String, String)> {
    let fail = |field: &str, message: String| Err((field.to_owned(), message));
    let prefix_ok = (3..=32).contains(&stage.prefix.len())
        && stage.prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && stage.prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !stage.prefix.ends_with('-');
    if !prefix_ok {
        return fail(
            "prefix",
            "must be 3 to 32 characters of a-z, 0-9 and '-', starting with a letter (it names buckets)".into(),
        );
    }
    let region_ok = stage.region.split('-').count() >= 3
        && stage.region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return fail("region", format!("{:?} is not an AWS region name such as eu-west-1", stage.region));
    }
    match (stage.tables.billing_mode, stage.tables.capacity) {
        (BillingMode::Provisioned, None) => {
            return fail("tables.capacity", "PROVISIONED billing needs capacity: { read: N, write: N }".into());
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return fail("tables.capacity", "only allowed with billing_mode: PROVISIONED".into());
        }
        (_, Some(capacity)) if capacity.read == 0 || capacity.write == 0 => {
            return fail("tables.capacity", "read and write must be at least 1".into());
        }
        _ => {}
    }
    if !(8..=16_384).contains(&stage.search.volume_gb) {
        return fail("search.volume_gb", "must be from 8 to 16384".into());
    }
    if !stage.search.instance_type.contains('.') {
        return fail("search.instance_type", "must be an EC2 instance type such as t3.small".into());
    }
    if let Some(path) = &stage.search.docker_tls_ssm_path
        && (!path.starts_with('/') || path.ends_with('/'))
    {
        return fail("search.docker_tls_ssm_path", "must start with '/' and not end with one".into());
    }
    if let Some(mb) = stage.search.container_memory_mb
        && !(64..=65_536).contains(&mb)
    {
        return fail("search.container_memory_mb", "must be from 64 to 65536".into());
    }
    if stage.search.image.as_deref().is_some_and(|image| image.trim().is_empty() || image.contains(char::is_whitespace))
    {
        return fail("search.image", "must be an image reference such as bookstore-search:0.1.0".into());
    }
    if !LOG_RETENTION_DAYS.contains(&stage.logs.retention_days) {
        return fail("logs.retention_days", format!("must be one of {LOG_RETENTION_DAYS:?}"));
    }
    let lake = &stage.lake;
    if lake.infrequent_access_after_days < 30 {
        return fail("lake.infrequent_access_after_days", "must be at least 30 (S3's minimum for STANDARD_IA)".into());
    }
    if lake.glacier_after_days <= lake.infrequent_access_after_days {
        return fail("lake.glacier_after_days", "must be later than infrequent_access_after_days".into());
    }
    for (field, size) in [("functions.api", stage.functions.api), ("functions.streams", stage.functions.streams)] {
        if !(128..=10_240).contains(&size.memory_mb) {
            return fail(&format!("{field}.memory_mb"), "must be from 128 to 10240".into());
        }
        if !(1..=900).contains(&size.timeout_seconds) {
            return fail(&format!("{field}.timeout_seconds"), "must be from 1 to 900".into());
        }
    }
    let functions = &stage.functions;
    if !(1..=10_000).contains(&functions.stream_batch_size) {
        return fail("functions.stream_batch_size", "must be from 1 to 10000".into());
    }
    if !(-1..=10_000).contains(&functions.stream_maximum_retry_attempts) {
        return fail("functions.stream_maximum_retry_attempts", "must be from -1 (forever) to 10000".into());
    }
    let age = functions.stream_maximum_record_age_seconds;
    if age != -1 && !(60..=604_800).contains(&age) {
        return fail("functions.stream_maximum_record_age_seconds", "must be -1 (forever) or 60 to 604800".into());
    }
    if !(1..=10).contains(&functions.stream_parallelization_factor) {
        return fail("functions.stream_parallelization_factor", "must be from 1 to 10".into());
    }
    if !is_cidr(&stage.network.vpc_cidr) {
        return fail("network.vpc_cidr", "must be an IPv4 CIDR block such as 10.42.0.0/16".into());
    }
    for (index, cidr) in stage.network.private_subnet_cidrs.iter().enumerate() {
        if !is_cidr(cidr) {
            return fail(
                &format!("network.private_subnet_cidrs[{index}]"),
                "must be an IPv4 CIDR block such as 10.42.1.0/24".into(),
            );
        }
    }
    if let Some(bucket) = &stage.deploy.artifacts_bucket
        && !(3..=63).contains(&bucket.len())
    {
        return fail("deploy.artifacts_bucket", "must be a bucket name of 3 to 63 characters".into());
    }
    Ok(())
}

fn is_cidr(text: &str) -> bool {
    let Some((address, bits)) = text.split_once('/') else { return false };
    address.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|bits| (8..=28).contains(&bits))
}

/// Finds `stages/<name>.yaml` in the given directory or above the working directory.
pub fn locate(name: &str, stages_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = stages_dir {
        return Some(dir.join(format!("{name}.yaml")));
    }
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let candidate = dir.join("stages").join(format!("{name}.yaml"));
        if candidate.is_file() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// Loads a stage by name; the local stage falls back to the built-in copy.
pub fn load(name: &str, stages_dir: Option<&Path>) -> Result<Stage> {
    match locate(name, stages_dir) {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("cannot read stage file {}", path.display()))?;
            Ok(parse(&path.display().to_string(), &text)?)
        }
        None if name == "local" => Ok(parse("built-in stages/local.yaml", BUILT_IN_LOCAL)?),
        None => bail!(
            "stage file stages/{name}.yaml not found (looked in the working directory and above; pass --stages-dir)"
        ),
    }
}

impl Stage {
    /// Whether the stack keeps its tables, key and access logs when it is deleted (prod);
    /// other stages clean up after themselves.
    pub fn keeps_data_on_destroy(&self) -> bool {
        self.name == "prod"
    }

    /// The bucket holding packaged Lambda zips.
    pub fn artifacts_bucket(&self) -> String {
        self.deploy.artifacts_bucket.clone().unwrap_or_else(|| format!("{}-artifacts", self.prefix))
    }

    /// The lake bucket, as the stack names it (fixed, so a kept bucket can be adopted).
    pub fn lake_bucket(&self, account: &str) -> String {
        format!("{}-lake-{account}", self.prefix)
    }

    /// The CloudFormation stack holding the whole stage.
    pub fn stack_name(&self) -> String {
        self.prefix.clone()
    }

    /// The Athena workgroup the stage's queries run in (results location and scan limit).
    pub fn athena_workgroup(&self) -> String {
        self.prefix.clone()
    }

    /// The Glue database of the lake's tables (Glue names allow no `-`).
    pub fn glue_database(&self) -> String {
        format!("{}_lake", self.prefix.replace('-', "_"))
    }

    /// The runtime's configuration; an SSM secret must be resolved by the caller.
    pub fn runtime_config(&self) -> Result<RuntimeConfig> {
        let source = &self.auth.jwt_secret;
        let jwt_secret = match (&source.literal, &source.ssm_parameter) {
            (Some(secret), _) => secret.clone(),
            (None, name) => bail!(
                "stage {}: the JWT secret lives in SSM parameter {}; it is read at deploy time, not locally",
                self.name,
                name.as_deref().unwrap_or("?")
            ),
        };
        Ok(RuntimeConfig {
            stage: self.name.clone(),
            jwt_secret,
            token_ttl_seconds: self.auth.token_ttl_seconds,
            tax_rate: self.api.tax_rate,
            cors_origins: self.api.cors_origins.clone(),
            rate_limits: self.api.rate_limits,
            max_body_bytes: self.api.max_body_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_local_stage_parses() {
        let stage = parse("local.yaml", BUILT_IN_LOCAL).expect("valid stage");
        assert_eq!(stage.provider, Provider::Local);
    }

    #[test]
    fn unknown_key_is_named_with_file_and_path() {
        let text = BUILT_IN_LOCAL.replace("  retention_days: 7", "  retention_days: 7\n  colour: blue");
        let err = parse("stages/local.yaml", &text).expect_err("unknown key");
        assert_eq!(err.file, "stages/local.yaml");
        assert_eq!(err.field, "logs.colour");
        assert!(err.message.contains("colour"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let text = BUILT_IN_LOCAL.replace("volume_gb: 10", "volume_gb: ten");
        let err = parse("x.yaml", &text).expect_err("wrong type");
        assert_eq!(err.field, "search.volume_gb");
    }

    #[test]
    fn literal_secret_in_prod_is_refused() {
        let text = BUILT_IN_LOCAL.replace("name: local", "name: prod");
        let err = parse("stages/prod.yaml", &text).expect_err("literal prod secret");
        assert_eq!(err.field, "auth.jwt_secret");
    }

    #[test]
    fn missing_region_is_named() {
        let text = BUILT_IN_LOCAL.replace("region: eu-west-1\n", "");
        let err = parse("x.yaml", &text).expect_err("missing region");
        assert!(err.to_string().contains("region"), "{err}");
    }
}
