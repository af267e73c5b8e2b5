//! `streams`: the books-to-search consumer on DynamoDB Local's Streams, as `bookstore up`
//! runs it on an AWS stage.
//!
//! - Throughput: N books written (two stream records each: the book and its ISBN claim),
//!   then the consumer started from `TRIM_HORIZON` and timed until it has caught up.
//! - Lag: with the consumer running (polling as an event source mapping does), a book
//!   created through the API at a point spread over the poll interval, then the search
//!   route asked every 5 ms until it finds the book; the time from the `201` to the
//!   first hit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use axum::http::Method;
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::aws::{Connection, DynamoStore, EVENT_SOURCE_POLL};
use bookstore_runtime::catalog;
use bookstore_runtime::cdc::BooksToSearch;
use bookstore_runtime::changes::{self, ChangeFeed, FeedConfig};
use bookstore_runtime::config::RuntimeConfig;
use bookstore_runtime::domain::{BookId, TenantId};
use bookstore_runtime::embedded::{EmbeddedStore, TantivySearch};
use bookstore_runtime::store::Table;
use serde_json::json;
use tokio::sync::watch;

use crate::listing::percentile;
use crate::{Api, TENANT, new_book, shop};

/// Writers loading the backlog at once.
const WRITERS: u64 = 8;

/// How often the lag probe asks the search route again.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// Writes `count` books with `WRITERS` concurrent writers.
async fn backlog(store: &Arc<DynamoStore>, count: u64) -> Result<()> {
    let tenant = TenantId::parse(TENANT)?;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (store, tenant) = (store.clone(), tenant.clone());
        writers.spawn(async move {
            for n in (writer..count).step_by(WRITERS as usize) {
                let new = serde_json::from_value(new_book(n))?;
                catalog::create_book(store.as_ref(), &tenant, BookId::new_v7(), new, chrono::Utc::now()).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    Ok(())
}

pub async fn streams(url: String, count: u64, probes: usize) -> Result<()> {
    let prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (store, streams) =
        Connection::new("eu-west-1", Some(url)).dynamo_store_and_streams(&prefix, EVENT_SOURCE_POLL).await;
    store.create_missing_tables().await?;
    shop(&store).await?;
    let store = Arc::new(store);
    let streams = Arc::new(streams);
    backlog(&store, count).await?;
    let records = changes::read_all(streams.as_ref(), Table::Books).await?.len();

    let search = Arc::new(TantivySearch::in_memory());
    let feed = || {
        let ledger = EmbeddedStore::in_memory()?;
        let handler = Arc::new(BooksToSearch::new(search.clone()));
        anyhow::Ok(ChangeFeed::new(
            streams.clone(),
            Arc::new(ledger),
            "books-to-search",
            Table::Books,
            handler,
            FeedConfig::default(),
        ))
    };
    let mut draining = feed()?;
    let started = Instant::now();
    draining.drain().await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"measure": "streams consumer, backlog from TRIM_HORIZON", "books": count, "records": records,
               "seconds": seconds, "records_per_s": (records as f64 / seconds).round()})
    );

    let api = Api { router: app(AppState::new(store.clone(), search.clone(), RuntimeConfig::for_tests())) };
    let admin = api.login("admin@bench.example").await?;
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(draining.run(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|s| *s).await;
    }));
    let mut lags = Vec::with_capacity(probes);
    for probe in 0..probes {
        // Spread the writes over the consumer's poll interval, not in step with it.
        let phase = (probe as u64 * 97) % EVENT_SOURCE_POLL.as_millis() as u64;
        tokio::time::sleep(Duration::from_millis(phase)).await;
        let marker = format!("hito{probe:05}");
        let mut book = new_book(count + probe as u64);
        book["title"] = json!(format!("Libro {marker}"));
        api.call(Method::POST, "/api/v1/books", Some(&admin), Some(book)).await?;
        let created = Instant::now();
        let path = format!("/api/v1/books/search?q={marker}&fuzzy=false");
        loop {
            let found = api.call(Method::GET, &path, Some(&admin), None).await?;
            if found["data"].as_array().is_some_and(|hits| !hits.is_empty()) {
                break;
            }
            ensure!(created.elapsed() < Duration::from_secs(30), "{marker} not searchable after 30 s");
            tokio::time::sleep(PROBE_EVERY).await;
        }
        lags.push(created.elapsed());
    }
    let _ = stop.send(true);
    running.await??;
    lags.sort();
    println!(
        "{}",
        json!({"measure": "HTTP 201 to first search hit, consumer running", "probes": probes,
               "poll_ms": EVENT_SOURCE_POLL.as_millis() as u64, "p50_ms": percentile(&lags, 0.5),
               "p99_ms": percentile(&lags, 0.99), "max_ms": percentile(&lags, 1.0)})
    );
    Ok(())
}
