//! The one HTTP router. The local server (`axum::serve`) and the API Lambda
//! (`lambda_http::run`) both serve `app(state)`; nothing here knows which.
//!
//! Every protected route takes its tenant from the verified token (`auth::Caller`),
//! never from the body or the path; inputs are parsed into domain types by the
//! extractors in `extract`, so handlers only see valid values.

mod active_tenants;
mod analytics;
pub mod auth;
mod books;
mod cart;
mod edge;
pub mod error;
mod extract;
mod openapi;
pub mod pagination;
mod purchases;
mod search;
mod users;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::analytics::AnalyticsEngine;
use crate::config::RuntimeConfig;
use crate::limits::{Charge, ProcessCounter, UsageCounter};
use crate::metrics::{MetricSink, NoMetrics};
use crate::search::SearchIndex;
use crate::store::SharedStore;
use auth::TokenKeys;
use edge::{CorsPolicy, edge};
use error::{error_response, failure_response};
use pagination::CursorKeys;

/// What every handler can reach: the store port and the stage's configuration. One `Arc`,
/// because axum clones the state for every request (extractors, boxed routes).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

/// The parts of [`AppState`], reached through it by `Deref` (`state.store`).
#[derive(Clone)]
pub struct AppParts {
    pub store: SharedStore,
    pub search: Arc<dyn SearchIndex>,
    pub config: Arc<RuntimeConfig>,
    pub tokens: Arc<TokenKeys>,
    pub cursors: Arc<CursorKeys>,
    /// The rate budgets, counted as widely as the deployment serves the stage.
    pub limits: Arc<dyn UsageCounter>,
    pub active_tenants: Arc<active_tenants::ActiveTenants>,
    /// The lake's SQL engine; `None` where the deployment has none (its routes answer 503).
    pub analytics: Option<Arc<dyn AnalyticsEngine>>,
    /// Where registrations, logins, purchases and searches are counted.
    pub metrics: Arc<dyn MetricSink>,
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl AppState {
    pub fn new(store: SharedStore, search: Arc<dyn SearchIndex>, config: RuntimeConfig) -> Self {
        Self(Arc::new(AppParts {
            search,
            tokens: Arc::new(TokenKeys::new(config.jwt_secret.clone(), config.token_ttl_seconds)),
            cursors: Arc::new(CursorKeys::derive(&config.jwt_secret)),
            limits: Arc::new(ProcessCounter::new()),
            active_tenants: Arc::default(),
            config: Arc::new(config),
            store,
            analytics: None,
            metrics: Arc::new(NoMetrics),
        }))
    }

    /// Counts business events in this sink.
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricSink>) -> Self {
        Arc::make_mut(&mut self.0).metrics = metrics;
        self
    }

    /// Counts rate budgets here: a counter shared by every instance when more than one
    /// process serves the stage (Lambda).
    pub fn with_usage_counter(mut self, counter: Arc<dyn UsageCounter>) -> Self {
        Arc::make_mut(&mut self.0).limits = counter;
        self
    }

    /// Admits a request of the tenant against its budgets, now.
    pub async fn admit(&self, tenant: &crate::domain::TenantId, charges: &[Charge]) -> Result<(), crate::error::Error> {
        self.limits.admit(tenant, charges, crate::limits::now_ms()).await
    }

    /// Serves the analytics routes from this engine.
    pub fn with_analytics(mut self, engine: Arc<dyn AnalyticsEngine>) -> Self {
        Arc::make_mut(&mut self.0).analytics = Some(engine);
        self
    }
}

/// Every route with its whole path, merged rather than nested: axum wraps each route of a
/// nested router in a layer that rewrites the request's URI on every call.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(users::routes())
        .merge(books::routes())
        .merge(cart::routes())
        .merge(purchases::routes())
        .merge(search::tenant_routes())
        .merge(analytics::routes())
        .routes(utoipa_axum::routes!(health))
}

/// The routes, and the OpenAPI document they describe with every shared failure added.
fn routes_and_document() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = routes().split_for_parts();
    openapi::add_shared_failures(&mut doc);
    (router, doc)
}

/// The OpenAPI document of the whole API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes_and_document().1
}

/// The application: every route, its limits, CORS and error envelopes.
pub fn app(state: AppState) -> Router {
    let (router, doc) = routes_and_document();
    let doc = Arc::new(doc);
    router
        .route("/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        // One stack, outermost first: axum clones it per request, so it stays short.
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(Arc::new(CorsPolicy::new(&state.config.cors_origins)), edge))
                .layer(CatchPanicLayer::custom(|_| {
                    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
                }))
                .layer(DefaultBodyLimit::max(state.config.max_body_bytes)),
        )
        .with_state(state)
}

/// Liveness and store reachability.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    status: &'static str,
    stage: String,
}

#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health), (status = 503, description = "the store does not answer", body = error::ErrorBody)))]
async fn health(State(state): State<AppState>) -> Response {
    let probe = crate::store::keys::health_probe();
    match state.store.get(crate::store::Table::Tenants, &probe).await {
        Ok(_) => Json(Health { status: "ok", stage: state.config.stage.clone() }).into_response(),
        Err(err) => failure_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store does not answer",
            format!("health check failed: {err}"),
        ),
    }
}
