//! Where the lake's files live: a bucket of whole objects under keys (S3 on AWS, a local
//! directory on the laptop), and `BatchLake`, the `LakeWriter` over any of them. Both
//! adapters pass one conformance suite (`tests/it/lake_conformance.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Dataset, LakeError, LakeRow, LakeWriter, batch_file_name, partition};
use crate::domain::TenantId;

/// One stored object: its key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeObject {
    pub key: String,
    pub size: u64,
}

/// A flat key space of whole objects. A put replaces the object at once (a reader sees
/// the old bytes or the new, never part of either); keys are `/`-separated paths that
/// start with the tenant.
#[async_trait::async_trait]
pub trait LakeObjects: Send + Sync + 'static {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), LakeError>;
    /// The object's bytes, or `None` when there is none at `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, LakeError>;
    /// Every object whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<LakeObject>, LakeError>;
    /// The distinct names one level under `prefix` (empty, or ending in `/`) that hold
    /// objects, in order: the tenants under the root, say.
    async fn children(&self, prefix: &str) -> Result<Vec<String>, LakeError>;
    /// Removes the objects; a key with no object is not an error.
    async fn delete(&self, keys: &[String]) -> Result<(), LakeError>;
    /// Where the objects are, as messages name it (`s3://bucket`, a directory).
    fn describe(&self) -> String;
}

/// Newline-delimited JSON, one row's columns per line.
pub fn encode_rows(rows: &[LakeRow]) -> Vec<u8> {
    let mut body = Vec::new();
    for row in rows {
        // A map of JSON values always serializes.
        if serde_json::to_writer(&mut body, &row.fields).is_ok() {
            body.push(b'\n');
        }
    }
    body
}

/// The lake's batches as objects: one NDJSON object per batch and day partition, named by
/// its first row (`lake::batch_file_name`).
pub struct BatchLake {
    objects: Arc<dyn LakeObjects>,
}

impl BatchLake {
    pub fn new(objects: Arc<dyn LakeObjects>) -> Self {
        Self { objects }
    }

    /// The lake in a local directory.
    pub fn in_directory(root: impl Into<std::path::PathBuf>) -> Self {
        Self::new(Arc::new(super::LakeDirectory::new(root)))
    }

    pub fn objects(&self) -> &Arc<dyn LakeObjects> {
        &self.objects
    }
}

#[async_trait::async_trait]
impl LakeWriter for BatchLake {
    async fn write(&self, tenant: &TenantId, dataset: Dataset, rows: Vec<LakeRow>) -> Result<(), LakeError> {
        let mut by_day: BTreeMap<String, Vec<LakeRow>> = BTreeMap::new();
        for row in rows {
            by_day.entry(partition(tenant, dataset, row.at)).or_default().push(row);
        }
        for (partition, rows) in by_day {
            let key = format!("{partition}/{}", batch_file_name(&rows));
            self.objects.put(&key, encode_rows(&rows)).await?;
        }
        Ok(())
    }
}
