//! Extractors whose rejections use the error envelope, and parsers for path values.

use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::JsonObject;
use crate::error::Error;

/// A JSON object body; malformed JSON is 400, another JSON value than an object or a
/// wrong or unknown field is 422 naming it, an oversized body is 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(JsonObject(value)) = axum::Json::<JsonObject<T>>::from_request(request, state).await?;
        Ok(ApiJson(value))
    }
}

/// Path parameters with enveloped rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters with enveloped rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Parses one path value, naming it when it is invalid.
pub fn path_value<T, E: std::fmt::Display>(
    name: &str,
    raw: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, Error> {
    parse(raw).map_err(|e| Error::bad_request("invalid_path", format!("{name}: {e}")))
}
