//! Analytics over the lake: what a query returns and how it fails, whichever engine runs
//! it (Athena on AWS, the embedded engine on the local stage).

mod tenant_scope;

pub use tenant_scope::{AthenaCatalog, AthenaQuery, CompactedLake, scope_for_athena, scope_with_parameters};

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

/// A parse error at the end of the text comes without a position; it is the end.
pub(crate) fn at_end_if_unplaced(err: QueryError, sql: &str) -> QueryError {
    match err {
        QueryError::Invalid { message, line: None, .. } if message.ends_with("found: EOF") => {
            let line = sql.trim_end().lines().count().max(1);
            let column = sql.trim_end().lines().last().map_or(0, |l| l.chars().count()) + 1;
            QueryError::Invalid { message, line: Some(line as u64), column: Some(column as u64) }
        }
        other => other,
    }
}

/// sqlparser puts the position in its text: "… at Line: 3, Column: 14".
pub(crate) fn position_in(message: &str) -> Option<(u64, u64)> {
    let rest = &message[message.find("Line: ")? + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

/// DataFusion's prefixes ("Error during planning: ", "SQL error: ParserError(…)") say
/// nothing to a user.
pub(crate) fn clean(message: &str) -> String {
    let mut text = message.trim();
    if let Some(at) = text.find(" at Line: ") {
        text = &text[..at];
    }
    for prefix in ["Error during planning: ", "Schema error: ", "SQL error: ", "This feature is not implemented: "] {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    text = text.strip_prefix("ParserError(\"").unwrap_or(text);
    text = text.strip_suffix("\")").unwrap_or(text);
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_positions_are_read_from_the_message() {
        assert_eq!(position_in("Expected: an expression, found: = at Line: 3, Column: 14"), Some((3, 14)));
        assert_eq!(position_in("found: EOF"), None);
    }
}
