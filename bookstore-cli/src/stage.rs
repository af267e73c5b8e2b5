//! Stage files (`stages/<stage>.yaml`) parsed into typed configuration. Unknown keys,
//! wrong types and unsafe choices (a literal JWT secret in prod) are refused with the
//! file, the field path and what is allowed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bookstore_runtime::config::{RateLimits, RuntimeConfig, Secret};
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
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    pub billing_mode: BillingMode,
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
    Ok(())
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
