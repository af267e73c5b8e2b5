//! `/api/v1/books`: the catalogue. Reads for every signed-in user of the tenant;
//! writes and stock changes for its admins only.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::edge::RequestId;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, path_value};
use super::pagination::{PageParams, PageRequest, Paginated, scope_of};
use crate::catalog::{self, AuthorCount, BookFilterParams, BookOrderParams, Browse, CategoryCount};
use crate::domain::{Book, BookId, BookPatch, Isbn, NewBook, UserId};
use crate::error::Error;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_books, create_book))
        .routes(routes!(get_book, update_book, delete_book))
        .routes(routes!(book_by_isbn))
        .routes(routes!(categories))
        .routes(routes!(authors))
        .routes(routes!(recommendations))
        .merge(super::search::book_routes())
}

fn book_id(raw: &str) -> Result<BookId, Error> {
    path_value("book_id", raw, BookId::parse)
}

#[utoipa::path(get, path = "/api/v1/books", tag = "books", security(("bearer" = [])), params(PageParams, BookFilterParams, BookOrderParams),
    responses((status = 200, body = Paginated<Book>)))]
async fn list_books(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(filter_params): ApiQuery<BookFilterParams>,
    ApiQuery(order): ApiQuery<BookOrderParams>,
) -> Result<Json<Paginated<Book>>, ApiError> {
    let filters = filter_params.parse(&order)?;
    let scope = scope_of(&[caller.tenant.as_str(), "books", &filter_params.fingerprint(), &format!("{order:?}")]);
    let request = PageRequest::parse(&page, 20, &state.cursors, scope)?;
    let (store, search) = (state.store.as_ref(), state.search.as_ref());
    if let Some(browse) = Browse::of(&filters) {
        // A cursor resumes from the store's key; a page number walks there.
        let skip = if request.position.is_some() { 0 } else { request.offset };
        let page = catalog::browse_books(store, &caller.tenant, &browse, request.position.clone(), skip, request.limit)
            .await?;
        let total = catalog::browse_total(search, &caller.tenant, &browse).await?;
        return Ok(Json(request.keyed(page.books, total, page.next, page.previous, &state.cursors)));
    }
    let page = catalog::list_books(store, search, &caller.tenant, &filters, request.offset, request.limit).await?;
    Ok(Json(request.paged(page.books, page.total, &state.cursors)))
}

#[utoipa::path(post, path = "/api/v1/books", tag = "books", security(("bearer" = [])), request_body = NewBook,
    responses((status = 201, body = Book, headers(("Location" = String, description = "the new book's path"))), (status = 403, description = "the caller is not the shop's admin", body = ErrorBody),
        (status = 409, description = "a book with this ISBN is in the shop already", body = ErrorBody)))]
async fn create_book(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: Caller,
    ApiJson(new): ApiJson<NewBook>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let book = catalog::create_book(state.store.as_ref(), &caller.tenant, BookId::new_v7(), new, Utc::now()).await?;
    tracing::info!(%request_id, tenant = %caller.tenant, book = %book.book_id, "book created");
    let location = format!("/api/v1/books/{}", book.book_id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(book)))
}

#[utoipa::path(get, path = "/api/v1/books/{book_id}", tag = "books", security(("bearer" = [])), params(("book_id" = BookId, Path)),
    responses((status = 200, body = Book), (status = 404, description = "no such book in the shop", body = ErrorBody)))]
async fn get_book(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<Response, ApiError> {
    let json = catalog::book_json(state.store.as_ref(), &caller.tenant, &book_id(&raw)?).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response())
}

#[utoipa::path(put, path = "/api/v1/books/{book_id}", tag = "books", security(("bearer" = [])), params(("book_id" = BookId, Path)), request_body = BookPatch,
    responses((status = 200, body = Book), (status = 403, description = "the caller is not the shop's admin", body = ErrorBody), (status = 404, description = "no such book in the shop", body = ErrorBody),
        (status = 409, description = "the book kept changing under the update; try again", body = ErrorBody)))]
async fn update_book(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiJson(patch): ApiJson<BookPatch>,
) -> Result<Json<Book>, ApiError> {
    caller.require_admin()?;
    let book = catalog::update_book(state.store.as_ref(), &caller.tenant, &book_id(&raw)?, patch, Utc::now()).await?;
    Ok(Json(book))
}

#[utoipa::path(delete, path = "/api/v1/books/{book_id}", tag = "books", security(("bearer" = [])), params(("book_id" = BookId, Path)),
    responses((status = 204), (status = 403, description = "the caller is not the shop's admin", body = ErrorBody), (status = 404, description = "no such book in the shop", body = ErrorBody)))]
async fn delete_book(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    catalog::delete_book(state.store.as_ref(), &caller.tenant, &book_id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/books/by-isbn/{isbn}", tag = "books", security(("bearer" = [])), params(("isbn" = Isbn, Path)),
    responses((status = 200, body = Book), (status = 404, description = "no book with this ISBN in the shop", body = ErrorBody)))]
async fn book_by_isbn(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Book>, ApiError> {
    let isbn = path_value("isbn", &raw, Isbn::parse)?;
    Ok(Json(catalog::book_by_isbn(state.store.as_ref(), &caller.tenant, &isbn).await?))
}

/// A list that is short enough to come whole.
#[derive(Debug, Serialize, ToSchema)]
pub struct Listing<T> {
    pub data: Vec<T>,
}

#[utoipa::path(get, path = "/api/v1/books/categories", tag = "books", security(("bearer" = [])),
    responses((status = 200, body = Listing<CategoryCount>)))]
async fn categories(State(state): State<AppState>, caller: Caller) -> Result<Json<Listing<CategoryCount>>, ApiError> {
    Ok(Json(Listing { data: catalog::categories(state.search.as_ref(), &caller.tenant).await? }))
}

#[utoipa::path(get, path = "/api/v1/books/authors", tag = "books", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Paginated<AuthorCount>)))]
async fn authors(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Paginated<AuthorCount>>, ApiError> {
    let request = PageRequest::parse(&page, 50, &state.cursors, scope_of(&[caller.tenant.as_str(), "authors"]))?;
    let authors = catalog::authors(state.search.as_ref(), &caller.tenant).await?;
    Ok(Json(request.page(authors, &state.cursors)))
}

/// How many recommendations to return.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationParams {
    /// Default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    pub limit: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/books/recommendations/{user_id}", tag = "books", security(("bearer" = [])),
    params(("user_id" = UserId, Path), RecommendationParams),
    responses((status = 200, body = Listing<Book>), (status = 403, description = "only an admin may ask for another user", body = ErrorBody),
        (status = 404, description = "no such user in the shop", body = ErrorBody)))]
async fn recommendations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(params): ApiQuery<RecommendationParams>,
) -> Result<Json<Listing<Book>>, ApiError> {
    let user = path_value("user_id", &raw, UserId::parse)?;
    if user != caller.user_id {
        caller.require_admin()?;
    }
    let limit = match params.limit.as_deref() {
        None => 10,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| Error::bad_request("invalid_query", "limit: must be a whole number from 1 to 50"))?,
    };
    let books =
        catalog::recommendations(state.store.as_ref(), state.search.as_ref(), &caller.tenant, &user, limit).await?;
    Ok(Json(Listing { data: books }))
}
