//! `/api/v1/users`: registration, sign-in, profile, preferences, favourites, wishlist.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Caller, Claims, header_tenant};
use super::edge::RequestId;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, path_value};
use super::pagination::{PageParams, PageRequest, Paginated, scope_of};
use crate::accounts::{self, BookList, ListedBook, Profile, ProfileChange, Registration};
use crate::catalog;
use crate::domain::{Book, BookId, Email, JsonObject, Preferences, Role, TenantId, UserId, WishlistPriority};
use crate::error::Error;
use crate::limits::{Budget, Charge, ClientAddress, RouteClass, now_ms};
use crate::metrics::BusinessEvent;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(validate_token))
        .routes(routes!(get_profile, put_profile))
        .routes(routes!(put_preferences))
        .routes(routes!(list_favorites))
        .routes(routes!(add_favorite, remove_favorite))
        .routes(routes!(list_wishlist))
        .routes(routes!(add_to_wishlist, remove_from_wishlist))
}

/// A signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub user: Profile,
}

fn session(state: &AppState, user: &crate::domain::User) -> Session {
    let token = state.tokens.issue(user.user_id, &user.tenant_id, user.role, Utc::now().timestamp());
    Session { token, token_type: "Bearer", expires_in: state.tokens.ttl_seconds, user: Profile::from(user) }
}

#[utoipa::path(post, path = "/api/v1/users/register", tag = "users",
    params(("X-Tenant-Id" = TenantId, Header, description = "The shop to register with")),
    request_body = Registration,
    responses((status = 201, body = Session), (status = 409, description = "the e-mail has an account in this shop already", body = ErrorBody),
        (status = 429, description = "too many registrations from this address: retry after `Retry-After` seconds", body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    request_id: RequestId,
    address: ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Registration>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let tenant = header_tenant(&headers)?;
    let limits = &state.config.rate_limits;
    // Before anything is written: a refused registration leaves nothing behind.
    state
        .admit(
            &tenant,
            &[
                Charge::Use(Budget::registration_address(address, limits)),
                Charge::Use(Budget::route(RouteClass::Auth, limits)),
            ],
        )
        .await?;
    accounts::require_active_tenant(state.store.as_ref(), &tenant).await?;
    let user =
        accounts::register(state.store.as_ref(), &tenant, UserId::new_v7(), &body, Role::Customer, Utc::now()).await?;
    tracing::info!(%request_id, tenant = %tenant, user = %user.user_id, "user registered");
    state.metrics.record(&tenant, BusinessEvent::Registration);
    Ok((StatusCode::CREATED, Json(session(&state, &user))))
}

/// The body of `POST /login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: Email,
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/users/login", tag = "users",
    params(("X-Tenant-Id" = TenantId, Header, description = "The shop to sign in to")),
    request_body = Credentials,
    responses((status = 200, body = Session), (status = 401, description = "the e-mail or the password is wrong", body = ErrorBody),
        (status = 429, description = "too many sign-ins for this e-mail, or failed ones from this address: retry after `Retry-After` seconds", body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<Session>, ApiError> {
    let tenant = header_tenant(&headers)?;
    let limits = &state.config.rate_limits;
    // One round trip, all or none: an attempt on the e-mail's budget (taken up front, so a
    // burst cannot outrun the count), the address's failures checked, the shop's budget.
    // A client refused for guessing spends nothing of the shop's; a failure then counts
    // against its address, so only failures spend an address shared by many customers.
    let failures_from = Budget::sign_in_address(address, limits);
    let attempted_at = now_ms();
    let charges = [
        Charge::Use(Budget::sign_in_account(&body.email, limits)),
        Charge::Check(failures_from.clone()),
        Charge::Use(Budget::route(RouteClass::Auth, limits)),
    ];
    state.limits.admit(&tenant, &charges, attempted_at).await?;
    accounts::require_active_tenant(state.store.as_ref(), &tenant).await?;
    let signed_in = if body.password.len() > 1024 {
        Err(Error::Unauthorized("email or password is wrong".to_owned()))
    } else {
        accounts::login(state.store.as_ref(), &tenant, &body.email, &body.password).await
    };
    let user = match signed_in {
        Err(wrong @ Error::Unauthorized(_)) => {
            state.limits.count(&tenant, &[failures_from], attempted_at).await?;
            return Err(wrong.into());
        }
        other => other?,
    };
    state.metrics.record(&tenant, BusinessEvent::Login);
    Ok(Json(session(&state, &user)))
}

/// The body of `POST /validate-token`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenToCheck {
    pub token: String,
}

/// A token that verified, with what it says.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenValidity {
    pub valid: bool,
    pub claims: Claims,
}

#[utoipa::path(post, path = "/api/v1/users/validate-token", tag = "users", request_body = TokenToCheck,
    responses((status = 200, body = TokenValidity), (status = 401, description = "the token does not verify, has expired, or its user is gone", body = ErrorBody),
        (status = 403, description = "the token's shop is suspended", body = ErrorBody), (status = 404, description = "the token's shop does not exist", body = ErrorBody),
        (status = 429, description = "the shop's sign-in budget is spent: retry after `Retry-After` seconds", body = ErrorBody)))]
async fn validate_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenToCheck>,
) -> Result<Json<TokenValidity>, ApiError> {
    let claims = state.tokens.verify(&body.token, Utc::now().timestamp())?;
    state.admit(&claims.tenant_id, &[Charge::Use(Budget::route(RouteClass::Auth, &state.config.rate_limits))]).await?;
    accounts::require_active_tenant(state.store.as_ref(), &claims.tenant_id).await?;
    accounts::get_user(state.store.as_ref(), &claims.tenant_id, &claims.sub)
        .await
        .map_err(|_| Error::Unauthorized("the token's user no longer exists".to_owned()))?;
    Ok(Json(TokenValidity { valid: true, claims }))
}

#[utoipa::path(get, path = "/api/v1/users/profile", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Profile)))]
async fn get_profile(State(state): State<AppState>, caller: Caller) -> Result<Json<Profile>, ApiError> {
    let user = accounts::get_user(state.store.as_ref(), &caller.tenant, &caller.user_id).await?;
    Ok(Json(Profile::from(&user)))
}

#[utoipa::path(put, path = "/api/v1/users/profile", tag = "users", security(("bearer" = [])), request_body = ProfileChange,
    responses((status = 200, body = Profile), (status = 409, description = "the profile changed meanwhile; read it and try again", body = ErrorBody)))]
async fn put_profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(change): ApiJson<ProfileChange>,
) -> Result<Json<Profile>, ApiError> {
    let user =
        accounts::update_profile(state.store.as_ref(), &caller.tenant, &caller.user_id, change, Utc::now()).await?;
    Ok(Json(Profile::from(&user)))
}

#[utoipa::path(put, path = "/api/v1/users/preferences", tag = "users", security(("bearer" = [])), request_body = Preferences,
    responses((status = 200, body = Profile), (status = 409, description = "the profile changed meanwhile; read it and try again", body = ErrorBody)))]
async fn put_preferences(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(preferences): ApiJson<Preferences>,
) -> Result<Json<Profile>, ApiError> {
    let user =
        accounts::update_preferences(state.store.as_ref(), &caller.tenant, &caller.user_id, preferences, Utc::now())
            .await?;
    Ok(Json(Profile::from(&user)))
}

/// A favourite or wishlist entry with the book it points at.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedBookView {
    #[serde(flatten)]
    pub entry: ListedBook,
    /// The book, or null when it was removed from the catalogue since.
    pub book: Option<Book>,
}

async fn list_page(
    state: &AppState,
    caller: &Caller,
    list: BookList,
    params: &PageParams,
) -> Result<Json<Paginated<ListedBookView>>, ApiError> {
    let scope = scope_of(&[caller.tenant.as_str(), &caller.user_id.to_string(), &format!("{list:?}")]);
    let request = PageRequest::parse(params, 20, &state.cursors, scope)?;
    let entries = accounts::list(state.store.as_ref(), list, &caller.tenant, &caller.user_id).await?;
    let page = request.page(entries, &state.cursors);
    let mut data = Vec::with_capacity(page.data.len());
    for entry in page.data {
        let book = catalog::find_book(state.store.as_ref(), &caller.tenant, &entry.book_id).await?;
        data.push(ListedBookView { entry, book });
    }
    Ok(Json(Paginated { data, pagination: page.pagination }))
}

#[utoipa::path(get, path = "/api/v1/users/favorites", tag = "users", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Paginated<ListedBookView>)))]
async fn list_favorites(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paginated<ListedBookView>>, ApiError> {
    list_page(&state, &caller, BookList::Favorites, &params).await
}

#[utoipa::path(get, path = "/api/v1/users/wishlist", tag = "users", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Paginated<ListedBookView>)))]
async fn list_wishlist(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paginated<ListedBookView>>, ApiError> {
    list_page(&state, &caller, BookList::Wishlist, &params).await
}

fn book_id(raw: &str) -> Result<BookId, Error> {
    path_value("book_id", raw, BookId::parse)
}

#[utoipa::path(post, path = "/api/v1/users/favorites/{book_id}", tag = "users", security(("bearer" = [])),
    params(("book_id" = BookId, Path)),
    responses((status = 201, body = ListedBook), (status = 404, description = "no such book in the shop", body = ErrorBody), (status = 409, description = "the book is on the list already", body = ErrorBody)))]
async fn add_favorite(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<(StatusCode, Json<ListedBook>), ApiError> {
    let book = book_id(&raw)?;
    let entry = accounts::add_to_list(
        state.store.as_ref(),
        BookList::Favorites,
        &caller.tenant,
        &caller.user_id,
        &book,
        None,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

#[utoipa::path(delete, path = "/api/v1/users/favorites/{book_id}", tag = "users", security(("bearer" = [])),
    params(("book_id" = BookId, Path)),
    responses((status = 204), (status = 404, description = "the book is not on the list", body = ErrorBody)))]
async fn remove_favorite(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let book = book_id(&raw)?;
    accounts::remove_from_list(state.store.as_ref(), BookList::Favorites, &caller.tenant, &caller.user_id, &book)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The optional body of `POST /wishlist/{book_id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WishlistEntry {
    pub priority: Option<WishlistPriority>,
}

#[utoipa::path(post, path = "/api/v1/users/wishlist/{book_id}", tag = "users", security(("bearer" = [])),
    params(("book_id" = BookId, Path)), request_body(content = Option<WishlistEntry>),
    responses((status = 201, body = ListedBook), (status = 404, description = "no such book in the shop", body = ErrorBody), (status = 409, description = "the book is on the list already", body = ErrorBody)))]
async fn add_to_wishlist(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<ListedBook>), ApiError> {
    let book = book_id(&raw)?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(e.body_text()),
        _ => Error::bad_request("malformed_body", e.body_text()),
    })?;
    // No body, or `null`, is the default entry.
    let entry: WishlistEntry = if body.iter().all(u8::is_ascii_whitespace) {
        WishlistEntry::default()
    } else {
        serde_json::from_slice::<Option<JsonObject<WishlistEntry>>>(&body)
            .map(|entry| entry.map(|JsonObject(entry)| entry).unwrap_or_default())
            .map_err(|e| match e.classify() {
                serde_json::error::Category::Data => {
                    Error::Unprocessable { code: "validation_failed", message: e.to_string() }
                }
                _ => Error::bad_request("malformed_json", e.to_string()),
            })?
    };
    let priority = entry.priority.unwrap_or_default();
    let listed = accounts::add_to_list(
        state.store.as_ref(),
        BookList::Wishlist,
        &caller.tenant,
        &caller.user_id,
        &book,
        Some(priority),
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(listed)))
}

#[utoipa::path(delete, path = "/api/v1/users/wishlist/{book_id}", tag = "users", security(("bearer" = [])),
    params(("book_id" = BookId, Path)),
    responses((status = 204), (status = 404, description = "the book is not on the list", body = ErrorBody)))]
async fn remove_from_wishlist(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let book = book_id(&raw)?;
    accounts::remove_from_list(state.store.as_ref(), BookList::Wishlist, &caller.tenant, &caller.user_id, &book)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
