//! `listing`: latency of listing requests on the embedded store and search engine with
//! N books in one tenant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::http::Method;
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::config::RuntimeConfig;
use bookstore_runtime::embedded::{EmbeddedStore, TantivySearch};
use serde_json::json;

use crate::{Api, books, shop};

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

pub async fn listing(count: u64) -> Result<()> {
    let store = Arc::new(EmbeddedStore::in_memory()?);
    let search = Arc::new(TantivySearch::in_memory());
    shop(store.as_ref()).await?;
    let started = Instant::now();
    books(store.as_ref(), search.as_ref(), count).await?;
    let loaded = started.elapsed();
    let api = Api { router: app(AppState::new(store, search, RuntimeConfig::for_tests())) };
    let token = api.login("reader@bench.example").await?;
    for (name, path) in [
        ("category sorted by -price, page of 20", "/api/v1/books?category=Categor%C3%ADa%2003&sort=-price&limit=20"),
        ("category in key order, page of 20", "/api/v1/books?category=Categor%C3%ADa%2003&limit=20"),
        ("every book by title, page 50 of 20", "/api/v1/books?limit=20&page=50"),
        ("categories with counts", "/api/v1/books/categories"),
    ] {
        let mut times = Vec::with_capacity(200);
        for _ in 0..200 {
            let at = Instant::now();
            api.call(Method::GET, path, Some(&token), None).await?;
            times.push(at.elapsed());
        }
        times.sort();
        println!(
            "{}",
            json!({"books": count, "request": name, "p50_ms": percentile(&times, 0.5), "p99_ms": percentile(&times, 0.99),
                   "load_seconds": loaded.as_secs_f64()})
        );
    }
    Ok(())
}
