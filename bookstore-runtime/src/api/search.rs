//! Full-text search over the tenant's catalogue: `GET /api/v1/books/search`,
//! `GET /api/v1/books/autocomplete` and seed 002's `GET /search/{tenant}/products`
//! (where a path tenant other than the token's is a 403).

use crate::metrics::BusinessEvent;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, path_value};
use super::pagination::{PageParams, PageRequest, Pagination, scope_of};
use crate::catalog::{BookFilterParams, BookOrderParams};
use crate::domain::{Money, PurchaseStatus, Role, TenantId, UserId};
use crate::error::Error;
use crate::search::{
    CategoryFacet, PurchaseDocument, PurchaseSearch, SearchFilters, SearchHit, SearchOrder, SearchRequest, Suggestion,
};

pub fn book_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_books)).routes(routes!(autocomplete))
}

pub fn tenant_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_tenant))
        .routes(routes!(search_tenant_products))
        .routes(routes!(search_tenant_purchases))
}

/// The longest query text accepted.
const MAX_QUERY_CHARS: usize = 200;

/// Query text of a search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchText {
    /// Words to look for in titles, authors and descriptions (empty: everything).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Tolerate typos (default true).
    #[param(value_type = Option<bool>)]
    pub fuzzy: Option<String>,
}

/// A page of search results with category counts over all matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub data: Vec<SearchHit>,
    pub pagination: Pagination,
    pub categories: Vec<CategoryFacet>,
}

fn query_text(raw: Option<&str>) -> Result<String, Error> {
    let raw = raw.unwrap_or_default();
    if raw.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::bad_request("invalid_query", format!("q: at most {MAX_QUERY_CHARS} characters")));
    }
    Ok(raw.trim().to_owned())
}

async fn run_search(
    state: &AppState,
    caller: &Caller,
    page: &PageParams,
    text: &SearchText,
    filter_params: &BookFilterParams,
    order: &BookOrderParams,
) -> Result<Json<SearchPage>, ApiError> {
    let q = query_text(text.q.as_deref())?;
    let fuzzy = match text.fuzzy.as_deref() {
        None => true,
        Some(raw) => {
            raw.parse::<bool>().map_err(|_| Error::bad_request("invalid_query", "fuzzy: must be true or false"))?
        }
    };
    if order.author.is_some() || order.sort.is_some() {
        return Err(Error::bad_request(
            "invalid_query",
            "author and sort do not apply to search; results come by relevance",
        )
        .into());
    }
    let filters = filter_params.parse(order)?;
    let scope = scope_of(&[caller.tenant.as_str(), "search", &q, &fuzzy.to_string(), &filter_params.fingerprint()]);
    let request = PageRequest::parse(page, 20, &state.cursors, scope)?;
    let search = SearchRequest {
        text: q,
        fuzzy,
        filters: SearchFilters {
            category: filters.category.map(|c| c.to_string()),
            author: None,
            min_price: filters.min_price,
            max_price: filters.max_price,
            min_year: filters.min_year,
            max_year: filters.max_year,
            min_rating: filters.min_rating,
            in_stock: filters.in_stock,
        },
        order: SearchOrder::Relevance,
        offset: request.offset,
        limit: request.limit,
        facets: true,
    };
    let results = state.search.search(&caller.tenant, &search).await.map_err(Error::from)?;
    state.metrics.record(&caller.tenant, BusinessEvent::Search);
    let page = request.paged(results.hits, results.total, &state.cursors);
    Ok(Json(SearchPage { data: page.data, pagination: page.pagination, categories: results.categories }))
}

#[utoipa::path(get, path = "/api/v1/books/search", tag = "books", security(("bearer" = [])), params(SearchText, PageParams, BookFilterParams),
    responses((status = 200, body = SearchPage)))]
async fn search_books(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(text): ApiQuery<SearchText>,
    ApiQuery(filters): ApiQuery<BookFilterParams>,
    ApiQuery(order): ApiQuery<BookOrderParams>,
) -> Result<Json<SearchPage>, ApiError> {
    run_search(&state, &caller, &page, &text, &filters, &order).await
}

#[utoipa::path(get, path = "/search/{tenant}/products", tag = "search", security(("bearer" = [])),
    params(("tenant" = TenantId, Path), SearchText, PageParams, BookFilterParams),
    responses((status = 200, body = SearchPage), (status = 403, description = "the path names another shop than the token", body = ErrorBody)))]
async fn search_tenant_products(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(text): ApiQuery<SearchText>,
    ApiQuery(filters): ApiQuery<BookFilterParams>,
    ApiQuery(order): ApiQuery<BookOrderParams>,
) -> Result<Json<SearchPage>, ApiError> {
    require_own_tenant(&caller, &raw)?;
    run_search(&state, &caller, &page, &text, &filters, &order).await
}

/// A path that names a tenant must name the caller's.
pub fn require_own_tenant(caller: &Caller, raw: &str) -> Result<(), Error> {
    let tenant = path_value("tenant", raw, TenantId::parse)?;
    if tenant != caller.tenant {
        return Err(Error::Forbidden("the path names another tenant than your token".to_owned()));
    }
    Ok(())
}

/// What the user has typed so far.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AutocompleteParams {
    #[param(max_length = 200)]
    pub q: Option<String>,
}

/// Suggestions as the user types.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    pub data: Vec<Suggestion>,
}

#[utoipa::path(get, path = "/api/v1/books/autocomplete", tag = "books", security(("bearer" = [])), params(AutocompleteParams),
    responses((status = 200, body = Suggestions)))]
async fn autocomplete(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AutocompleteParams>,
) -> Result<Json<Suggestions>, ApiError> {
    let q = query_text(params.q.as_deref())?;
    let data = state.search.suggest(&caller.tenant, &q).await.map_err(Error::from)?;
    Ok(Json(Suggestions { data }))
}

/// Filters of `GET /search/{tenant}/purchases`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurchaseSearchParams {
    /// Words of the titles bought.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only this user's purchases (admins; a customer always sees only their own).
    #[param(value_type = Option<UserId>)]
    pub user_id: Option<String>,
    #[param(value_type = Option<PurchaseStatus>)]
    pub status: Option<String>,
    /// Bought at or after this instant (RFC 3339).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub from: Option<String>,
    /// Bought at or before this instant (RFC 3339).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub to: Option<String>,
    #[param(value_type = Option<Money>)]
    pub min_total: Option<String>,
    #[param(value_type = Option<Money>)]
    pub max_total: Option<String>,
}

/// A page of purchases, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchasePage {
    pub data: Vec<PurchaseDocument>,
    pub pagination: Pagination,
}

fn parse_param<T>(
    name: &str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, Error> {
    raw.map(|text| parse(text).ok_or_else(|| Error::bad_request("invalid_query", format!("{name}: must be {allowed}"))))
        .transpose()
}

async fn run_purchase_search(
    state: &AppState,
    caller: &Caller,
    page: &PageParams,
    params: &PurchaseSearchParams,
) -> Result<PurchasePage, ApiError> {
    let asked_user = parse_param("user_id", params.user_id.as_deref(), |s| UserId::parse(s).ok(), "a user id")?;
    let user = match caller.role {
        Role::Admin => asked_user,
        Role::Customer if asked_user.is_none_or(|u| u == caller.user_id) => Some(caller.user_id),
        Role::Customer => return Err(Error::Forbidden("customers see only their own purchases".to_owned()).into()),
    };
    let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc));
    let search = PurchaseSearch {
        text: query_text(params.q.as_deref())?,
        user,
        status: parse_param(
            "status",
            params.status.as_deref(),
            PurchaseStatus::parse,
            "a purchase status like SHIPPED",
        )?,
        from: parse_param("from", params.from.as_deref(), instant, "an RFC 3339 time like 2026-01-31T00:00:00Z")?,
        to: parse_param("to", params.to.as_deref(), instant, "an RFC 3339 time like 2026-01-31T00:00:00Z")?,
        min_total: parse_param(
            "min_total",
            params.min_total.as_deref(),
            |s| Money::parse(s).ok(),
            "an amount like 9.95",
        )?,
        max_total: parse_param(
            "max_total",
            params.max_total.as_deref(),
            |s| Money::parse(s).ok(),
            "an amount like 9.95",
        )?,
        offset: 0,
        limit: 0,
    };
    let scope =
        scope_of(&[caller.tenant.as_str(), &caller.user_id.to_string(), "purchase-search", &format!("{search:?}")]);
    let request = PageRequest::parse(page, 20, &state.cursors, scope)?;
    let search = PurchaseSearch { offset: request.offset, limit: request.limit, ..search };
    let results = state.search.search_purchases(&caller.tenant, &search).await.map_err(Error::from)?;
    let page = request.paged(results.hits, results.total, &state.cursors);
    Ok(PurchasePage { data: page.data, pagination: page.pagination })
}

#[utoipa::path(get, path = "/search/{tenant}/purchases", tag = "search", security(("bearer" = [])),
    params(("tenant" = TenantId, Path), PurchaseSearchParams, PageParams),
    responses((status = 200, body = PurchasePage), (status = 403, description = "the path names another shop than the token, or a customer asked for another user", body = ErrorBody)))]
async fn search_tenant_purchases(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<PurchaseSearchParams>,
) -> Result<Json<PurchasePage>, ApiError> {
    require_own_tenant(&caller, &raw)?;
    Ok(Json(run_purchase_search(&state, &caller, &page, &params).await?))
}

/// The words of one search run over the tenant's products and (visible) purchases.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSearch {
    pub products: SearchPage,
    pub purchases: PurchasePage,
}

/// The text of `GET /search/{tenant}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantSearchParams {
    #[param(max_length = 200)]
    pub q: Option<String>,
}

#[utoipa::path(get, path = "/search/{tenant}", tag = "search", security(("bearer" = [])),
    params(("tenant" = TenantId, Path), TenantSearchParams),
    responses((status = 200, body = TenantSearch), (status = 403, description = "the path names another shop than the token", body = ErrorBody)))]
async fn search_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(params): ApiQuery<TenantSearchParams>,
) -> Result<Json<TenantSearch>, ApiError> {
    require_own_tenant(&caller, &raw)?;
    let text = SearchText { q: params.q.clone(), fuzzy: None };
    let products = run_search(
        &state,
        &caller,
        &PageParams::default(),
        &text,
        &BookFilterParams::default(),
        &BookOrderParams::default(),
    )
    .await?
    .0;
    let purchase_params = PurchaseSearchParams {
        q: params.q,
        user_id: None,
        status: None,
        from: None,
        to: None,
        min_total: None,
        max_total: None,
    };
    let purchases = run_purchase_search(&state, &caller, &PageParams::default(), &purchase_params).await?;
    Ok(Json(TenantSearch { products, purchases }))
}
