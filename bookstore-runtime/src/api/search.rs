//! Full-text search over the tenant's catalogue: `GET /api/v1/books/search`,
//! `GET /api/v1/books/autocomplete` and seed 002's `GET /search/{tenant}/products`
//! (where a path tenant other than the token's is a 403).

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
use crate::catalog::BookFilterParams;
use crate::domain::TenantId;
use crate::error::Error;
use crate::search::{CategoryFacet, SearchFilters, SearchHit, SearchRequest, Suggestion};

pub fn book_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_books)).routes(routes!(autocomplete))
}

pub fn tenant_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_tenant_products))
}

/// The longest query text accepted.
const MAX_QUERY_CHARS: usize = 200;

/// Query text of a search.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchText {
    /// Words to look for in titles, authors and descriptions (empty: everything).
    pub q: Option<String>,
    /// Tolerate typos (default true).
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
    let text = raw.unwrap_or_default().trim();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::bad_request("invalid_query", format!("q: at most {MAX_QUERY_CHARS} characters")));
    }
    Ok(text.to_owned())
}

async fn run_search(
    state: &AppState,
    caller: &Caller,
    page: &PageParams,
    text: &SearchText,
    filter_params: &BookFilterParams,
) -> Result<Json<SearchPage>, ApiError> {
    let q = query_text(text.q.as_deref())?;
    let fuzzy = match text.fuzzy.as_deref() {
        None => true,
        Some(raw) => {
            raw.parse::<bool>().map_err(|_| Error::bad_request("invalid_query", "fuzzy: must be true or false"))?
        }
    };
    if filter_params.author.is_some() || filter_params.sort.is_some() {
        return Err(Error::bad_request(
            "invalid_query",
            "author and sort do not apply to search; results come by relevance",
        )
        .into());
    }
    let filters = filter_params.parse()?;
    let scope = scope_of(&[caller.tenant.as_str(), "search", &q, &fuzzy.to_string(), &filter_params.fingerprint()]);
    let request = PageRequest::parse(page, 20, &state.cursors, scope)?;
    let search = SearchRequest {
        text: q,
        fuzzy,
        filters: SearchFilters {
            category: filters.category.map(|c| c.to_string()),
            min_price: filters.min_price,
            max_price: filters.max_price,
            min_year: filters.min_year,
            max_year: filters.max_year,
            min_rating: filters.min_rating,
            in_stock: filters.in_stock,
        },
        offset: request.offset,
        limit: request.limit,
    };
    let results = state.search.search(&caller.tenant, &search).await.map_err(Error::from)?;
    let page = request.paged(results.hits, results.total, &state.cursors);
    Ok(Json(SearchPage { data: page.data, pagination: page.pagination, categories: results.categories }))
}

#[utoipa::path(get, path = "/search", tag = "books", security(("bearer" = [])), params(SearchText, PageParams, BookFilterParams),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody)))]
async fn search_books(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(text): ApiQuery<SearchText>,
    ApiQuery(filters): ApiQuery<BookFilterParams>,
) -> Result<Json<SearchPage>, ApiError> {
    run_search(&state, &caller, &page, &text, &filters).await
}

#[utoipa::path(get, path = "/{tenant}/products", tag = "search", security(("bearer" = [])),
    params(("tenant" = String, Path), SearchText, PageParams, BookFilterParams),
    responses((status = 200, body = SearchPage), (status = 403, body = ErrorBody)))]
async fn search_tenant_products(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(text): ApiQuery<SearchText>,
    ApiQuery(filters): ApiQuery<BookFilterParams>,
) -> Result<Json<SearchPage>, ApiError> {
    require_own_tenant(&caller, &raw)?;
    run_search(&state, &caller, &page, &text, &filters).await
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
pub struct AutocompleteParams {
    pub q: Option<String>,
}

/// Suggestions as the user types.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    pub data: Vec<Suggestion>,
}

#[utoipa::path(get, path = "/autocomplete", tag = "books", security(("bearer" = [])), params(AutocompleteParams),
    responses((status = 200, body = Suggestions), (status = 400, body = ErrorBody)))]
async fn autocomplete(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AutocompleteParams>,
) -> Result<Json<Suggestions>, ApiError> {
    let q = query_text(params.q.as_deref())?;
    let data = state.search.suggest(&caller.tenant, &q).await.map_err(Error::from)?;
    Ok(Json(Suggestions { data }))
}
