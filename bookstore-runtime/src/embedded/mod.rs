//! Embedded adapters for the local stage: no cloud account, one data directory.

mod store;

pub use store::EmbeddedStore;
