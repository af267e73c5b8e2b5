//! The `LakeWriter` port on a local directory (the local stage's stand-in for S3).
//! Files are written to a temporary name and renamed, so a reader never sees half a file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use crate::domain::TenantId;
use crate::lake::{Dataset, LakeError, LakeRow, LakeWriter, batch_file_name, partition};

/// A lake under a root directory.
pub struct LocalLake {
    root: PathBuf,
}

impl LocalLake {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

fn unavailable(err: impl std::fmt::Display) -> LakeError {
    LakeError::Unavailable(err.to_string())
}

#[async_trait::async_trait]
impl LakeWriter for LocalLake {
    async fn write(&self, tenant: &TenantId, dataset: Dataset, rows: Vec<LakeRow>) -> Result<(), LakeError> {
        let mut by_day: BTreeMap<String, Vec<LakeRow>> = BTreeMap::new();
        for row in rows {
            by_day.entry(partition(tenant, dataset, row.at)).or_default().push(row);
        }
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            for (partition, rows) in by_day {
                let dir = root.join(&partition);
                std::fs::create_dir_all(&dir).map_err(unavailable)?;
                let final_path = dir.join(batch_file_name(&rows));
                let temporary = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
                let mut file = std::fs::File::create(&temporary).map_err(unavailable)?;
                for row in &rows {
                    serde_json::to_writer(&mut file, &row.fields).map_err(unavailable)?;
                    file.write_all(b"\n").map_err(unavailable)?;
                }
                file.sync_all().map_err(unavailable)?;
                std::fs::rename(&temporary, &final_path).map_err(unavailable)?;
            }
            Ok(())
        })
        .await
        .map_err(unavailable)?
    }
}
