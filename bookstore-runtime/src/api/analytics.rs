//! Tenant analytics over the lake, for the tenant's admins: `GET /analytics/{tenant}`
//! (the dashboard's figures) and `POST /analytics/{tenant}/report` (a named report with
//! typed parameters). Clients never send SQL: each report is fixed SQL, and its
//! parameters are bound as values, never spliced into the text.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::search::require_own_tenant;
use crate::analytics::{AnalyticsEngine, QueryError, QueryOutput};
use crate::domain::TenantId;
use crate::error::Error;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard)).routes(routes!(report))
}

/// Rows of one figure: column names and text cells (`null` for SQL NULL).
#[derive(Debug, Serialize, ToSchema)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl From<QueryOutput> for Table {
    fn from(output: QueryOutput) -> Self {
        Self { columns: output.columns, rows: output.rows }
    }
}

/// The figures of a tenant's dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    /// Purchases and revenue per day over the last 30 days with sales.
    pub revenue_per_day: Table,
    pub revenue_per_month: Table,
    /// The ten best sellers by copies.
    pub top_books: Table,
    pub revenue_per_category: Table,
    /// Purchases, revenue, average order, buyers and repeat buyers over all time.
    pub totals: Table,
}

const REVENUE_PER_DAY: &str = "SELECT CAST(date_trunc('day', from_iso8601_timestamp(created_at)) AS DATE) AS day, \
     COUNT(*) AS purchases, SUM(total_amount) AS revenue FROM purchases \
     WHERE from_iso8601_timestamp(created_at) >= \
       date_add('day', -30, (SELECT MAX(from_iso8601_timestamp(created_at)) FROM purchases)) \
     GROUP BY 1 ORDER BY 1";
const REVENUE_PER_MONTH: &str = "SELECT year, month, COUNT(*) AS purchases, SUM(total_amount) AS revenue, \
     AVG(total_amount) AS average_order FROM purchases GROUP BY year, month ORDER BY year, month";
const TOP_BOOKS: &str = "SELECT t.book_id, t.title, SUM(t.quantity) AS copies, SUM(t.subtotal) AS revenue \
     FROM purchases p CROSS JOIN UNNEST(p.items) AS t(book_id, title, category, author, quantity, unit_price, subtotal) \
     GROUP BY t.book_id, t.title ORDER BY copies DESC, t.book_id LIMIT 10";
const REVENUE_PER_CATEGORY: &str = "SELECT t.category, SUM(t.subtotal) AS revenue, SUM(t.quantity) AS copies \
     FROM purchases p CROSS JOIN UNNEST(p.items) AS t(book_id, title, category, author, quantity, unit_price, subtotal) \
     GROUP BY t.category ORDER BY revenue DESC, t.category";
const TOTALS: &str = "WITH per_buyer AS (SELECT user_id, COUNT(*) AS orders FROM purchases GROUP BY user_id) \
     SELECT (SELECT COUNT(*) FROM purchases) AS purchases, (SELECT SUM(total_amount) FROM purchases) AS revenue, \
     (SELECT AVG(total_amount) FROM purchases) AS average_order, COUNT(*) AS buyers, \
     SUM(CASE WHEN orders > 1 THEN 1 ELSE 0 END) AS repeat_buyers FROM per_buyer";

fn engine(state: &AppState) -> Result<&dyn AnalyticsEngine, Error> {
    state.analytics.as_deref().ok_or_else(|| Error::Unavailable("analytics is not available on this deployment".into()))
}

/// The caller is an admin of the tenant the path names.
fn admin_of(caller: &Caller, raw: &str) -> Result<TenantId, Error> {
    require_own_tenant(caller, raw)?;
    caller.require_admin()?;
    Ok(caller.tenant.clone())
}

async fn run(
    engine: &dyn AnalyticsEngine,
    tenant: &TenantId,
    sql: &str,
    parameters: &[String],
) -> Result<Table, Error> {
    match engine.query(tenant, sql, parameters).await {
        Ok(output) => Ok(output.into()),
        Err(QueryError::Invalid { message, .. }) => {
            Err(Error::Internal(format!("a built-in report is wrong: {message}")))
        }
        Err(QueryError::Failed(message)) => Err(Error::Unavailable(format!("the lake cannot be read: {message}"))),
    }
}

#[utoipa::path(get, path = "/analytics/{tenant}", tag = "analytics", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, body = Dashboard), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Dashboard>, ApiError> {
    let tenant = admin_of(&caller, &raw)?;
    let engine = engine(&state)?;
    Ok(Json(Dashboard {
        revenue_per_day: run(engine, &tenant, REVENUE_PER_DAY, &[]).await?,
        revenue_per_month: run(engine, &tenant, REVENUE_PER_MONTH, &[]).await?,
        top_books: run(engine, &tenant, TOP_BOOKS, &[]).await?,
        revenue_per_category: run(engine, &tenant, REVENUE_PER_CATEGORY, &[]).await?,
        totals: run(engine, &tenant, TOTALS, &[]).await?,
    }))
}

/// A named report and its parameters (all optional): `year` ("2026"), `month` ("01"–"12"),
/// `category`, `limit` (1–100, default 10).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// `top_books`, `revenue_by_category`, `sales_by_month` or `customers`.
    pub report: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
}

/// A report's rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResult {
    pub report: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// The filters every report shares: `$1` year, `$2` month ('' = any); the reports by
/// book also take `$3`, a category.
const FILTERS: &str = "($1 = '' OR p.year = $1) AND ($2 = '' OR p.month = $2)";

/// A report's SQL, and whether it filters by category.
fn report_sql(report: &str, limit: u32) -> Option<(String, bool)> {
    let unnest = "CROSS JOIN UNNEST(p.items) AS t(book_id, title, category, author, quantity, unit_price, subtotal)";
    Some(match report {
        "top_books" => (
            format!(
                "SELECT t.book_id, t.title, t.category, SUM(t.quantity) AS copies, SUM(t.subtotal) AS revenue \
                 FROM purchases p {unnest} WHERE {FILTERS} AND ($3 = '' OR t.category = $3) \
                 GROUP BY t.book_id, t.title, t.category ORDER BY copies DESC, t.book_id LIMIT {limit}"
            ),
            true,
        ),
        "revenue_by_category" => (
            format!(
                "SELECT t.category, SUM(t.subtotal) AS revenue, SUM(t.quantity) AS copies \
                 FROM purchases p {unnest} WHERE {FILTERS} AND ($3 = '' OR t.category = $3) \
                 GROUP BY t.category ORDER BY revenue DESC, t.category LIMIT {limit}"
            ),
            true,
        ),
        "sales_by_month" => (
            format!(
                "SELECT p.year, p.month, COUNT(*) AS purchases, SUM(p.total_amount) AS revenue FROM purchases p \
                 WHERE {FILTERS} GROUP BY p.year, p.month ORDER BY p.year, p.month LIMIT {limit}"
            ),
            false,
        ),
        "customers" => (
            format!(
                "SELECT p.user_id, COUNT(*) AS purchases, SUM(p.total_amount) AS spent FROM purchases p \
                 WHERE {FILTERS} GROUP BY p.user_id ORDER BY spent DESC, p.user_id LIMIT {limit}"
            ),
            false,
        ),
        _ => return None,
    })
}

/// Checks a report's parameters: (year, month, category, limit).
fn report_parameters(parameters: &BTreeMap<String, serde_json::Value>) -> Result<([String; 3], u32), Error> {
    let text = |name: &str| -> Result<String, Error> {
        match parameters.get(name) {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(value)) => Ok(value.clone()),
            Some(_) => Err(Error::invalid(format!("parameters.{name}"), "must be a string")),
        }
    };
    for name in parameters.keys() {
        if !["year", "month", "category", "limit"].contains(&name.as_str()) {
            return Err(Error::invalid(
                format!("parameters.{name}"),
                "unknown parameter; allowed: year, month, category, limit",
            ));
        }
    }
    let year = text("year")?;
    let year_ok = year.len() == 4 && year.chars().all(|c| c.is_ascii_digit());
    if !year.is_empty() && !year_ok {
        return Err(Error::invalid("parameters.year", "must be four digits, like \"2026\""));
    }
    let month = text("month")?;
    let month_ok = month.len() == 2 && month.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m));
    if !month.is_empty() && !month_ok {
        return Err(Error::invalid("parameters.month", "must be \"01\" to \"12\""));
    }
    let category = text("category")?;
    if category.chars().count() > 100 {
        return Err(Error::invalid("parameters.category", "at most 100 characters"));
    }
    let limit = match parameters.get("limit") {
        None | Some(serde_json::Value::Null) => 10,
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| Error::invalid("parameters.limit", "must be a whole number from 1 to 100"))?,
    };
    Ok(([year, month, category], limit))
}

#[utoipa::path(post, path = "/analytics/{tenant}/report", tag = "analytics", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body = ReportRequest,
    responses((status = 200, body = ReportResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiJson(request): ApiJson<ReportRequest>,
) -> Result<Json<ReportResult>, ApiError> {
    let tenant = admin_of(&caller, &raw)?;
    let ([year, month, category], limit) = report_parameters(&request.parameters)?;
    let Some((sql, by_category)) = report_sql(&request.report, limit) else {
        return Err(Error::bad_request(
            "unknown_report",
            "report: one of top_books, revenue_by_category, sales_by_month, customers",
        )
        .into());
    };
    if !by_category && !category.is_empty() {
        return Err(Error::invalid("parameters.category", format!("{} has no category filter", request.report)).into());
    }
    let parameters = if by_category { vec![year, month, category] } else { vec![year, month] };
    let table = run(engine(&state)?, &tenant, &sql, &parameters).await?;
    Ok(Json(ReportResult { report: request.report, columns: table.columns, rows: table.rows }))
}
