//! Integration tests of the runtime: one binary, one module per area.

mod api_analytics;
mod api_bad_input;
mod api_books;
mod api_checkout;
mod api_isolation;
mod api_limits;
mod api_search;
mod api_users;
mod change_feed;
mod demo_seed;
#[cfg(feature = "aws")]
mod dynamodb_faults;
#[cfg(feature = "aws")]
mod dynamodb_local;
mod lake_cdc;
mod lake_compaction;
mod lake_conformance;
mod lambda_fixtures;
mod limits_conformance;
mod search_conformance;
#[cfg(feature = "elasticsearch")]
mod search_elasticsearch;
mod store_conformance;
mod support;
