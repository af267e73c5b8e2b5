//! Extractors whose rejections use the error envelope, and parsers for path values.

use axum::extract::{FromRequest, FromRequestParts};

use super::error::ApiError;
use crate::error::Error;

/// A JSON body; malformed JSON is 400, a wrong or unknown field is 422 naming it,
/// an oversized body is 413.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

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
