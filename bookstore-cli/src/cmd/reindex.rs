//! `bookstore reindex --tenant T`: rebuilds a tenant's search index from the store (after
//! a mapping change or a lost disk). On the local stage the server must be stopped: the
//! store file and the index are held by the running `bookstore up`. On an AWS stage the
//! tenant's container gets a new index generation, filled from DynamoDB and swapped in by
//! alias, so search keeps answering from the old one until the new one is complete.

use std::sync::Arc;

use anyhow::{Result, bail};
use bookstore_runtime::cdc::rebuild_index;
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::embedded::TantivySearch;
use bookstore_runtime::search::SearchIndex;
use bookstore_runtime::tenancy::AdminCommand;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::tenant::SearchHostAccess;
use super::{DynamoArgs, LocalStageArgs, open_stage_store};
use crate::stage::Provider;

#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// The tenant whose index to rebuild.
    #[arg(long)]
    tenant: String,
    #[command(flatten)]
    local: LocalStageArgs,
    #[command(flatten)]
    dynamo: DynamoArgs,
}

fn progress_bar(tenant: &TenantId) -> ProgressBar {
    let progress = ProgressBar::new_spinner().with_message(format!("indexing {tenant}"));
    progress.set_style(
        ProgressStyle::with_template("{msg}: {pos} books ({per_sec})").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress
}

pub async fn run(args: ReindexArgs) -> Result<()> {
    let tenant = TenantId::parse(&args.tenant).map_err(|e| anyhow::anyhow!("--tenant {:?}: {e}", args.tenant))?;
    let stage = args.local.load_stage()?;
    let store = open_stage_store(&stage, &args.local.data_dir, &args.dynamo).await?;
    if bookstore_runtime::accounts::get_tenant(store.as_ref(), &tenant).await?.is_none() {
        bail!("--tenant {tenant}: no such tenant on stage {}", stage.name);
    }
    let started = std::time::Instant::now();
    let progress = progress_bar(&tenant);
    let books = match stage.provider {
        Provider::Local => {
            let search: Arc<dyn SearchIndex> = Arc::new(TantivySearch::open(args.local.data_dir.join("search")));
            rebuild_index(store.as_ref(), search.as_ref(), &tenant, |n| progress.inc(n as u64)).await?
        }
        Provider::Aws => match SearchHostAccess::open(&stage, store.clone(), &args.dynamo).await? {
            None => bail!(
                "stage {} is emulated and has no search host: set DOCKER_HOST to reindex a tenant's container",
                stage.name
            ),
            Some(SearchHostAccess::Direct(admin)) => admin.reindex(&tenant, &|n| progress.inc(n as u64)).await?,
            Some(access) => {
                access.run(AdminCommand::Reindex { tenant: tenant.clone() }).await?;
                progress.finish_and_clear();
                println!(
                    "reindexed {tenant} in {:.2} s (by the stage's tenant-admin function)",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
        },
    };
    progress.finish_and_clear();
    println!("reindexed {books} books of {tenant} in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
