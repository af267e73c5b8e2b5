//! `/api/v1/cart`: the signed-in user's cart, priced with current prices.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, path_value};
use crate::domain::{BookId, Quantity};
use crate::orders::{self, CartView};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(view_cart))
        .routes(routes!(add_to_cart))
        .routes(routes!(update_line))
        .routes(routes!(remove_line))
        .routes(routes!(clear_cart))
}

async fn current_cart(state: &AppState, caller: &Caller) -> Result<Json<CartView>, ApiError> {
    let cart = orders::view_cart(state.store.as_ref(), &caller.tenant, &caller.user_id, state.config.tax_rate).await?;
    Ok(Json(cart))
}

#[utoipa::path(get, path = "/api/v1/cart", tag = "cart", security(("bearer" = [])), responses((status = 200, body = CartView)))]
async fn view_cart(State(state): State<AppState>, caller: Caller) -> Result<Json<CartView>, ApiError> {
    current_cart(&state, &caller).await
}

/// The body of `POST /api/v1/cart/add`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartAddition {
    pub book_id: BookId,
    pub quantity: Quantity,
}

#[utoipa::path(post, path = "/api/v1/cart/add", tag = "cart", security(("bearer" = [])), request_body = CartAddition,
    responses((status = 200, body = CartView), (status = 404, description = "no such book in the shop", body = ErrorBody), (status = 409, description = "not enough stock, the book is not for sale, the line or the cart is full, or the cart changed meanwhile", body = ErrorBody)))]
async fn add_to_cart(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CartAddition>,
) -> Result<Json<CartView>, ApiError> {
    let cart = orders::add_to_cart(
        state.store.as_ref(),
        &caller.tenant,
        &caller.user_id,
        &body.book_id,
        body.quantity,
        Utc::now(),
        state.config.tax_rate,
    )
    .await?;
    Ok(Json(cart))
}

/// The body of `PUT /api/v1/cart/update/{book_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartQuantity {
    pub quantity: Quantity,
}

#[utoipa::path(put, path = "/api/v1/cart/update/{book_id}", tag = "cart", security(("bearer" = [])), params(("book_id" = BookId, Path)), request_body = CartQuantity,
    responses((status = 200, body = CartView), (status = 404, description = "no such book in the shop, or not in the cart", body = ErrorBody), (status = 409, description = "not enough stock, the book is not for sale, the line or the cart is full, or the cart changed meanwhile", body = ErrorBody)))]
async fn update_line(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<CartQuantity>,
) -> Result<Json<CartView>, ApiError> {
    let book = path_value("book_id", &raw, BookId::parse)?;
    orders::set_cart_quantity(state.store.as_ref(), &caller.tenant, &caller.user_id, &book, body.quantity, Utc::now())
        .await?;
    current_cart(&state, &caller).await
}

#[utoipa::path(delete, path = "/api/v1/cart/remove/{book_id}", tag = "cart", security(("bearer" = [])), params(("book_id" = BookId, Path)),
    responses((status = 200, body = CartView), (status = 404, description = "the book is not in the cart", body = ErrorBody)))]
async fn remove_line(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<CartView>, ApiError> {
    let book = path_value("book_id", &raw, BookId::parse)?;
    orders::remove_from_cart(state.store.as_ref(), &caller.tenant, &caller.user_id, &book).await?;
    current_cart(&state, &caller).await
}

#[utoipa::path(delete, path = "/api/v1/cart/clear", tag = "cart", security(("bearer" = [])), responses((status = 200, body = CartView)))]
async fn clear_cart(State(state): State<AppState>, caller: Caller) -> Result<Json<CartView>, ApiError> {
    orders::clear_cart(state.store.as_ref(), &caller.tenant, &caller.user_id).await?;
    current_cart(&state, &caller).await
}
