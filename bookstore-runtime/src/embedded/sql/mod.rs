//! The local stage's Athena: DataFusion over the local lake, speaking the Trino dialect
//! (see `trino`), planned over one tenant's files only.
//!
//! Tenant scoping: a query's session holds `purchases` and `books` registered over
//! `{root}/{tenant}/…` and nothing else. Statements other than queries (DDL such as
//! `CREATE EXTERNAL TABLE … LOCATION`, DML, `SET`) are refused before they run, and URL
//! tables (`SELECT * FROM '/path'`) are off, so no SQL can name another tenant's files.

mod compaction;
mod tables;
mod trino;

pub use compaction::{CompactionError, CompactionOptions, CompactionReport, compact, compact_objects};

use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::config::Dialect;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement;

use tables::{file_schema, purchase_item_fields};

use crate::analytics::{AnalyticsEngine, QueryError, QueryOutput, at_end_if_unplaced, clean, position_in};
use crate::domain::TenantId;
use crate::lake::Dataset;

/// Runs Athena-dialect SQL over a local lake directory.
#[derive(Debug, Clone)]
pub struct LocalSql {
    root: PathBuf,
}

impl LocalSql {
    pub fn new(lake_root: impl Into<PathBuf>) -> Self {
        Self { root: lake_root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs one query for one tenant.
    pub async fn query(&self, tenant: &TenantId, sql: &str) -> Result<QueryOutput, QueryError> {
        self.query_with(tenant, sql, &[]).await
    }

    /// Runs one query with `$1`, `$2`, … bound to text values.
    pub async fn query_with(
        &self,
        tenant: &TenantId,
        sql: &str,
        parameters: &[String],
    ) -> Result<QueryOutput, QueryError> {
        let ctx = self.session(tenant).await?;
        let state = ctx.state();
        let mut statement =
            state.sql_to_statement(sql, &Dialect::Generic).map_err(|err| at_end_if_unplaced(explain(err), sql))?;
        rewrite_for_datafusion(&mut statement)?;
        let mut plan = state.statement_to_plan(statement).await.map_err(explain)?;
        if !parameters.is_empty() {
            let values: Vec<ScalarValue> = parameters.iter().map(|p| ScalarValue::Utf8(Some(p.clone()))).collect();
            plan = plan.with_param_values(values).map_err(explain)?;
        }
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|_| invalid("only SELECT queries can run here (no DDL, DML or SET)"))?;
        let frame = ctx.execute_logical_plan(plan).await.map_err(explain)?;
        let physical = frame.create_physical_plan().await.map_err(explain)?;
        let batches = collect(physical.clone(), ctx.task_ctx()).await.map_err(explain)?;
        let columns = physical.schema().fields().iter().map(|field| field.name().clone()).collect();
        Ok(QueryOutput { columns, rows: rows_of(&batches)?, bytes_scanned: bytes_scanned(physical.as_ref()) })
    }

    /// A session that sees one tenant's tables and Trino's functions.
    async fn session(&self, tenant: &TenantId) -> Result<SessionContext, QueryError> {
        let mut config = SessionConfig::new().with_information_schema(false);
        config.options_mut().sql_parser.collect_spans = true;
        config.options_mut().sql_parser.enable_ident_normalization = true;
        let ctx = SessionContext::new_with_config(config);
        trino::register_functions(&ctx);
        tables::register_tenant_tables(&ctx, &self.root, tenant)
            .await
            .map_err(|err| QueryError::Failed(format!("cannot open the lake for tenant {tenant}: {err}")))?;
        Ok(ctx)
    }
}

#[async_trait::async_trait]
impl AnalyticsEngine for LocalSql {
    async fn query(&self, tenant: &TenantId, sql: &str, parameters: &[String]) -> Result<QueryOutput, QueryError> {
        self.query_with(tenant, sql, parameters).await
    }
}

/// Trino's forms in DataFusion's terms; anything but a query is refused here already.
fn rewrite_for_datafusion(statement: &mut Statement) -> Result<(), QueryError> {
    let Statement::Statement(inner) = statement else {
        return Err(invalid("only SELECT queries can run here"));
    };
    let schema = trino::LakeSchema {
        row_fields: &|column| {
            (column == "items").then(|| purchase_item_fields().iter().map(|f| f.name().clone()).collect())
        },
        columns: &|table| {
            let dataset = Dataset::ALL.into_iter().find(|d| d.name() == table)?;
            Some(file_schema(dataset).fields().iter().map(|f| f.name().clone()).collect())
        },
    };
    trino::rewrite_unnest(inner, &schema).map_err(invalid)
}

fn invalid(message: impl Into<String>) -> QueryError {
    QueryError::Invalid { message: message.into(), line: None, column: None }
}

/// Sorts DataFusion's errors into the user's (with a position when known) and the engine's.
fn explain(err: DataFusionError) -> QueryError {
    let position = err.diagnostic().and_then(|d| d.span).map(|span| (span.start.line, span.start.column));
    let root = err.find_root();
    let message = root.to_string();
    let user_error = matches!(
        root,
        DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_)
            | DataFusionError::Diagnostic(..)
    );
    if !user_error {
        return QueryError::Failed(message);
    }
    let (line, column) = position.or_else(|| position_in(&message)).map_or((None, None), |(l, c)| (Some(l), Some(c)));
    let message = clean(&message);
    QueryError::Invalid { message, line, column }
}

fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Vec<Option<String>>>, QueryError> {
    let options = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| QueryError::Failed(err.to_string()))?;
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(column, formatter)| (!column.is_null(row)).then(|| formatter.value(row).to_string()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// Bytes the scans read (Athena's "data scanned"): what Parquet readers report (only the
/// columns and row groups they fetched), and whole files for JSON, which is read whole.
fn bytes_scanned(plan: &dyn ExecutionPlan) -> u64 {
    let mut own = 0;
    if let Some(source) = plan.downcast_ref::<DataSourceExec>() {
        let reported = plan.metrics().and_then(|m| m.sum_by_name("bytes_scanned")).map_or(0, |v| v.as_usize() as u64);
        own = if reported > 0 {
            reported
        } else {
            source
                .data_source()
                .downcast_ref::<FileScanConfig>()
                .map(|scan| scan.file_groups.iter().flat_map(|group| group.iter()).map(|f| f.object_meta.size).sum())
                .unwrap_or(0)
        };
    }
    own + plan.children().into_iter().map(|child| bytes_scanned(child.as_ref())).sum::<u64>()
}
