//! One module per subcommand.

pub mod reindex;
pub mod stage;
pub mod tenant;
pub mod up;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use bookstore_runtime::embedded::EmbeddedStore;

/// Opens the local stage's store under the data directory, creating it if needed.
pub fn open_local_store(data_dir: &Path) -> Result<Arc<EmbeddedStore>> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let path = data_dir.join("store.redb");
    let store = EmbeddedStore::open(&path).with_context(|| {
        format!("cannot open {} (is another `bookstore up` using this --data-dir?)", path.display())
    })?;
    Ok(Arc::new(store))
}
