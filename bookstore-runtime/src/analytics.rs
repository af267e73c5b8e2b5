//! Analytics over the lake: what a query returns and how it fails, whichever engine runs
//! it (Athena on AWS, the embedded engine on the local stage).

use serde::Serialize;

use crate::domain::TenantId;

/// Runs Athena-dialect SQL over one tenant's lake. `parameters` bind `$1`, `$2`, … as
/// text values: a report's parameters are never spliced into its SQL.
#[async_trait::async_trait]
pub trait AnalyticsEngine: Send + Sync {
    async fn query(&self, tenant: &TenantId, sql: &str, parameters: &[String]) -> Result<QueryOutput, QueryError>;
}

/// A query's answer: column names, rows, and what it cost. Cells are text (`None` for
/// NULL), as Athena returns them, so both engines print alike.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueryOutput {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Bytes of lake files the query read (Athena's "data scanned").
    pub bytes_scanned: u64,
}

/// Why a query gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL itself is wrong (syntax, unknown column or table, unsupported form): the
    /// user's to fix. The position is 1-based, when the engine knows it.
    #[error("{}{message}", position(*line, *column))]
    Invalid { message: String, line: Option<u64>, column: Option<u64> },
    /// The engine could not run a valid query (unreadable files, resources).
    #[error("{0}")]
    Failed(String),
}

fn position(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("line {line}:{column}: "),
        (Some(line), None) => format!("line {line}: "),
        _ => String::new(),
    }
}
