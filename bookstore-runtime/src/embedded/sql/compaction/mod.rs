//! Compaction: closed days of the lake's newline-delimited JSON batches become Parquet
//! (zstd), every record once (by id and version), with a summary of each day's
//! purchases. Two mechanisms keep a reader from seeing a record twice or not at all:
//! on a local directory, a directory swap (`local`); on object storage, the tenant's
//! manifest (`objects`, see `docs/lake-compaction.md`).

mod local;
mod objects;
mod rows;

pub use crate::lake::catalog::DAILY_SUMMARIES;
pub use local::compact;
pub use objects::{CompactionOptions, compact_objects};

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactionReport {
    pub days: usize,
    pub records: usize,
    pub duplicates_dropped: usize,
    pub json_bytes: u64,
    pub parquet_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CompactionError(String);
