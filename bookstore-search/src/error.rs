//! Elasticsearch's error shape: `{"error":{"root_cause":[…],"type","reason"},"status"}`.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// A failed request as Elasticsearch reports it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct EsError {
    pub status: StatusCode,
    /// Elasticsearch's exception name, e.g. `index_not_found_exception`.
    pub kind: &'static str,
    pub reason: String,
    /// Extra fields Elasticsearch puts beside `type` and `reason` (`index`, `index_uuid`).
    pub extra: Vec<(&'static str, String)>,
}

impl EsError {
    pub fn new(status: StatusCode, kind: &'static str, reason: impl Into<String>) -> Self {
        Self { status, kind, reason: reason.into(), extra: Vec::new() }
    }

    pub fn bad_request(kind: &'static str, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, reason)
    }

    /// A request body or query that cannot be read.
    pub fn parsing(reason: impl Into<String>) -> Self {
        Self::bad_request("parsing_exception", reason)
    }

    pub fn illegal_argument(reason: impl Into<String>) -> Self {
        Self::bad_request("illegal_argument_exception", reason)
    }

    pub fn mapper_parsing(reason: impl Into<String>) -> Self {
        Self::bad_request("mapper_parsing_exception", reason)
    }

    pub fn index_not_found(index: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "index_not_found_exception", format!("no such index [{index}]"))
            .with("index", index)
    }

    pub fn version_conflict(id: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "version_conflict_engine_exception",
            format!("[{id}]: version conflict, {reason}"),
        )
    }

    /// Storage failed underneath: the node's own fault.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", err.to_string())
    }

    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((key, value.into()));
        self
    }

    /// The `error` object (also a bulk item's `error`).
    pub fn cause(&self) -> Value {
        let mut cause = json!({ "type": self.kind, "reason": self.reason });
        for (key, value) in &self.extra {
            cause[*key] = Value::String(value.clone());
        }
        cause
    }

    pub fn body(&self) -> Value {
        let cause = self.cause();
        let mut error = cause.clone();
        error["root_cause"] = json!([cause]);
        json!({ "error": error, "status": self.status.as_u16() })
    }
}

impl From<tantivy::TantivyError> for EsError {
    fn from(err: tantivy::TantivyError) -> Self {
        EsError::internal(err)
    }
}

impl From<std::io::Error> for EsError {
    fn from(err: std::io::Error) -> Self {
        EsError::internal(err)
    }
}
