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

/// At most `attempts` within a window of `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptLimit {
    pub attempts: u32,
    pub window_seconds: u32,
}

/// Per-tenant limits by route class, and the sign-in and registration limits inside a
/// tenant that keep one client from spending the whole shop's auth budget.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// GET requests.
    pub read: RateLimit,
    /// Requests that change data.
    pub write: RateLimit,
    /// Register, login and token validation: the shop's ceiling.
    pub auth: RateLimit,
    /// Sign-in attempts per e-mail (whether or not it has an account): password guessing.
    #[serde(default = "default_sign_in_per_account")]
    pub sign_in_per_account: AttemptLimit,
    /// Failed sign-ins per client address: credential stuffing across accounts.
    #[serde(default = "default_sign_in_per_address")]
    pub sign_in_per_address: AttemptLimit,
    /// Registrations per client address: account floods.
    #[serde(default = "default_registrations_per_address")]
    pub registrations_per_address: AttemptLimit,
}

fn default_sign_in_per_account() -> AttemptLimit {
    AttemptLimit { attempts: 10, window_seconds: 300 }
}

fn default_sign_in_per_address() -> AttemptLimit {
    AttemptLimit { attempts: 50, window_seconds: 300 }
}

fn default_registrations_per_address() -> AttemptLimit {
    AttemptLimit { attempts: 20, window_seconds: 3600 }
}

impl RateLimits {
    /// Limits no test reaches unless it means to.
    pub fn for_tests() -> Self {
        let generous = RateLimit { per_second: 100_000, burst: 100_000 };
        let attempts = AttemptLimit { attempts: 100_000, window_seconds: 1 };
        Self {
            read: generous,
            write: generous,
            auth: generous,
            sign_in_per_account: attempts,
            sign_in_per_address: attempts,
            registrations_per_address: attempts,
        }
    }
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
        Self {
            stage: "test".to_owned(),
            jwt_secret: Secret::new("test-secret-that-is-long-enough-for-hs256"),
            token_ttl_seconds: 3600,
            tax_rate: Decimal::new(4, 2),
            cors_origins: vec!["http://localhost:5173".to_owned()],
            rate_limits: RateLimits::for_tests(),
            max_body_bytes: 1024 * 1024,
        }
    }
}
