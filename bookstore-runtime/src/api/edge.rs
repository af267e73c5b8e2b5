//! What every request passes before its route: a request id, a log line for failures
//! (with their cause), and CORS for the stage's origins.
//!
//! The request id travels as the request's `x-request-id` header (the client's, when it
//! sent a usable one), so a handler that logs names it through the `RequestId` extractor.
//! Not a tracing span per request: creating, entering and closing one under the fmt
//! subscriber was about a twentieth of a book read's CPU, for the few lines logged.
//!
//! One middleware rather than a stack of tower layers, because axum clones a route's
//! whole layer stack for every request: `tower_http::cors::Cors` alone rebuilt its `Vary`
//! and header map per request, about a tenth of a book read's CPU. Here every CORS
//! header value is computed once, and a request without `Origin` costs one static header.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::limits::ClientAddress;

const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET,POST,PUT,DELETE");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("authorization,content-type,idempotency-key,x-tenant-id");
const EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("retry-after,x-request-id");
const MAX_AGE_SECONDS: HeaderValue = HeaderValue::from_static("600");
const WILDCARD: HeaderValue = HeaderValue::from_static("*");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
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
pub async fn edge(State(cors): State<Arc<CorsPolicy>>, mut request: Request, next: Next) -> Response {
    let allowed_origin = request.headers().get(header::ORIGIN).map(|origin| cors.allow(origin));
    if request.method() == Method::OPTIONS
        && let Some(allowed_origin) = allowed_origin
    {
        return preflight(allowed_origin);
    }
    let request_id = match request.headers().get(&REQUEST_ID).filter(|id| usable_request_id(id)) {
        Some(id) => id.clone(),
        None => {
            let id = next_request_id();
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let method = request.method().clone();
    let uri = request.uri().clone();
    let started = Instant::now();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    let path = uri.path();
    let id = request_id.to_str().unwrap_or_default();
    if status >= 500 {
        let cause = response.extensions_mut().remove::<FailureCause>();
        let cause = cause.as_ref().map_or("", |cause| cause.0.as_str());
        tracing::error!(request_id = %id, %method, %path, status, micros, %cause, "request failed");
    } else {
        tracing::debug!(request_id = %id, %method, %path, status, micros, "request served");
    }
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, request_id);
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

/// Why a request failed, put on its response for the log line here; never sent.
#[derive(Debug, Clone)]
pub struct FailureCause(pub String);

/// The request's id, as its answer's `x-request-id` header will carry it: for log lines.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.to_str().unwrap_or_default())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get(&REQUEST_ID).cloned().unwrap_or_else(|| HeaderValue::from_static("-"))))
    }
}

/// Where the request came from: the `ClientAddress` the Lambda adapter put in the
/// request's extensions (API Gateway's source IP), else the socket's peer as
/// `axum::serve` records it (`ConnectInfo`), else unknown. Never a header a client
/// could write.
impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(address) = parts.extensions.get::<ClientAddress>() {
            return Ok(*address);
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip());
        Ok(ClientAddress(peer))
    }
}

/// A client's id is kept when it is 1 to 64 letters, digits and `-_.=+/` (it ends up in
/// logs; API Gateway's ids are base64, `Cx3Vxj2XliAEMbA=`).
fn usable_request_id(id: &HeaderValue) -> bool {
    (1..=64).contains(&id.len()) && id.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"-_.=+/".contains(b))
}

/// `<process prefix>-<counter>`: unique per process, and across processes with high
/// probability, without a random draw per request.
fn next_request_id() -> HeaderValue {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let id = format!("{}-{:x}", *PREFIX, COUNTER.fetch_add(1, Ordering::Relaxed));
    HeaderValue::try_from(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::api::error::ApiError;
    use crate::error::Error;

    /// The log lines written while `sink` was the thread's subscriber.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn router() -> Router {
        Router::new()
            .route("/fails", get(|| async { ApiError(Error::Internal("disk on fire".into())) }))
            .route("/unavailable", get(|| async { ApiError(Error::Unavailable("the store does not answer".into())) }))
            .route("/logs", get(|request_id: RequestId| async move { request_id.to_string() }))
            .layer(axum::middleware::from_fn_with_state(Arc::new(CorsPolicy::new(&[])), edge))
    }

    async fn call(path: &str, client_id: Option<&str>) -> (StatusCode, String, String) {
        let mut request = Request::get(path);
        if let Some(id) = client_id {
            request = request.header("x-request-id", id);
        }
        let response = router().oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
        let id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, id, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_failure_is_logged_with_its_cause_under_the_id_the_client_sees() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let _current = tracing::subscriber::set_default(subscriber);
        let (status, id, body) = call("/fails", Some("client-7")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(id, "client-7");
        assert!(!body.contains("disk on fire"), "the cause stays in the log: {body}");
        let logged = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("text");
        assert!(logged.contains("request failed") && logged.contains("request_id=client-7"), "{logged}");
        assert!(logged.contains("disk on fire"), "{logged}");
        let (status, _, _) = call("/unavailable", Some("client-8")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let logged = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("text");
        assert!(logged.contains("request_id=client-8") && logged.contains("the store does not answer"), "{logged}");
    }

    #[tokio::test]
    async fn handlers_log_under_the_answers_id_and_unusable_client_ids_are_replaced() {
        let (_, id, seen_by_handler) = call("/logs", Some("client-7")).await;
        assert_eq!((id.as_str(), seen_by_handler.as_str()), ("client-7", "client-7"));
        let (_, id, _) = call("/logs", Some("Cx3Vxj2XliAEMbA=")).await;
        assert_eq!(id, "Cx3Vxj2XliAEMbA=", "API Gateway's request ids are kept");
        for unusable in [None, Some("has spaces"), Some("quote\"d"), Some(&*"x".repeat(65))] {
            let (_, id, seen_by_handler) = call("/logs", unusable).await;
            assert_eq!(id, seen_by_handler);
            assert!(usable_request_id(&HeaderValue::from_str(&id).expect("header")), "{id}");
            assert_ne!(Some(id.as_str()), unusable);
        }
    }

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
