//! Tenant analytics over the lake, for the tenant's admins: `GET /analytics/{tenant}`
//! (the dashboard's figures) and `POST /analytics/{tenant}/report` (a named report with
//! typed parameters). Clients never send SQL: each report is fixed SQL, and its
//! parameters are bound as values, never spliced into the text.

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
    params(("tenant" = TenantId, Path)),
    responses((status = 200, body = Dashboard), (status = 403, description = "the caller is not an admin, or the path names another shop", body = ErrorBody),
        (status = 503, description = "this deployment has no analytics engine, or the lake cannot be read", body = ErrorBody)))]
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

/// A named report and its parameters. The reports by book (`top_books`,
/// `revenue_by_category`) also filter by category; the others have no category.
#[derive(Debug, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReportRequest {
    TopBooks {
        #[serde(default, deserialize_with = "crate::domain::object")]
        parameters: ReportParameters,
    },
    RevenueByCategory {
        #[serde(default, deserialize_with = "crate::domain::object")]
        parameters: ReportParameters,
    },
    SalesByMonth {
        #[serde(default, deserialize_with = "crate::domain::object")]
        parameters: ReportParameters,
    },
    Customers {
        #[serde(default, deserialize_with = "crate::domain::object")]
        parameters: ReportParameters,
    },
}

// Written out because the derived schema of an internally tagged enum lets other
// properties through, which `deny_unknown_fields` refuses; and the reports not by book
// take the parameters without a `category`.
impl utoipa::PartialSchema for ReportRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
        use utoipa::openapi::{Ref, RefOr};
        let variant = |reports: [&'static str; 2], parameters: RefOr<Schema>| {
            ObjectBuilder::new()
                .property("report", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(reports)))
                .required("report")
                .property("parameters", parameters)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        // `null` is what serde reads as no category, so it stays allowed.
        let mut without_category = <ReportParameters as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut without_category {
            object.properties.insert("category".into(), ObjectBuilder::new().schema_type(Type::Null).into());
        }
        OneOfBuilder::new()
            .item(variant(["top_books", "revenue_by_category"], Ref::from_schema_name(ReportParameters::name()).into()))
            .item(variant(["sales_by_month", "customers"], without_category))
            .into()
    }
}

impl ToSchema for ReportRequest {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push((ReportParameters::name().into(), <ReportParameters as utoipa::PartialSchema>::schema()));
    }
}

/// What the reports take; all optional. Only the reports by book take `category`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportParameters {
    /// Only this year, four digits ("2026").
    #[schema(pattern = "^[0-9]{4}$", example = "2026")]
    pub year: Option<String>,
    /// Only this month, "01" to "12".
    #[schema(pattern = "^(0[1-9]|1[0-2])$", example = "01")]
    pub month: Option<String>,
    /// How many rows, 1-100 (default 10).
    #[serde(default, deserialize_with = "crate::domain::optional_whole_number")]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Only books of this category.
    #[schema(max_length = 100)]
    pub category: Option<String>,
}

impl ReportRequest {
    /// The report's name, its SQL parameters (`$1` year, `$2` month, for the reports by
    /// book `$3` category; '' = any) and its row limit.
    fn parts(&self) -> Result<(Report, Vec<String>, u32), Error> {
        let (report, parameters) = match self {
            ReportRequest::TopBooks { parameters } => (Report::TopBooks, parameters),
            ReportRequest::RevenueByCategory { parameters } => (Report::RevenueByCategory, parameters),
            ReportRequest::SalesByMonth { parameters } => (Report::SalesByMonth, parameters),
            ReportRequest::Customers { parameters } => (Report::Customers, parameters),
        };
        let ReportParameters { year, month, limit, category } = parameters;
        let by_book = matches!(report, Report::TopBooks | Report::RevenueByCategory);
        if !by_book && category.is_some() {
            return Err(Error::invalid("parameters.category", format!("{} has no category filter", report.name())));
        }
        // '' binds "any" in the SQL; a client says "any" by leaving the parameter out.
        let year = match year {
            None => String::new(),
            Some(year) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => year.clone(),
            Some(_) => return Err(Error::invalid("parameters.year", "must be four digits, like \"2026\"")),
        };
        let month = match month {
            None => String::new(),
            Some(month) if month.len() == 2 && month.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m)) => {
                month.clone()
            }
            Some(_) => return Err(Error::invalid("parameters.month", "must be \"01\" to \"12\"")),
        };
        let limit = limit.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid("parameters.limit", "must be a whole number from 1 to 100"));
        }
        let mut values = vec![year, month];
        if by_book {
            let category = category.clone().unwrap_or_default();
            if category.chars().count() > 100 {
                return Err(Error::invalid("parameters.category", "at most 100 characters"));
            }
            values.push(category);
        }
        Ok((report, values, limit))
    }
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

/// The reports there are.
#[derive(Debug, Clone, Copy)]
enum Report {
    TopBooks,
    RevenueByCategory,
    SalesByMonth,
    Customers,
}

impl Report {
    fn name(self) -> &'static str {
        match self {
            Report::TopBooks => "top_books",
            Report::RevenueByCategory => "revenue_by_category",
            Report::SalesByMonth => "sales_by_month",
            Report::Customers => "customers",
        }
    }

    fn sql(self, limit: u32) -> String {
        let unnest =
            "CROSS JOIN UNNEST(p.items) AS t(book_id, title, category, author, quantity, unit_price, subtotal)";
        match self {
            Report::TopBooks => format!(
                "SELECT t.book_id, t.title, t.category, SUM(t.quantity) AS copies, SUM(t.subtotal) AS revenue \
                 FROM purchases p {unnest} WHERE {FILTERS} AND ($3 = '' OR t.category = $3) \
                 GROUP BY t.book_id, t.title, t.category ORDER BY copies DESC, t.book_id LIMIT {limit}"
            ),
            Report::RevenueByCategory => format!(
                "SELECT t.category, SUM(t.subtotal) AS revenue, SUM(t.quantity) AS copies \
                 FROM purchases p {unnest} WHERE {FILTERS} AND ($3 = '' OR t.category = $3) \
                 GROUP BY t.category ORDER BY revenue DESC, t.category LIMIT {limit}"
            ),
            Report::SalesByMonth => format!(
                "SELECT p.year, p.month, COUNT(*) AS purchases, SUM(p.total_amount) AS revenue FROM purchases p \
                 WHERE {FILTERS} GROUP BY p.year, p.month ORDER BY p.year, p.month LIMIT {limit}"
            ),
            Report::Customers => format!(
                "SELECT p.user_id, COUNT(*) AS purchases, SUM(p.total_amount) AS spent FROM purchases p \
                 WHERE {FILTERS} GROUP BY p.user_id ORDER BY spent DESC, p.user_id LIMIT {limit}"
            ),
        }
    }
}

#[utoipa::path(post, path = "/analytics/{tenant}/report", tag = "analytics", security(("bearer" = [])),
    params(("tenant" = TenantId, Path)), request_body = ReportRequest,
    responses((status = 200, body = ReportResult), (status = 403, description = "the caller is not an admin, or the path names another shop", body = ErrorBody),
        (status = 503, description = "this deployment has no analytics engine, or the lake cannot be read", body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiJson(request): ApiJson<ReportRequest>,
) -> Result<Json<ReportResult>, ApiError> {
    let tenant = admin_of(&caller, &raw)?;
    let (report, parameters, limit) = request.parts()?;
    let sql = report.sql(limit);
    let table = run(engine(&state)?, &tenant, &sql, &parameters).await?;
    Ok(Json(ReportResult { report: report.name().to_owned(), columns: table.columns, rows: table.rows }))
}
