//! Embedded adapters for the local stage: no cloud account, one data directory.

mod change_feed;
mod lake;
mod partition_cache;
mod search;
mod sql;
mod store;

pub use change_feed::{ChangeFeed, FeedConfig, Step};
pub use lake::LocalLake;
pub use search::TantivySearch;
pub use sql::{CompactionError, CompactionReport, LocalSql, compact, glue_columns};
pub use store::{DeadLetter, EmbeddedStore};

use std::sync::Arc;

use crate::cdc::{BooksToLake, BooksToSearch, PurchasesToLake, PurchasesToSearch, StreamHandler};
use crate::lake::LakeWriter;
use crate::search::SearchIndex;
use crate::store::Table;

/// The local stage's change-data capture: one feed per stream and consumer, as the
/// event source mappings are on AWS (each with its own checkpoint and dead letters).
pub fn local_feeds(
    store: Arc<EmbeddedStore>,
    search: Arc<dyn SearchIndex>,
    lake: Arc<dyn LakeWriter>,
) -> Vec<ChangeFeed> {
    let feed = |name: &str, table: Table, handler: Arc<dyn StreamHandler>| {
        ChangeFeed::new(store.clone(), name, vec![table], handler, FeedConfig::default())
    };
    vec![
        feed("books-to-search", Table::Books, Arc::new(BooksToSearch::new(search.clone()))),
        feed("purchases-to-search", Table::Purchases, Arc::new(PurchasesToSearch::new(search))),
        feed("books-to-lake", Table::Books, Arc::new(BooksToLake::new(lake.clone()))),
        feed("purchases-to-lake", Table::Purchases, Arc::new(PurchasesToLake::new(lake))),
    ]
}
