//! The `LakeWriter` port: the analytics lake, partitioned by tenant and day.
//!
//! Layout (as the seeds and the Glue tables expect):
//! `{tenant}/{dataset}/year=YYYY/month=MM/day=DD/{batch}.json`, newline-delimited JSON,
//! one file per batch and partition (never one tiny file per record). A file is named by
//! its first row, so a batch offered again from the same record — a retry, or a replay
//! from the checkpoint after a crash, however many records it then holds — overwrites
//! the file instead of adding a second copy (see `cdc/lake.rs` for what that asks of
//! the handler). Every key starts with the tenant.

pub mod catalog;
pub mod compacted;
mod directory;
pub mod objects;
pub mod schema;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use directory::LakeDirectory;
pub use objects::{BatchLake, LakeObject, LakeObjects};
pub use schema::glue_columns;

use crate::domain::{Book, Purchase, TenantId};

/// The lake's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// Each purchase once, on the day it was made.
    Purchases,
    /// A snapshot of a book each time it changes (analytics keeps the newest version).
    Books,
}

impl Dataset {
    /// Every dataset: the lake's directories, the engine's tables and Glue's.
    pub const ALL: [Dataset; 2] = [Dataset::Purchases, Dataset::Books];

    pub const fn name(self) -> &'static str {
        match self {
            Dataset::Purchases => "purchases",
            Dataset::Books => "books",
        }
    }
}

/// One row for the lake: its identity (for file naming), its day, and its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeRow {
    pub id: String,
    pub version: u64,
    pub at: DateTime<Utc>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// The record's members that are columns of the dataset, and no others.
fn fields_of<T: Serialize>(value: &T, dataset: Dataset) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    schema::keep_columns(&mut fields, &schema::columns(dataset));
    fields
}

impl LakeRow {
    /// A purchase as the Glue `purchases` table reads it (`items` an array of structs);
    /// the shipping address stays out.
    pub fn purchase(purchase: &Purchase) -> Self {
        Self {
            id: purchase.purchase_id.to_string(),
            version: purchase.version,
            at: purchase.created_at,
            fields: fields_of(purchase, Dataset::Purchases),
        }
    }

    /// A snapshot of a book as the Glue `books` table reads it.
    pub fn book(book: &Book) -> Self {
        let mut fields = fields_of(book, Dataset::Books);
        fields.insert("snapshot_at".into(), serde_json::Value::from(book.updated_at.to_rfc3339()));
        Self { id: book.book_id.to_string(), version: book.version, at: book.updated_at, fields }
    }
}

/// The partition a row belongs to: `{tenant}/{dataset}/year=YYYY/month=MM/day=DD`.
pub fn partition(tenant: &TenantId, dataset: Dataset, at: DateTime<Utc>) -> String {
    format!("{tenant}/{}/year={:04}/month={:02}/day={:02}", dataset.name(), at.year(), at.month(), at.day())
}

/// A batch file's name, fixed by its first row (id and version: one change of one
/// record). Two batches of a partition share a name only when they start at the same
/// record, which is when the later one replaces the earlier.
pub fn batch_file_name(rows: &[LakeRow]) -> String {
    let mut hasher = Sha256::new();
    if let Some(first) = rows.first() {
        hasher.update(first.id.as_bytes());
        hasher.update(first.version.to_be_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("batch-{hex}.json")
}

/// Why a lake write failed.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake unavailable: {0}")]
    Unavailable(String),
}

/// The lake port: `BatchLake` over a local directory (`LakeDirectory`) or S3 (`aws::S3Objects`).
#[async_trait::async_trait]
pub trait LakeWriter: Send + Sync + 'static {
    /// Writes the rows of one tenant and dataset, one file per day they fall on;
    /// writing the same rows again leaves the same files.
    async fn write(&self, tenant: &TenantId, dataset: Dataset, rows: Vec<LakeRow>) -> Result<(), LakeError>;
}
