//! The one error type of the runtime's operations. Each kind has a stable `code` and
//! an HTTP status (mapped in `api::error`); internal causes stay in the logs.

use crate::store::StoreError;

/// What went wrong, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("authentication required: {0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many requests")]
    RateLimited { retry_after_seconds: u64 },
    #[error("internal error: {0}")]
    Internal(String),
    /// A part this deployment does not have or cannot reach right now.
    #[error("{0}")]
    Unavailable(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Invalid { field: field.into(), message: message.to_string() }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into() }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest { code, message: message.into() }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Error::Internal(err.to_string())
    }
}

/// Results of the runtime's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
