//! Bookstore runtime: the domain, the one HTTP router, change-data capture, and the
//! ports (store, search, lake) with their adapters. Lambda binaries and the local
//! server (`bookstore up`) both run this code; only the adapters differ.

pub mod accounts;
pub mod analytics;
pub mod api;
#[cfg(feature = "aws")]
pub mod aws;
pub mod catalog;
pub mod cdc;
pub mod changes;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod domain;
#[cfg(feature = "elasticsearch")]
pub mod elasticsearch;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod functions;
pub mod lake;
pub mod limits;
pub mod metrics;
pub mod orders;
pub mod search;
pub mod store;
#[cfg(feature = "docker")]
pub mod tenancy;
