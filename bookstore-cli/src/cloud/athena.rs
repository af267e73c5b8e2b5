//! `bookstore athena query` on an AWS stage: the tenant-scoped SQL runs in the stage's
//! workgroup (which fixes the results bucket and the scan limit) over its Glue database.
//! Start, poll with a spinner showing the state and the data scanned, page through every
//! result page. Ctrl-C stops the query in Athena too, so nothing keeps scanning unseen.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_athena::types::{QueryExecution, QueryExecutionContext, QueryExecutionState, StatementType};
use bookstore_runtime::analytics::{QueryError, QueryOutput};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Clients, describe_sdk_error};

/// Athena's code for an error in the query itself (syntax, names, types).
const USER_ERROR_CATEGORY: i32 = 2;

/// Where the stage's queries run.
#[derive(Debug, Clone)]
pub struct AthenaTarget {
    pub workgroup: String,
    pub database: String,
    /// The stage's name, for the hint when its workgroup is missing.
    pub stage: String,
}

/// A query Athena ended without an answer.
#[derive(Debug, thiserror::Error)]
pub enum AthenaFailure {
    /// The SQL is wrong: the user's to fix (exit code 1 with Athena's own message, which
    /// carries the position as `line L:C`).
    #[error("{0}")]
    Query(QueryError),
    #[error("Athena could not run query {id}: {reason}")]
    Failed { id: String, reason: String },
    #[error("query {id} was cancelled{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Cancelled { id: String, reason: Option<String> },
}

/// Where one poll found the query.
#[derive(Debug, PartialEq)]
enum Progress {
    Waiting { state: &'static str, scanned: u64 },
    Succeeded { scanned: u64, header_row: bool },
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

/// Runs `sql` (already scoped to one tenant) and returns every row.
pub async fn run_query(clients: &Clients, target: &AthenaTarget, sql: &str) -> Result<QueryOutput> {
    let athena = &clients.athena;
    // Listening before the query starts: a Ctrl-C from here on stops it in Athena rather
    // than killing the process and leaving it scanning.
    let mut interrupt = Interrupt::listen()?;
    let started = athena
        .start_query_execution()
        .query_string(sql)
        .work_group(&target.workgroup)
        .query_execution_context(
            QueryExecutionContext::builder().catalog("AwsDataCatalog").database(&target.database).build(),
        )
        .send()
        .await
        .map_err(|err| {
            let message = describe_sdk_error(&err);
            let hint = if message.to_ascii_lowercase().contains("workgroup") {
                format!(" (is the stage deployed? run `bookstore deploy --stage {}`)", target.stage)
            } else {
                String::new()
            };
            anyhow!("cannot start the query in workgroup {}: {message}{hint}", target.workgroup)
        })?;
    let id = started.query_execution_id().context("Athena started a query without an id")?.to_owned();
    eprintln!("query {id} started in workgroup {}", target.workgroup);

    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    // Ctrl-C replaces the default handler for the rest of the process, so this one select
    // covers both the wait and the paging; stopping a finished query changes nothing.
    let answered = tokio::select! {
        answered = async {
            let (scanned, header_row) = wait_for(clients, &id, &spinner).await?;
            spinner.finish_and_clear();
            read_results(clients, &id, scanned, header_row).await
        } => answered,
        () = interrupt.recv() => {
            spinner.finish_and_clear();
            let stopped = athena.stop_query_execution().query_execution_id(&id).send().await;
            match stopped {
                Ok(_) => bail!("interrupted: query {id} was stopped in Athena"),
                Err(err) => bail!("interrupted, and query {id} could not be stopped: {}", describe_sdk_error(&err)),
            }
        }
    };
    spinner.finish_and_clear();
    answered
}

/// Ctrl-C, listened for from the moment this is made (`tokio::signal::ctrl_c` only
/// installs its handler when first polled).
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn listen() -> Result<Self> {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("cannot listen for Ctrl-C")?;
            Ok(Self { signal })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if self.signal.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Every result page of a finished query.
async fn read_results(clients: &Clients, id: &str, scanned: u64, header_row: bool) -> Result<QueryOutput> {
    let mut output = QueryOutput { columns: Vec::new(), rows: Vec::new(), bytes_scanned: scanned };
    let mut pages = clients.athena.get_query_results().query_execution_id(id).into_paginator().send();
    let mut first_page = true;
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|err| anyhow!("cannot read the results of query {id}: {}", describe_sdk_error(&err)))?;
        append_page(&mut output, &page, first_page, header_row);
        first_page = false;
    }
    Ok(output)
}

/// Polls until the query ends: its bytes scanned and whether its results open with a header
/// row. Backs off from 250 ms to 2 s (an emulator answers at once: 50 ms).
async fn wait_for(clients: &Clients, id: &str, spinner: &ProgressBar) -> Result<(u64, bool)> {
    let started = Instant::now();
    let mut delay = if clients.emulated { Duration::from_millis(50) } else { Duration::from_millis(250) };
    loop {
        let answer = clients
            .athena
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|err| anyhow!("cannot follow query {id}: {}", describe_sdk_error(&err)))?;
        let execution = answer.query_execution().context("Athena described no query")?;
        match progress(id, execution)? {
            Progress::Succeeded { scanned, header_row } => return Ok((scanned, header_row)),
            Progress::Waiting { state, scanned } => {
                spinner.set_message(format!(
                    "{state}, {} scanned, {:.1} s",
                    crate::cmd::athena::human_bytes(scanned),
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        tokio::time::sleep(delay).await;
        if !clients.emulated {
            delay = (delay * 3 / 2).min(Duration::from_secs(2));
        }
    }
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
