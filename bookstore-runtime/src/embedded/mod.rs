//! Embedded adapters for the local stage: no cloud account, one data directory.

mod change_feed;
mod store;

pub use change_feed::{ChangeFeed, FeedConfig, Step};
pub use store::{DeadLetter, EmbeddedStore};
