//! `bookstore-search`: an Elasticsearch-compatible node over tantivy, serving the REST
//! subset Bookstore's tenants need (see `docs/search-node.md`) from one data directory.

pub mod analysis;
pub mod document;
pub mod error;
pub mod http;
pub mod index;
pub mod mapping;
pub mod node;
pub mod query;
pub mod search;
pub mod sort;

pub use error::EsError;
pub use http::router;
pub use node::Node;
