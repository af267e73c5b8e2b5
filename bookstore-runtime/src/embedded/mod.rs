//! Embedded adapters for the local stage: no cloud account, one data directory.

mod change_feed;
mod search;
mod store;

pub use change_feed::{ChangeFeed, FeedConfig, Step};
pub use search::TantivySearch;
pub use store::{DeadLetter, EmbeddedStore};
