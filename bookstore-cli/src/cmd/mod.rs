//! One module per subcommand.

pub mod athena;
pub mod deploy;
pub mod destroy;
pub mod outputs;
pub mod package;
pub mod reindex;
pub mod render;
pub mod stack;
pub mod stage;
pub mod tenant;
pub mod up;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bookstore_runtime::embedded::EmbeddedStore;
use clap::Args;

use crate::stage::{Provider, load as load_stage};

/// Which local stage and data directory a command works on.
#[derive(Debug, Args)]
pub struct LocalStageArgs {
    /// The stage (local stages use the embedded store under --data-dir).
    #[arg(long, default_value = "local")]
    pub stage: String,
    /// Directory holding the stage files (default: ./stages or the nearest above).
    #[arg(long)]
    pub stages_dir: Option<PathBuf>,
    /// Where the local stage keeps its data.
    #[arg(long, default_value = ".bookstore")]
    pub data_dir: PathBuf,
}

impl LocalStageArgs {
    /// Opens the stage's store; `what` names the command for the AWS-stage refusal.
    pub fn open_store(&self, what: &str) -> Result<Arc<EmbeddedStore>> {
        let stage = load_stage(&self.stage, self.stages_dir.as_deref())?;
        if stage.provider != Provider::Local {
            bail!("--stage {}: {what} on AWS stages is not supported by this build yet; use a local stage", stage.name);
        }
        open_local_store(&self.data_dir)
    }
}

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
