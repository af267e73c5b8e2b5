//! The `AnalyticsEngine` port on Athena: the query scoped to the tenant
//! (`analytics::scope_with_parameters`), its parameters sent as `ExecutionParameters`, run
//! in the stage's workgroup (which fixes the results bucket and the scan limit) over its
//! Glue database, polled with backoff, every result page read. The steps are public too,
//! so `bookstore athena query` can show progress and stop a query on Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_athena::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_athena::types::{QueryExecution, QueryExecutionContext, QueryExecutionState, StatementType};

use super::S3Objects;
use super::store::chain;
use crate::analytics::{
    AnalyticsEngine, AthenaCatalog, AthenaQuery, CompactedLake, QueryError, QueryOutput, scope_with_parameters,
};
use crate::domain::TenantId;
use crate::lake::LakeObjects;
use crate::lake::catalog::QUERY_TABLES;
use crate::lake::compacted::{CompactionManifest, manifest_key};

/// Athena's code for an error in the query itself (syntax, names, types).
const USER_ERROR_CATEGORY: i32 = 2;

/// A query Athena ended without an answer, or could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum AthenaFailure {
    /// The SQL is wrong: the user's to fix (Athena's own message carries the position as
    /// `line L:C`).
    #[error("{0}")]
    Query(QueryError),
    #[error("Athena could not run query {id}: {reason}")]
    Failed { id: String, reason: String },
    #[error("query {id} was cancelled{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Cancelled { id: String, reason: Option<String> },
    /// A call failed (no workgroup, no access, no connection).
    #[error("{0}")]
    Unavailable(String),
}

impl From<AthenaFailure> for QueryError {
    fn from(failure: AthenaFailure) -> Self {
        match failure {
            AthenaFailure::Query(err) => err,
            other => QueryError::Failed(other.to_string()),
        }
    }
}

/// Where one poll found the query.
#[derive(Debug, PartialEq)]
pub enum Progress {
    Waiting { state: &'static str, scanned: u64 },
    Succeeded { scanned: u64, header_row: bool },
}

/// One stage's Athena: its workgroup and Glue database.
#[derive(Clone)]
pub struct AthenaEngine {
    client: aws_sdk_athena::Client,
    workgroup: String,
    database: String,
    /// An emulator answers at once: poll every 50 ms, not from 250 ms up to 2 s.
    emulated: bool,
    /// The lake bucket, where each tenant's compaction manifest says which table holds a
    /// period; without it queries read the batches only.
    lake: Option<Arc<S3Objects>>,
}

impl AthenaEngine {
    pub fn new(client: aws_sdk_athena::Client, workgroup: &str, database: &str, emulated: bool) -> Self {
        Self { client, workgroup: workgroup.to_owned(), database: database.to_owned(), emulated, lake: None }
    }

    /// Reads each query's tenant manifest from the lake bucket (see `lake::compacted`).
    pub fn with_lake(mut self, lake: Arc<S3Objects>) -> Self {
        self.lake = Some(lake);
        self
    }

    pub fn workgroup(&self) -> &str {
        &self.workgroup
    }

    /// `sql` as Athena will run it for `tenant`, over the periods its manifest names as
    /// compacted now (one read of the manifest: the whole query sees one state of it).
    pub async fn scope(&self, tenant: &TenantId, sql: &str, parameters: &[String]) -> Result<AthenaQuery, QueryError> {
        let manifest = match &self.lake {
            Some(lake) => {
                let key = manifest_key(tenant);
                let bytes = lake.get(&key).await.map_err(|err| QueryError::Failed(err.to_string()))?;
                Some(
                    CompactionManifest::parse(bytes.as_deref(), &key)
                        .map_err(|err| QueryError::Failed(err.to_string()))?,
                )
            }
            None => None,
        };
        let bucket_url = self.lake.as_ref().map(|lake| format!("s3://{}", lake.bucket())).unwrap_or_default();
        let catalog = AthenaCatalog {
            database: &self.database,
            tables: &QUERY_TABLES,
            compacted: manifest.as_ref().map(|manifest| CompactedLake { manifest, bucket_url: &bucket_url }),
        };
        scope_with_parameters(sql, tenant, &catalog, parameters)
    }

    /// Creates the workgroup when it is missing (on an emulator; on AWS the stack owns it).
    pub async fn create_workgroup_if_missing(&self) -> Result<bool, AthenaFailure> {
        // AWS answers a missing workgroup with an error, moto with no workgroup.
        let found = self.client.get_work_group().work_group(&self.workgroup).send().await;
        if found.is_ok_and(|answer| answer.work_group().is_some()) {
            return Ok(false);
        }
        self.client
            .create_work_group()
            .name(&self.workgroup)
            .send()
            .await
            .map_err(|err| unavailable(&format!("cannot create workgroup {}", self.workgroup), &err))?;
        Ok(true)
    }

    /// Starts the query; its execution id.
    pub async fn start(&self, query: &AthenaQuery) -> Result<String, AthenaFailure> {
        let mut start = self
            .client
            .start_query_execution()
            .query_string(&query.sql)
            .work_group(&self.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder().catalog("AwsDataCatalog").database(&self.database).build(),
            );
        if !query.execution_parameters.is_empty() {
            start = start.set_execution_parameters(Some(query.execution_parameters.clone()));
        }
        let started = start
            .send()
            .await
            .map_err(|err| unavailable(&format!("cannot start the query in workgroup {}", self.workgroup), &err))?;
        started
            .query_execution_id()
            .map(str::to_owned)
            .ok_or_else(|| AthenaFailure::Unavailable("Athena started a query without an id".into()))
    }

    /// Where the query is now.
    pub async fn poll(&self, id: &str) -> Result<Progress, AthenaFailure> {
        let answer = self
            .client
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|err| unavailable(&format!("cannot follow query {id}"), &err))?;
        let execution =
            answer.query_execution().ok_or_else(|| AthenaFailure::Unavailable("Athena described no query".into()))?;
        progress(id, execution)
    }

    /// Polls until the query ends, telling `waiting` of each poll that found it running:
    /// its bytes scanned and whether its results open with a header row.
    pub async fn wait(
        &self,
        id: &str,
        mut waiting: impl FnMut(&'static str, u64),
    ) -> Result<(u64, bool), AthenaFailure> {
        let mut delay = if self.emulated { Duration::from_millis(50) } else { Duration::from_millis(250) };
        loop {
            match self.poll(id).await? {
                Progress::Succeeded { scanned, header_row } => return Ok((scanned, header_row)),
                Progress::Waiting { state, scanned } => waiting(state, scanned),
            }
            tokio::time::sleep(delay).await;
            if !self.emulated {
                delay = (delay * 3 / 2).min(Duration::from_secs(2));
            }
        }
    }

    /// Every result page of a finished query.
    pub async fn results(&self, id: &str, scanned: u64, header_row: bool) -> Result<QueryOutput, AthenaFailure> {
        let mut output = QueryOutput { columns: Vec::new(), rows: Vec::new(), bytes_scanned: scanned };
        let mut pages = self.client.get_query_results().query_execution_id(id).into_paginator().send();
        let mut first_page = true;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| unavailable(&format!("cannot read the results of query {id}"), &err))?;
            append_page(&mut output, &page, first_page, header_row);
            first_page = false;
        }
        Ok(output)
    }

    /// Stops a running query (a finished one is left as it is).
    pub async fn stop(&self, id: &str) -> Result<(), AthenaFailure> {
        self.client
            .stop_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|err| unavailable(&format!("query {id} could not be stopped"), &err))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl AnalyticsEngine for AthenaEngine {
    async fn query(&self, tenant: &TenantId, sql: &str, parameters: &[String]) -> Result<QueryOutput, QueryError> {
        let query = self.scope(tenant, sql, parameters).await?;
        let id = self.start(&query).await?;
        let (scanned, header_row) = self.wait(&id, |_, _| {}).await?;
        Ok(self.results(&id, scanned, header_row).await?)
    }
}

fn unavailable<E>(doing: &str, err: &SdkError<E, aws_sdk_athena::config::http::HttpResponse>) -> AthenaFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    AthenaFailure::Unavailable(match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{doing}: {code}: {message}"),
        (None, Some(message)) => format!("{doing}: {message}"),
        _ => format!("{doing}: {}", chain(err)),
    })
}

/// Reads a `GetQueryExecution` answer: still going, done, or why it ended badly.
fn progress(id: &str, execution: &QueryExecution) -> Result<Progress, AthenaFailure> {
    let status = execution.status();
    let scanned = execution.statistics().and_then(|s| s.data_scanned_in_bytes()).unwrap_or(0).max(0) as u64;
    let reason = || {
        status
            .and_then(|s| s.athena_error().and_then(|e| e.error_message()).or(s.state_change_reason()))
            .map(str::to_owned)
    };
    match status.and_then(|s| s.state()) {
        Some(QueryExecutionState::Succeeded) => Ok(Progress::Succeeded {
            scanned,
            // Only a query's first result row repeats the column names.
            header_row: matches!(execution.statement_type(), None | Some(StatementType::Dml)),
        }),
        Some(QueryExecutionState::Failed) => {
            let user_error = status
                .and_then(|s| s.athena_error())
                .and_then(|e| e.error_category())
                .is_some_and(|category| category == USER_ERROR_CATEGORY);
            let reason = reason().unwrap_or_else(|| "no reason given".to_owned());
            if user_error {
                Err(AthenaFailure::Query(QueryError::Invalid { message: reason, line: None, column: None }))
            } else {
                Err(AthenaFailure::Failed { id: id.to_owned(), reason })
            }
        }
        Some(QueryExecutionState::Cancelled) => Err(AthenaFailure::Cancelled { id: id.to_owned(), reason: reason() }),
        Some(QueryExecutionState::Running) => Ok(Progress::Waiting { state: "RUNNING", scanned }),
        _ => Ok(Progress::Waiting { state: "QUEUED", scanned }),
    }
}

/// Adds one `GetQueryResults` page to `output`; the first page names the columns and, for
/// a query, repeats them as its first row, which is not data.
fn append_page(output: &mut QueryOutput, page: &GetQueryResultsOutput, first_page: bool, header_row: bool) {
    let Some(results) = page.result_set() else { return };
    if first_page {
        output.columns = results
            .result_set_metadata()
            .map(|metadata| metadata.column_info().iter().map(|column| column.name().to_owned()).collect())
            .unwrap_or_default();
    }
    let skip = usize::from(first_page && header_row);
    output.rows.extend(results.rows().iter().skip(skip).map(|row| {
        // A datum without a value is SQL NULL; an empty string is a value.
        row.data().iter().map(|datum| datum.var_char_value().map(str::to_owned)).collect::<Vec<_>>()
    }));
}

#[cfg(test)]
mod tests {
    use aws_sdk_athena::types::{
        AthenaError, ColumnInfo, Datum, QueryExecutionStatistics, QueryExecutionStatus, ResultSet, ResultSetMetadata,
        Row,
    };

    use super::*;

    fn execution(state: QueryExecutionState, error: Option<AthenaError>) -> QueryExecution {
        let mut status = QueryExecutionStatus::builder().state(state).state_change_reason("state changed");
        if let Some(error) = error {
            status = status.athena_error(error);
        }
        QueryExecution::builder()
            .statement_type(StatementType::Dml)
            .status(status.build())
            .statistics(QueryExecutionStatistics::builder().data_scanned_in_bytes(4096).build())
            .build()
    }

    #[test]
    fn each_state_becomes_a_wait_an_answer_or_a_reason() {
        assert_eq!(
            progress("q", &execution(QueryExecutionState::Running, None)).ok(),
            Some(Progress::Waiting { state: "RUNNING", scanned: 4096 })
        );
        assert_eq!(
            progress("q", &execution(QueryExecutionState::Succeeded, None)).ok(),
            Some(Progress::Succeeded { scanned: 4096, header_row: true })
        );
        let syntax = AthenaError::builder()
            .error_category(USER_ERROR_CATEGORY)
            .error_message("line 1:8: mismatched input 'FORM'")
            .build();
        match progress("q", &execution(QueryExecutionState::Failed, Some(syntax))) {
            Err(AthenaFailure::Query(err)) => assert_eq!(err.to_string(), "line 1:8: mismatched input 'FORM'"),
            other => panic!("a user error is the query's: {other:?}"),
        }
        let system = AthenaError::builder().error_category(1).error_message("internal error").build();
        match progress("q", &execution(QueryExecutionState::Failed, Some(system))) {
            Err(AthenaFailure::Failed { reason, .. }) => assert_eq!(reason, "internal error"),
            other => panic!("a system error is Athena's: {other:?}"),
        }
        match progress("q", &execution(QueryExecutionState::Cancelled, None)) {
            Err(AthenaFailure::Cancelled { reason, .. }) => assert_eq!(reason.as_deref(), Some("state changed")),
            other => panic!("cancelled: {other:?}"),
        }
    }

    fn row(values: &[Option<&str>]) -> Row {
        let mut row = Row::builder();
        for value in values {
            row = row.data(match value {
                Some(text) => Datum::builder().var_char_value(*text).build(),
                None => Datum::builder().build(),
            });
        }
        row.build()
    }

    fn page(rows: Vec<Row>) -> GetQueryResultsOutput {
        let metadata = ResultSetMetadata::builder()
            .column_info(ColumnInfo::builder().name("day").r#type("varchar").build().expect("column"))
            .column_info(ColumnInfo::builder().name("revenue").r#type("decimal").build().expect("column"))
            .build();
        GetQueryResultsOutput::builder()
            .result_set(ResultSet::builder().set_rows(Some(rows)).result_set_metadata(metadata).build())
            .build()
    }

    #[test]
    fn pages_drop_the_header_row_once_and_keep_nulls_and_empty_strings() {
        let mut output = QueryOutput { columns: Vec::new(), rows: Vec::new(), bytes_scanned: 0 };
        let first = page(vec![row(&[Some("day"), Some("revenue")]), row(&[Some("2026-01-01"), None])]);
        append_page(&mut output, &first, true, true);
        let second = page(vec![row(&[Some("day"), Some("")])]);
        append_page(&mut output, &second, false, true);
        assert_eq!(output.columns, ["day", "revenue"]);
        assert_eq!(
            output.rows,
            vec![vec![Some("2026-01-01".to_owned()), None], vec![Some("day".to_owned()), Some(String::new())]]
        );
    }
}
