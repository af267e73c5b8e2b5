//! The change-feed port's conformance suite, and the feed (batches, retries, dead letters,
//! checkpoints) over it. Every adapter must pass `run_suite` unchanged: the embedded
//! change log here, DynamoDB Streams on DynamoDB Local in `dynamodb_local.rs`. A stream may
//! hold other runs' records, so every check looks only at its namespace's keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use bookstore_runtime::cdc::{StreamHandler, decode_image};
use bookstore_runtime::changes::{
    ChangeFeed, ChangeKind, ChangeRecord, ChangeStream, FeedConfig, FeedLedger, ShardCheckpoint, Step, read_all,
    sequence_order,
};
use bookstore_runtime::embedded::EmbeddedStore;
use bookstore_runtime::store::{Condition, Item, Key, Store, Table, UpdateAction};
use serde_json::json;

use crate::support::item;

/// The parts a change-feed adapter comes with: the store whose writes it streams, the
/// stream, and where its consumers keep checkpoints.
#[derive(Clone)]
pub struct FeedParts {
    pub store: Arc<dyn Store>,
    pub stream: Arc<dyn ChangeStream>,
    pub ledger: Arc<dyn FeedLedger>,
}

/// Every check of the suite; `ns` keeps runs apart on a shared backend.
pub async fn run_suite(parts: FeedParts, ns: &str) {
    records_of_writes(&parts, ns).await;
    the_feed_delivers_in_order_once_and_resumes(&parts, ns).await;
    a_poison_record_is_dead_lettered_alone(&parts, ns).await;
    a_transient_failure_is_retried(&parts, ns).await;
    a_retry_offers_the_same_records(&parts, ns).await;
    a_running_feed_wakes_and_stops(&parts, ns).await;
    a_short_batch_gathers_for_its_window(&parts, ns).await;
}

fn book(ns: &str, n: usize) -> Item {
    item(&format!("{ns}#book{n:03}"), "BOOK#1", json!({"n": n}))
}

fn config() -> FeedConfig {
    FeedConfig { batch_size: 4, max_attempts: 3, retry_backoff: Duration::from_millis(1), ..FeedConfig::default() }
}

fn feed(parts: &FeedParts, consumer: &str, handler: Arc<dyn StreamHandler>) -> ChangeFeed {
    ChangeFeed::new(parts.stream.clone(), parts.ledger.clone(), consumer, Table::Books, handler, config())
}

/// The records of the namespace's keys in a table's stream, in stream order.
async fn records_of(parts: &FeedParts, table: Table, ns: &str) -> Vec<ChangeRecord> {
    let prefix = format!("{ns}#");
    let all = read_all(parts.stream.as_ref(), table).await.expect("read the stream");
    all.into_iter().filter(|r| r.key.pk.starts_with(&prefix)).collect()
}

/// Waits until the namespace has `count` records in the table's stream (a stream may lag
/// its table a little).
async fn await_records(parts: &FeedParts, table: Table, ns: &str, count: usize) -> Vec<ChangeRecord> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let records = records_of(parts, table, ns).await;
        if records.len() >= count || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn records_of_writes(parts: &FeedParts, ns: &str) {
    let store = parts.store.as_ref();
    let key = Key::new(format!("{ns}#feed"), "BOOK#1");
    store.put(Table::Books, item(&key.pk, &key.sk, json!({"v": 1})), None).await.expect("insert");
    store.update(Table::Books, &key, vec![UpdateAction::Add("v".into(), 1)], None).await.expect("modify");
    let failed = store.put(Table::Books, item(&key.pk, &key.sk, json!({"v": 9})), Some(Condition::NotExists)).await;
    assert!(failed.is_err());
    store.put(Table::ShoppingCart, item(&key.pk, "CART#1", json!({})), None).await.expect("unstreamed table");
    store.put(Table::Purchases, item(&key.pk, "PURCHASE#1", json!({})), None).await.expect("other stream");
    store.delete(Table::Books, &key, None).await.expect("remove");
    let records = await_records(parts, Table::Books, ns, 3).await;
    let kinds: Vec<ChangeKind> = records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![ChangeKind::Insert, ChangeKind::Modify, ChangeKind::Remove],
        "failed writes, unstreamed tables and other streams leave no record here"
    );
    assert!(records.iter().all(|r| r.table == Table::Books && r.key == key));
    assert!(records.windows(2).all(|w| sequence_order(&w[0].sequence, &w[1].sequence).is_lt()), "{records:?}");
    assert_eq!(records[1].old_image.as_ref().expect("old")["v"], json!(1));
    assert_eq!(records[1].new_image.as_ref().expect("new")["v"], json!(2));
    assert_eq!(records[0].old_image, None);
    assert_eq!(records[2].new_image, None);
    assert_eq!(records[2].old_image.as_ref().expect("old")["v"], json!(2));
    let purchases = await_records(parts, Table::Purchases, ns, 1).await;
    assert_eq!(purchases.len(), 1, "the purchase is in its own table's stream");

    // A read after a record's sequence number returns exactly what followed it.
    let shards = parts.stream.shards(Table::Books).await.expect("shards");
    let shard_of = shards.first().expect("a shard").id.clone();
    let first = parts.stream.read(Table::Books, &shard_of, None, 2).await.expect("read");
    assert!(first.records.len() <= 2);
    if let Some(last) = first.records.last() {
        let again = parts.stream.read(Table::Books, &shard_of, None, 2).await.expect("read again");
        assert_eq!(again.records, first.records, "reading from the same place gives the same records");
        let next = parts.stream.read(Table::Books, &shard_of, Some(&last.sequence), 2).await.expect("resume");
        assert!(next.records.iter().all(|r| sequence_order(&last.sequence, &r.sequence).is_lt()));
    }
}

/// Records what it applied (by `pk`, this namespace's only), and fails `pk`s listed in
/// `failing` the given number of times (`u32::MAX`: always).
struct Recorder {
    prefix: String,
    applied: Mutex<Vec<String>>,
    failing: Mutex<HashMap<String, u32>>,
}

impl Recorder {
    fn new(ns: &str) -> Arc<Self> {
        Arc::new(Self { prefix: format!("{ns}#"), applied: Mutex::default(), failing: Mutex::default() })
    }
    fn applied(&self) -> Vec<String> {
        self.applied.lock().expect("lock").clone()
    }
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
            if !pk.starts_with(&self.prefix) {
                continue;
            }
            let mut failing = self.failing.lock().expect("lock");
            if let Some(left) = failing.get_mut(&pk).filter(|left| **left > 0) {
                *left = left.saturating_sub(1);
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
                continue;
            }
            self.applied.lock().expect("lock").push(pk);
        }
        response
    }
}

fn pks(ns: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("{ns}#book{n:03}")).collect()
}

async fn put_books(parts: &FeedParts, ns: &str, range: std::ops::Range<usize>) {
    for n in range {
        parts.store.put(Table::Books, book(ns, n), None).await.expect("put");
    }
}

/// Drains a feed until the recorder holds `count` records of the namespace (a stream may
/// lag its table), failing after a deadline.
async fn drain_until(feed: &mut ChangeFeed, recorder: &Recorder, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        feed.drain().await.expect("drain");
        if recorder.applied().len() >= count {
            return;
        }
        assert!(Instant::now() < deadline, "only {:?} arrived", recorder.applied());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn the_feed_delivers_in_order_once_and_resumes(parts: &FeedParts, ns: &str) {
    let ns = &format!("{ns}-order");
    let recorder = Recorder::new(ns);
    put_books(parts, ns, 0..10).await;
    let consumer = format!("{ns}-books");
    let mut first = feed(parts, &consumer, recorder.clone());
    drain_until(&mut first, &recorder, 10).await;
    assert_eq!(recorder.applied(), pks(ns, 0..10), "once each, in order");
    drop(first);
    put_books(parts, ns, 10..15).await;
    // A new feed of the same consumer starts from the checkpoints the first one left.
    let mut resumed = feed(parts, &consumer, recorder.clone());
    drain_until(&mut resumed, &recorder, 15).await;
    assert_eq!(recorder.applied(), pks(ns, 0..15), "after the restart only the new records came");
}

async fn a_poison_record_is_dead_lettered_alone(parts: &FeedParts, ns: &str) {
    let ns = &format!("{ns}-poison");
    put_books(parts, ns, 0..8).await;
    let recorder = Recorder::new(ns);
    recorder.failing.lock().expect("lock").insert(format!("{ns}#book003"), u32::MAX);
    let consumer = format!("{ns}-books");
    let mut feed = feed(parts, &consumer, recorder.clone());
    drain_until(&mut feed, &recorder, 7).await;
    let letters = parts.ledger.dead_letters(&consumer).expect("letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].record.key.pk, format!("{ns}#book003"));
    assert_eq!(letters[0].attempts, 3);
    let checkpoint = parts.ledger.checkpoint(&consumer, &letters[0].shard).expect("checkpoint");
    assert!(matches!(checkpoint, Some(ShardCheckpoint::After(_))), "{checkpoint:?}");
    let expected: Vec<String> = pks(ns, 0..8).into_iter().filter(|pk| !pk.ends_with("book003")).collect();
    // At least once: the records after the poison in its batch come again with each retry.
    let mut first_deliveries = recorder.applied();
    let mut seen = std::collections::HashSet::new();
    first_deliveries.retain(|pk| seen.insert(pk.clone()));
    assert_eq!(first_deliveries, expected, "the rest applied, in order");
    assert!(parts.ledger.dead_letters(&format!("{ns}-other")).expect("letters").is_empty(), "per consumer");
}

async fn a_transient_failure_is_retried(parts: &FeedParts, ns: &str) {
    let ns = &format!("{ns}-transient");
    put_books(parts, ns, 0..3).await;
    let recorder = Recorder::new(ns);
    recorder.failing.lock().expect("lock").insert(format!("{ns}#book001"), 2);
    let consumer = format!("{ns}-books");
    let mut feed = feed(parts, &consumer, recorder.clone());
    drain_until(&mut feed, &recorder, 3).await;
    assert!(parts.ledger.dead_letters(&consumer).expect("letters").is_empty());
    assert_eq!(recorder.applied(), pks(ns, 0..3), "applied on the third attempt, in order");
}

/// Remembers the records of its namespace in each batch it is given; with `fail_first`,
/// fails its first batch that holds one.
struct FailsFirstBatch {
    prefix: String,
    batches: Mutex<Vec<Vec<String>>>,
    fail_first: bool,
}

#[async_trait::async_trait]
impl StreamHandler for FailsFirstBatch {
    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let ours: Vec<(String, String)> = event
            .records
            .iter()
            .filter_map(|r| {
                let image = decode_image(&r.change.new_image).ok().flatten()?;
                let pk = image.get("pk")?.as_str()?.to_owned();
                pk.starts_with(&self.prefix).then(|| (pk, r.change.sequence_number.clone().unwrap_or_default()))
            })
            .collect();
        let mut response = DynamoDbEventResponse::default();
        if ours.is_empty() {
            return response;
        }
        let mut batches = self.batches.lock().expect("lock");
        batches.push(ours.iter().map(|(pk, _)| pk.clone()).collect());
        if self.fail_first && batches.len() == 1 {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(ours[0].1.clone());
            response.batch_item_failures.push(failure);
        }
        response
    }
}

async fn a_retry_offers_the_same_records(parts: &FeedParts, ns: &str) {
    let ns = &format!("{ns}-retry");
    put_books(parts, ns, 0..3).await;
    await_records(parts, Table::Books, ns, 3).await;
    let handler = Arc::new(FailsFirstBatch { prefix: format!("{ns}#"), batches: Mutex::default(), fail_first: true });
    let mut feed = feed(parts, &format!("{ns}-books"), handler.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    while handler.batches.lock().expect("lock").is_empty() {
        assert!(Instant::now() < deadline, "no batch of the namespace came");
        if feed.step().await.expect("step") == Step::CaughtUp {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    put_books(parts, ns, 3..4).await;
    await_records(parts, Table::Books, ns, 4).await;
    feed.drain().await.expect("drain");
    let batches = handler.batches.lock().expect("lock").clone();
    assert!(batches.len() >= 2, "{batches:?}");
    assert_eq!(batches[0], batches[1], "the retry is the failed batch again, with nothing that arrived since");
    let delivered: Vec<String> = batches[1..].concat();
    assert_eq!(delivered, pks(ns, 0..4), "after the retry everything came once, in order");
}

/// With a batching window, records read apart reach the handler as one batch, once the
/// window closed (not before), and are read again from the checkpoint if never handed on.
async fn a_short_batch_gathers_for_its_window(parts: &FeedParts, ns: &str) {
    let ns = &format!("{ns}-window");
    let window = Duration::from_millis(1500);
    let handler = Arc::new(FailsFirstBatch { prefix: format!("{ns}#"), batches: Mutex::default(), fail_first: false });
    let windowed = FeedConfig { batch_size: 1000, batching_window: window, ..config() };
    let consumer = format!("{ns}-books");
    let mut feed = ChangeFeed::new(
        parts.stream.clone(),
        parts.ledger.clone(),
        &consumer,
        Table::Books,
        handler.clone(),
        windowed.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    // Catch up on the stream's older records (other checks'), which reach the handler
    // as batches with none of this namespace.
    feed.drain().await.expect("drain");
    put_books(parts, ns, 0..2).await;
    await_records(parts, Table::Books, ns, 2).await;
    let opened = Instant::now();
    loop {
        assert!(Instant::now() < deadline, "the batch never gathered");
        match feed.step().await.expect("step") {
            Step::Gathering(_) => break,
            Step::CaughtUp => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("a short batch was handed on at once: {other:?}"),
        }
    }
    put_books(parts, ns, 2..4).await;
    await_records(parts, Table::Books, ns, 4).await;
    while opened.elapsed() < window / 2 {
        assert!(matches!(feed.step().await.expect("step"), Step::Gathering(_)), "the window is still open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(handler.batches.lock().expect("lock").is_empty(), "nothing reached the handler while gathering");

    // A consumer dropped while gathering moved no checkpoint: another reads it all again.
    let again = Arc::new(FailsFirstBatch { prefix: format!("{ns}#"), batches: Mutex::default(), fail_first: false });
    let mut restarted =
        ChangeFeed::new(parts.stream.clone(), parts.ledger.clone(), &consumer, Table::Books, again.clone(), windowed);
    drop(feed);
    loop {
        assert!(Instant::now() < deadline, "the window never closed");
        match restarted.step().await.expect("step") {
            Step::Gathering(open_for) => tokio::time::sleep(open_for.min(Duration::from_millis(100))).await,
            Step::Advanced(_) if !again.batches.lock().expect("lock").is_empty() => break,
            _ => {}
        }
    }
    let batches = again.batches.lock().expect("lock").clone();
    assert_eq!(batches, vec![pks(ns, 0..4)], "one batch, handed on when its window closed");
}

async fn a_running_feed_wakes_and_stops(parts: &FeedParts, ns: &str) {
    let ns = &format!("{ns}-running");
    let recorder = Recorder::new(ns);
    let running_feed = feed(parts, &format!("{ns}-books"), recorder.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(running_feed.run(async move {
        let _ = stopped.await;
    }));
    put_books(parts, ns, 7..8).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorder.applied().is_empty() {
        assert!(Instant::now() < deadline, "the feed never delivered the record");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = stop.send(());
    running.await.expect("join").expect("feed ends cleanly");
    assert_eq!(recorder.applied(), pks(ns, 7..8));
}

fn embedded_parts(store: Arc<EmbeddedStore>) -> FeedParts {
    FeedParts { store: store.clone(), stream: store.clone(), ledger: store }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_change_log_passes_the_change_feed_suite() {
    run_suite(embedded_parts(Arc::new(EmbeddedStore::in_memory().expect("store"))), "mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_change_log_and_its_checkpoints_survive_a_reopen() {
    let dir = std::env::temp_dir().join(format!("bookstore-feed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("store.redb");
    let recorder = Recorder::new("reopen");
    {
        let parts = embedded_parts(Arc::new(EmbeddedStore::open(&path).expect("store")));
        run_suite(parts.clone(), "file").await;
        put_books(&parts, "reopen", 0..5).await;
        let mut first = feed(&parts, "reopen-books", recorder.clone());
        drain_until(&mut first, &recorder, 5).await;
        put_books(&parts, "reopen", 5..8).await;
    }
    let parts = embedded_parts(Arc::new(EmbeddedStore::open(&path).expect("reopened")));
    let mut resumed = feed(&parts, "reopen-books", recorder.clone());
    drain_until(&mut resumed, &recorder, 8).await;
    assert_eq!(recorder.applied(), pks("reopen", 0..8), "after the reopen only the new records came");
    let books = read_all(parts.stream.as_ref(), Table::Books).await.expect("log");
    assert!(books.windows(2).all(|w| sequence_order(&w[0].sequence, &w[1].sequence).is_lt()));
    let _ = std::fs::remove_dir_all(&dir);
}
