//! `bookstore reindex --tenant T`: rebuilds a tenant's search index from the store (after
//! a mapping change or a lost disk). On the local stage the server must be stopped: the
//! store file and the index are held by the running `bookstore up`.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bookstore_runtime::cdc::rebuild_index;
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::embedded::TantivySearch;
use bookstore_runtime::search::SearchIndex;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::LocalStageArgs;

#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// The tenant whose index to rebuild.
    #[arg(long)]
    tenant: String,
    #[command(flatten)]
    local: LocalStageArgs,
}

pub async fn run(args: ReindexArgs) -> Result<()> {
    let tenant = TenantId::parse(&args.tenant).map_err(|e| anyhow::anyhow!("--tenant {:?}: {e}", args.tenant))?;
    let store = args.local.open_store("reindexing")?;
    let data_dir = &args.local.data_dir;
    if bookstore_runtime::accounts::get_tenant(store.as_ref(), &tenant).await?.is_none() {
        bail!("--tenant {tenant}: no such tenant in {}", data_dir.display());
    }
    let search: Arc<dyn SearchIndex> = Arc::new(TantivySearch::open(data_dir.join("search")));
    let progress = ProgressBar::new_spinner().with_message(format!("indexing {tenant}"));
    progress.set_style(
        ProgressStyle::with_template("{msg}: {pos} books ({per_sec})").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let books = rebuild_index(store.as_ref(), search.as_ref(), &tenant, |n| progress.inc(n as u64))
        .await
        .with_context(|| format!("reindexing {tenant} failed"))?;
    progress.finish_and_clear();
    println!("reindexed {books} books of {tenant} in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
