//! What the runtime needs from a stage: secrets, money rules and request limits.
//! The CLI (and a Lambda's `main`) builds this from `stages/<stage>.yaml`.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;

/// A secret string whose `Debug` never shows its value.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Requests per second a tenant may make in one route class, with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// Per-tenant limits by route class.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// GET requests.
    pub read: RateLimit,
    /// Requests that change data.
    pub write: RateLimit,
    /// Register, login and token validation (guards against password guessing).
    pub auth: RateLimit,
}

/// The runtime's configuration for one stage.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub stage: String,
    pub jwt_secret: Secret,
    pub token_ttl_seconds: i64,
    pub tax_rate: Decimal,
    pub cors_origins: Vec<String>,
    pub rate_limits: RateLimits,
    pub max_body_bytes: usize,
}

impl RuntimeConfig {
    /// A configuration for tests and examples: generous limits, a fixed secret.
    pub fn for_tests() -> Self {
        let generous = RateLimit { per_second: 100_000, burst: 100_000 };
        Self {
            stage: "test".to_owned(),
            jwt_secret: Secret::new("test-secret-that-is-long-enough-for-hs256"),
            token_ttl_seconds: 3600,
            tax_rate: Decimal::new(4, 2),
            cors_origins: vec!["http://localhost:5173".to_owned()],
            rate_limits: RateLimits { read: generous, write: generous, auth: generous },
            max_body_bytes: 1024 * 1024,
        }
    }
}
