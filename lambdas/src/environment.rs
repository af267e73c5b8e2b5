//! The stage's configuration as the template puts it in a function's environment
//! (`docs/deploying.md` lists every variable). A missing or malformed variable is an
//! error naming it and what it must hold.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub const FUNCTION: &str = "BOOKSTORE_FUNCTION";
pub const STAGE: &str = "BOOKSTORE_STAGE";
pub const TABLE_PREFIX: &str = "BOOKSTORE_TABLE_PREFIX";
pub const LAKE_BUCKET: &str = "BOOKSTORE_LAKE_BUCKET";
pub const SEARCH_HOST: &str = "BOOKSTORE_SEARCH_HOST";
pub const JWT_SECRET: &str = "BOOKSTORE_JWT_SECRET";
pub const JWT_SECRET_SSM: &str = "BOOKSTORE_JWT_SECRET_SSM";
pub const TOKEN_TTL_SECONDS: &str = "BOOKSTORE_TOKEN_TTL_SECONDS";
pub const TAX_RATE: &str = "BOOKSTORE_TAX_RATE";
pub const CORS_ORIGINS: &str = "BOOKSTORE_CORS_ORIGINS";
pub const RATE_LIMITS: &str = "BOOKSTORE_RATE_LIMITS";
pub const MAX_BODY_BYTES: &str = "BOOKSTORE_MAX_BODY_BYTES";
/// `shared` (the default: every instance counts in the `rate_limits` table) or
/// `per-instance` (in each instance's memory: no round trip, but a tenant gets its limit
/// once per instance; API Gateway's throttling is then the only shared ceiling).
pub const RATE_BUDGETS: &str = "BOOKSTORE_RATE_BUDGETS";
pub const ATHENA_WORKGROUP: &str = "BOOKSTORE_ATHENA_WORKGROUP";
pub const GLUE_DATABASE: &str = "BOOKSTORE_GLUE_DATABASE";
pub const DOCKER_TLS_SSM_PATH: &str = "BOOKSTORE_DOCKER_TLS_SSM_PATH";
pub const SEARCH_NODE: &str = "BOOKSTORE_SEARCH_NODE";
pub const SEARCH_IMAGE: &str = "BOOKSTORE_SEARCH_IMAGE";
pub const SEARCH_CONTAINER_MEMORY_MB: &str = "BOOKSTORE_SEARCH_CONTAINER_MEMORY_MB";
pub const SEARCH_NETWORKING: &str = "BOOKSTORE_SEARCH_NETWORKING";
/// Set by Lambda itself.
pub const AWS_REGION: &str = "AWS_REGION";

/// Why a function cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A function's environment variables.
#[derive(Debug, Clone, Default)]
pub struct FunctionEnvironment {
    variables: BTreeMap<String, String>,
}

impl FunctionEnvironment {
    pub fn from_process() -> Self {
        Self { variables: std::env::vars().collect() }
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, StartError> {
        self.optional(name).ok_or_else(|| StartError(format!("{name} is not set; the stage's template sets it")))
    }

    /// A required variable parsed as `T`, `expected` saying what it must hold.
    pub fn parsed<T: FromStr>(&self, name: &str, expected: &str) -> Result<T, StartError> {
        let raw = self.required(name)?;
        raw.parse().map_err(|_| StartError(format!("{name}={raw:?}: expected {expected}")))
    }

    /// A required variable holding JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, StartError> {
        let raw = self.required(name)?;
        serde_json::from_str(raw).map_err(|err| StartError(format!("{name}: {err}")))
    }
}
