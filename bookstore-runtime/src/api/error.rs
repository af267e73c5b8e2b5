//! Maps runtime errors to HTTP: `{"error": {"code", "message"}}` with the right status.
//! Internal causes are logged, never sent.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::edge::FailureCause;
use crate::error::Error;

/// The error envelope every failing route returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable machine-readable code and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// An error on its way out as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        ApiError(err.into())
    }
}

pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message: message.into() } };
    (status, axum::Json(body)).into_response()
}

/// A 5xx answer whose `cause` goes to `edge`'s log line with the request id, not to the client.
pub fn failure_response(status: StatusCode, code: &str, message: impl Into<String>, cause: String) -> Response {
    let mut response = error_response(status, code, message);
    response.extensions_mut().insert(FailureCause(cause));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self.0 {
            Error::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
            Error::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "unauthorized", message),
            Error::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message),
            Error::NotFound(what) => (StatusCode::NOT_FOUND, "not_found", format!("{what} not found")),
            Error::Conflict { code, message } => (StatusCode::CONFLICT, code, message),
            Error::Invalid { field, message } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", format!("{field}: {message}"))
            }
            Error::Unprocessable { code, message } => (StatusCode::UNPROCESSABLE_ENTITY, code, message),
            Error::PayloadTooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message),
            Error::RateLimited { retry_after_seconds } => {
                let mut response = error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many requests; retry after {retry_after_seconds} s"),
                );
                if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                return response;
            }
            Error::Unavailable(message) => {
                return failure_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message.clone(), message);
            }
            Error::Internal(cause) => {
                return failure_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error", cause);
            }
        };
        error_response(status, code, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let message = rejection.body_text();
        ApiError(match rejection {
            JsonRejection::JsonDataError(_) => {
                Error::Unprocessable { code: "validation_failed", message: strip_axum_prefix(&message) }
            }
            JsonRejection::MissingJsonContentType(_) => {
                Error::bad_request("unsupported_media_type", "send the body as application/json")
            }
            JsonRejection::BytesRejection(_) if rejection_is_too_large(&message) => Error::PayloadTooLarge(message),
            _ => Error::bad_request("malformed_json", strip_axum_prefix(&message)),
        })
    }
}

fn rejection_is_too_large(message: &str) -> bool {
    message.contains("length limit")
}

/// axum's messages start with "Failed to deserialize the JSON body into the target type: ".
fn strip_axum_prefix(message: &str) -> String {
    message.split_once(": ").map(|(_, rest)| rest.to_owned()).unwrap_or_else(|| message.to_owned())
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError(Error::bad_request("invalid_path", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError(Error::bad_request("invalid_query", rejection.body_text()))
    }
}
