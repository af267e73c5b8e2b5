//! What every request passes before its route: a request id, a tracing span, a log line
//! for failures, and CORS for the stage's origins.
//!
//! One middleware rather than a stack of tower layers, because axum clones a route's
//! whole layer stack for every request: `tower_http::cors::Cors` alone rebuilt its `Vary`
//! and header map per request, about a tenth of a book read's CPU. Here every CORS
//! header value is computed once, and a request without `Origin` costs one static header.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET,POST,PUT,DELETE");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("authorization,content-type,idempotency-key,x-tenant-id");
const EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("retry-after,x-request-id");
const MAX_AGE_SECONDS: HeaderValue = HeaderValue::from_static("600");
const WILDCARD: HeaderValue = HeaderValue::from_static("*");
/// A preflight's answer depends on these request headers, so caches must key on them.
const PREFLIGHT_VARY: HeaderValue =
    HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers");
/// Other answers carry `Access-Control-Allow-Origin` only for allowed origins.
const VARY: HeaderValue = HeaderValue::from_static("origin");

/// The origins a browser may call the API from (the stage's `cors_origins`).
#[derive(Debug)]
pub struct CorsPolicy {
    any: bool,
    origins: Vec<HeaderValue>,
}

impl CorsPolicy {
    /// `*` among `origins` allows every origin; values that are not header text are dropped.
    pub fn new(origins: &[String]) -> Self {
        Self {
            any: origins.iter().any(|origin| origin == "*"),
            origins: origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect(),
        }
    }

    /// Whether answers differ by `Origin`: not when no origin is allowed at all.
    fn varies(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    fn allow(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.any {
            Some(WILDCARD)
        } else {
            self.origins.iter().any(|allowed| allowed == origin).then(|| origin.clone())
        }
    }
}

/// The middleware: see the module's documentation.
pub async fn edge(State(cors): State<Arc<CorsPolicy>>, request: Request, next: Next) -> Response {
    let allowed_origin = request.headers().get(header::ORIGIN).map(|origin| cors.allow(origin));
    if request.method() == Method::OPTIONS
        && let Some(allowed_origin) = allowed_origin
    {
        return preflight(allowed_origin);
    }
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(next_request_id);
    let method = request.method().clone();
    let uri = request.uri().clone();
    let started = Instant::now();
    let span = tracing::info_span!("request", id = %request_id);
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    let path = uri.path();
    if status >= 500 {
        tracing::error!(request_id = %request_id, %method, %path, status, micros, "request failed");
    } else {
        tracing::debug!(request_id = %request_id, %method, %path, status, micros, "request served");
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", value);
    }
    if cors.varies() {
        headers.append(header::VARY, VARY);
    }
    if let Some(Some(origin)) = allowed_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
    }
    response
}

/// The answer to a browser's preflight `OPTIONS`: what it may send, for how long; the
/// origin is named only when allowed, which is how a browser learns it is refused.
fn preflight(allowed_origin: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::VARY, PREFLIGHT_VARY);
    if let Some(origin) = allowed_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECONDS);
    }
    response
}

/// `<process prefix>-<counter>`: unique per process, and across processes with high
/// probability, without a random draw per request.
fn next_request_id() -> String {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}-{:x}", *PREFIX, COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_are_allowed_unless_any_is() {
        let listed = CorsPolicy::new(&["http://localhost:5173".to_owned(), "bad\nvalue".to_owned()]);
        let local = HeaderValue::from_static("http://localhost:5173");
        assert_eq!(listed.allow(&local), Some(local.clone()));
        assert_eq!(listed.allow(&HeaderValue::from_static("https://evil.example")), None);
        let any = CorsPolicy::new(&["*".to_owned()]);
        assert_eq!(any.allow(&local), Some(WILDCARD));
        assert!(listed.varies() && any.varies());
        assert!(!CorsPolicy::new(&[]).varies(), "without origins no answer depends on Origin");
    }
}
