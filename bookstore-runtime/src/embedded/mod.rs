//! Embedded adapters for the local stage: no cloud account, one data directory.

mod change_log;
mod partition_cache;
mod search;
mod search_order;
mod sql;
mod store;

pub use change_log::{LOG_SHARD, sequence_text};
pub use search::TantivySearch;
pub use sql::{CompactionError, CompactionOptions, CompactionReport, LocalSql, compact, compact_objects};
pub use store::EmbeddedStore;

use std::sync::Arc;

use crate::cdc::stream_feeds;
use crate::changes::{ChangeFeed, FeedConfig};
use crate::lake::LakeWriter;
use crate::search::SearchIndex;

/// The local stage's feeds: the embedded store's logs, its own ledger.
pub fn local_feeds(
    store: Arc<EmbeddedStore>,
    search: Arc<dyn SearchIndex>,
    lake: Arc<dyn LakeWriter>,
) -> Vec<ChangeFeed> {
    stream_feeds(store.clone(), store, search, lake, &FeedConfig::default())
}
