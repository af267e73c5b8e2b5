//! The local change feed over a real embedded store, with a handler that records what
//! it is given (and fails the records a test tells it to).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use bookstore_runtime::cdc::{StreamHandler, decode_image};
use bookstore_runtime::embedded::{ChangeFeed, EmbeddedStore, FeedConfig, Step};
use bookstore_runtime::store::{Item, Store, Table};
use serde_json::json;

/// Records what it applied (by `pk`), and fails `pk`s listed in `failing` the given
/// number of times (`u32::MAX`: always).
#[derive(Default)]
struct Recorder {
    applied: Mutex<Vec<String>>,
    failing: Mutex<HashMap<String, u32>>,
}

#[async_trait::async_trait]
impl StreamHandler for Recorder {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        for record in event.records {
            let image = decode_image(&record.change.new_image)
                .ok()
                .flatten()
                .or_else(|| decode_image(&record.change.old_image).ok().flatten());
            let pk = image.and_then(|i| i.get("pk").and_then(|v| v.as_str()).map(str::to_owned)).unwrap_or_default();
            let mut failing = self.failing.lock().expect("lock");
            if let Some(left) = failing.get_mut(&pk).filter(|left| **left > 0) {
                *left = left.saturating_sub(1);
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.map(|s| s.trim_start_matches('0').to_owned());
                response.batch_item_failures.push(failure);
                continue;
            }
            self.applied.lock().expect("lock").push(pk);
        }
        response
    }
}

fn book(n: usize) -> Item {
    let Some(item) = json!({"pk": format!("shop-a#book{n:03}"), "sk": "BOOK#1", "n": n}).as_object().cloned() else {
        unreachable!()
    };
    item
}

fn config() -> FeedConfig {
    FeedConfig { batch_size: 4, max_attempts: 3, retry_backoff: Duration::from_millis(1), region: "local".into() }
}

fn temp_store_path() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bookstore-feed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("store.redb")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_delivers_each_record_in_order_and_resumes_from_its_checkpoint_after_a_restart() {
    let path = temp_store_path();
    let recorder = Arc::new(Recorder::default());
    {
        let store = Arc::new(EmbeddedStore::open(&path).expect("store"));
        for n in 0..10 {
            store.put(Table::Books, book(n), None).await.expect("put");
        }
        store.put(Table::ShoppingCart, book(99), None).await.expect("unstreamed");
        store.put(Table::Purchases, book(50), None).await.expect("other stream");
        let mut feed = ChangeFeed::new(store.clone(), "books-test", vec![Table::Books], recorder.clone(), config());
        feed.drain().await.expect("drain");
        let applied = recorder.applied.lock().expect("lock").clone();
        let expected: Vec<String> = (0..10).map(|n| format!("shop-a#book{n:03}")).collect();
        assert_eq!(applied, expected, "books only, once each, in order");
        for n in 10..15 {
            store.put(Table::Books, book(n), None).await.expect("put");
        }
    }
    let store = Arc::new(EmbeddedStore::open(&path).expect("reopened"));
    let mut feed = ChangeFeed::new(store, "books-test", vec![Table::Books], recorder.clone(), config());
    feed.drain().await.expect("drain");
    let applied = recorder.applied.lock().expect("lock").clone();
    assert_eq!(applied.len(), 15, "after the restart only the new records came: {applied:?}");
    assert_eq!(applied[10], "shop-a#book010");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_is_dead_lettered_alone_and_the_rest_apply() {
    let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
    for n in 0..8 {
        store.put(Table::Books, book(n), None).await.expect("put");
    }
    let recorder = Arc::new(Recorder::default());
    recorder.failing.lock().expect("lock").insert("shop-a#book003".into(), u32::MAX);
    let mut feed = ChangeFeed::new(store.clone(), "books-test", vec![Table::Books], recorder.clone(), config());
    let mut steps = Vec::new();
    loop {
        let step = feed.step().await.expect("step");
        if step == Step::CaughtUp {
            break;
        }
        steps.push(step);
    }
    assert!(steps.contains(&Step::DeadLettered(4)), "{steps:?}");
    let letters = store.dead_letters("books-test").expect("letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].record.sequence, 4);
    assert_eq!(letters[0].attempts, 3);
    let applied = recorder.applied.lock().expect("lock").clone();
    for n in (0..8).filter(|n| *n != 3) {
        assert!(applied.contains(&format!("shop-a#book{n:03}")), "book {n} was not applied: {applied:?}");
    }
    assert!(!applied.contains(&"shop-a#book003".to_owned()));
    assert!(store.dead_letters("another-consumer").expect("letters").is_empty(), "dead letters are per consumer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_and_not_dead_lettered() {
    let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
    for n in 0..3 {
        store.put(Table::Books, book(n), None).await.expect("put");
    }
    let recorder = Arc::new(Recorder::default());
    recorder.failing.lock().expect("lock").insert("shop-a#book001".into(), 2);
    let mut feed = ChangeFeed::new(store.clone(), "books-test", vec![Table::Books], recorder.clone(), config());
    feed.drain().await.expect("drain");
    assert!(store.dead_letters("books-test").expect("letters").is_empty());
    let applied = recorder.applied.lock().expect("lock").clone();
    assert!(applied.contains(&"shop-a#book001".to_owned()), "applied on the third attempt: {applied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_feed_wakes_on_new_commits_and_stops_on_shutdown() {
    let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
    let recorder = Arc::new(Recorder::default());
    let feed = ChangeFeed::new(store.clone(), "books-test", vec![Table::Books], recorder.clone(), config());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(feed.run(async move {
        let _ = stopped.await;
    }));
    store.put(Table::Books, book(7), None).await.expect("put");
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorder.applied.lock().expect("lock").is_empty() {
        assert!(Instant::now() < deadline, "the feed never delivered the record");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = stop.send(());
    running.await.expect("join").expect("feed ends cleanly");
    assert_eq!(store.checkpoint("books-test").expect("checkpoint"), 1);
}

/// Remembers the sequence numbers of each batch it is given; fails its first batch.
#[derive(Default)]
struct FailsFirstBatch {
    batches: Mutex<Vec<Vec<u64>>>,
}

#[async_trait::async_trait]
impl StreamHandler for FailsFirstBatch {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let sequences: Vec<u64> =
            event.records.iter().filter_map(|r| r.change.sequence_number.as_deref()?.parse().ok()).collect();
        let mut batches = self.batches.lock().expect("lock");
        batches.push(sequences.clone());
        let mut response = DynamoDbEventResponse::default();
        if batches.len() == 1 {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequences.first().map(u64::to_string);
            response.batch_item_failures.push(failure);
        }
        response
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_offers_the_same_records_even_when_new_ones_arrived() {
    let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
    for n in 0..3 {
        store.put(Table::Books, book(n), None).await.expect("put");
    }
    let handler = Arc::new(FailsFirstBatch::default());
    let mut feed = ChangeFeed::new(store.clone(), "books-test", vec![Table::Books], handler.clone(), config());
    assert!(matches!(feed.step().await.expect("step"), Step::Retrying { sequence: 1, attempt: 1 }));
    store.put(Table::Books, book(3), None).await.expect("a record arrives meanwhile");
    feed.drain().await.expect("drain");
    let batches = handler.batches.lock().expect("lock").clone();
    assert_eq!(batches, vec![vec![1, 2, 3], vec![1, 2, 3], vec![4]], "the retry is the failed batch again");
}
