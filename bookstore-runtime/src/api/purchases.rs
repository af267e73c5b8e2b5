//! `/api/v1/purchases`: checkout and the signed-in user's orders.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::edge::RequestId;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, path_value};
use super::pagination::{PageParams, PageRequest, Paginated, scope_of};
use crate::domain::{Purchase, PurchaseId, PurchaseStatus};
use crate::error::Error;
use crate::metrics::BusinessEvent;
use crate::orders::{self, CheckoutRequest, IdempotencyKey, PurchaseSummary};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkout))
        .routes(routes!(list_purchases))
        .routes(routes!(summary))
        .routes(routes!(get_purchase))
}

#[utoipa::path(post, path = "/api/v1/purchases/checkout", tag = "purchases", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1-255 visible ASCII characters; repeat it on retries: one purchase per key")),
    request_body = CheckoutRequest,
    responses((status = 201, body = Purchase, headers(("Idempotent-Replayed" = String, description = "`true` when an earlier checkout with this key made the purchase"))),
        (status = 409, description = "the cart is empty or too large, a book ran out, changed price or left the catalogue, or the Idempotency-Key was used for another request", body = ErrorBody)))]
async fn checkout(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let idempotency =
        match headers.get("idempotency-key") {
            None => None,
            Some(value) => Some(IdempotencyKey::parse(value.to_str().map_err(|_| {
                Error::bad_request("invalid_idempotency_key", "Idempotency-Key must be visible ASCII")
            })?)?),
        };
    let outcome = orders::checkout(
        state.store.as_ref(),
        &caller.tenant,
        &caller.user_id,
        &request,
        idempotency.as_ref(),
        state.config.tax_rate,
        PurchaseId::new_v7(),
        Utc::now(),
    )
    .await?;
    if !outcome.replayed {
        tracing::info!(%request_id, tenant = %caller.tenant, purchase = %outcome.purchase.purchase_id, total = %outcome.purchase.total_amount, "purchase created");
        state
            .metrics
            .record(&caller.tenant, BusinessEvent::Purchase { revenue: outcome.purchase.total_amount.amount() });
    }
    let mut response = (StatusCode::CREATED, Json(outcome.purchase)).into_response();
    if outcome.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Filter of `GET /api/v1/purchases`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurchaseFilter {
    #[param(value_type = Option<PurchaseStatus>)]
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/purchases", tag = "purchases", security(("bearer" = [])), params(PageParams, PurchaseFilter),
    responses((status = 200, body = Paginated<Purchase>)))]
async fn list_purchases(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(filter): ApiQuery<PurchaseFilter>,
) -> Result<Json<Paginated<Purchase>>, ApiError> {
    let status = match filter.status.as_deref() {
        None => None,
        Some(raw) => Some(PurchaseStatus::parse(raw).ok_or_else(|| {
            Error::bad_request(
                "invalid_query",
                "status: must be PENDING, PAYMENT_PROCESSED, SHIPPED, DELIVERED, CANCELLED or PAYMENT_FAILED",
            )
        })?),
    };
    let scope = scope_of(&[caller.tenant.as_str(), &caller.user_id.to_string(), "purchases", &format!("{status:?}")]);
    let request = PageRequest::parse(&page, 20, &state.cursors, scope)?;
    let purchases = orders::user_purchases(state.store.as_ref(), &caller.tenant, &caller.user_id).await?;
    let matching = purchases.into_iter().filter(|p| status.is_none_or(|s| p.status == s)).collect();
    Ok(Json(request.page(matching, &state.cursors)))
}

#[utoipa::path(get, path = "/api/v1/purchases/{purchase_id}", tag = "purchases", security(("bearer" = [])), params(("purchase_id" = PurchaseId, Path)),
    responses((status = 200, body = Purchase), (status = 404, description = "no such purchase of the caller", body = ErrorBody)))]
async fn get_purchase(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Purchase>, ApiError> {
    let id = path_value("purchase_id", &raw, PurchaseId::parse)?;
    Ok(Json(orders::get_purchase(state.store.as_ref(), &caller.tenant, &caller.user_id, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/purchases/analytics/summary", tag = "purchases", security(("bearer" = [])),
    responses((status = 200, body = PurchaseSummary)))]
async fn summary(State(state): State<AppState>, caller: Caller) -> Result<Json<PurchaseSummary>, ApiError> {
    Ok(Json(orders::summary(state.store.as_ref(), &caller.tenant, &caller.user_id).await?))
}
