//! `bookstore reindex --tenant T`: rebuilds a tenant's search index from the store (after
//! a mapping change or a lost disk). On the local stage the server must be stopped: the
//! store file and the index are held by the running `bookstore up`.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bookstore_runtime::domain::{Book, TenantId};
use bookstore_runtime::embedded::TantivySearch;
use bookstore_runtime::search::{BookDocument, IndexChange, SearchIndex};
use bookstore_runtime::store::{Index, Query, SortKeyRange, Table, item_record, keys, query_all};
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

/// Books written to the index per commit.
const CHUNK: usize = 500;

pub async fn run(args: ReindexArgs) -> Result<()> {
    let tenant = TenantId::parse(&args.tenant).map_err(|e| anyhow::anyhow!("--tenant {:?}: {e}", args.tenant))?;
    let store = args.local.open_store("reindexing")?;
    let data_dir = &args.local.data_dir;
    if bookstore_runtime::accounts::get_tenant(store.as_ref(), &tenant).await?.is_none() {
        bail!("--tenant {tenant}: no such tenant in {}", data_dir.display());
    }
    let search: Arc<dyn SearchIndex> = Arc::new(TantivySearch::open(data_dir.join("search")));
    let query = Query::index(Table::Books, Index::Gsi1, keys::books_by_category(&tenant), SortKeyRange::All);
    let books: Vec<Book> = query_all(store.as_ref(), query)
        .await?
        .into_iter()
        .map(item_record)
        .collect::<Result<_, _>>()
        .context("a stored book does not read back")?;
    search.clear(&tenant).await.with_context(|| format!("cannot clear the index of {tenant}"))?;
    let progress = ProgressBar::new(books.len() as u64).with_message(format!("indexing {tenant}"));
    progress.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} books ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    for chunk in books.chunks(CHUNK) {
        let changes = chunk
            .iter()
            .map(|book| {
                if book.is_active {
                    IndexChange::Upsert(BookDocument::from(book))
                } else {
                    IndexChange::Delete { book_id: book.book_id, version: book.version }
                }
            })
            .collect();
        search.apply(&tenant, changes).await.with_context(|| format!("indexing {tenant} failed"))?;
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    println!("reindexed {} books of {tenant} in {:.2} s", books.len(), started.elapsed().as_secs_f64());
    Ok(())
}
