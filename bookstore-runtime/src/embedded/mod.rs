//! Embedded adapters for the local stage: no cloud account, one data directory.

mod change_feed;
mod search;
mod store;

pub use change_feed::{ChangeFeed, FeedConfig, Step};
pub use search::TantivySearch;
pub use store::{DeadLetter, EmbeddedStore};

use std::sync::Arc;

use crate::cdc::{BooksToSearch, PurchasesToSearch};
use crate::search::SearchIndex;
use crate::store::Table;

/// The local stage's change-data capture: one feed per stream, as the event source
/// mappings are on AWS.
pub fn local_feeds(store: Arc<EmbeddedStore>, search: Arc<dyn SearchIndex>) -> Vec<ChangeFeed> {
    vec![
        ChangeFeed::new(
            store.clone(),
            "books-to-search",
            vec![Table::Books],
            Arc::new(BooksToSearch::new(search.clone())),
            FeedConfig::default(),
        ),
        ChangeFeed::new(
            store,
            "purchases-to-search",
            vec![Table::Purchases],
            Arc::new(PurchasesToSearch::new(search)),
            FeedConfig::default(),
        ),
    ]
}
