//! The DynamoDB adapter on DynamoDB Local (`BOOKSTORE_TEST_DYNAMODB_URL`, started by
//! `scripts/test`): the store conformance suite unchanged, the errors a wrong endpoint or
//! a missing table give. Each test has its own stage prefix, so its tables are its own.

use std::sync::Arc;
use std::time::Duration;

use bookstore_runtime::aws::{Connection, DynamoStore};
use bookstore_runtime::embedded::EmbeddedStore;
use bookstore_runtime::limits::{SharedCounter, UsageCounter};
use bookstore_runtime::store::{Key, Store, StoreError, Table};
use serde_json::json;

use crate::change_feed::FeedParts;
use crate::support::item;

/// DynamoDB Local's URL, or `None` (the test is skipped) when it is not running and
/// services are not required.
pub fn endpoint() -> Option<String> {
    crate::support::service("BOOKSTORE_TEST_DYNAMODB_URL", "DynamoDB Local's URL")
}

fn connection(url: String) -> Connection {
    Connection::new("eu-west-1", Some(url))
}

fn fresh_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

async fn create_tables(store: &DynamoStore) {
    let created = store.create_missing_tables().await.expect("tables created on DynamoDB Local");
    assert_eq!(created.len(), Table::ALL.len(), "{created:?}");
}

/// A stage of its own on DynamoDB Local, its tables created.
pub async fn fresh_dynamo_store() -> Option<DynamoStore> {
    let store = connection(endpoint()?).dynamo_store(&fresh_prefix()).await;
    create_tables(&store).await;
    Some(store)
}

/// A stage of its own with its tables' streams; checkpoints kept in an embedded ledger,
/// as `bookstore up --stage` keeps them in its data directory.
pub async fn fresh_feed_parts() -> Option<FeedParts> {
    let (store, streams) =
        connection(endpoint()?).dynamo_store_and_streams(&fresh_prefix(), Duration::from_millis(20)).await;
    create_tables(&store).await;
    let ledger = Arc::new(EmbeddedStore::in_memory().expect("ledger"));
    Some(FeedParts { store: Arc::new(store), stream: Arc::new(streams), ledger })
}

/// A client of a stage's tables that already exist.
pub async fn dynamo_store_of(prefix: &str) -> DynamoStore {
    connection(endpoint().expect("DynamoDB Local is running")).dynamo_store(prefix).await
}

pub async fn fresh_store() -> Option<Arc<dyn Store>> {
    Some(Arc::new(fresh_dynamo_store().await?))
}

/// Two counters on two clients of one stage's tables: two Lambda instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_counter_on_dynamodb_passes_the_limits_suite() {
    let Some(store) = fresh_dynamo_store().await else { return };
    let second = dynamo_store_of(store.prefix()).await;
    let one: Arc<dyn UsageCounter> = Arc::new(SharedCounter::new(Arc::new(store)));
    let other: Arc<dyn UsageCounter> = Arc::new(SharedCounter::new(Arc::new(second)));
    crate::limits_conformance::run_suite([one, other], "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_passes_the_conformance_suite() {
    let Some(store) = fresh_store().await else { return };
    crate::store_conformance::run_suite(store, "ddb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_streams_pass_the_change_feed_suite() {
    let Some(parts) = fresh_feed_parts().await else { return };
    crate::change_feed::run_suite(parts, "ddb").await;
}

#[tokio::test]
async fn creating_the_tables_again_leaves_them_as_they_are() {
    let Some(store) = fresh_dynamo_store().await else { return };
    let key = Key::new("t1#u1", "USER#a@x.com");
    store.put(Table::Users, item(&key.pk, &key.sk, json!({"n": 1})), None).await.expect("put");
    assert_eq!(store.create_missing_tables().await.expect("again"), Vec::<String>::new());
    assert!(store.get(Table::Users, &key).await.expect("get").is_some(), "the data is kept");
}

#[tokio::test]
async fn a_missing_table_is_an_error_naming_it_and_the_endpoint() {
    let Some(url) = endpoint() else { return };
    let store = connection(url.clone()).dynamo_store("never-created").await;
    let err = store.get(Table::Books, &Key::new("t1#b1", "BOOK#1")).await.expect_err("no such table");
    let StoreError::Unavailable(message) = &err else { panic!("{err:?}") };
    assert!(message.contains("never-created-books") && message.contains(&url), "{message}");
}

#[tokio::test]
async fn a_wrong_endpoint_is_an_error_within_seconds_naming_it() {
    if endpoint().is_none() {
        return;
    }
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}");
    let store = connection(url.clone()).dynamo_store("bookstore-dev").await;
    let started = std::time::Instant::now();
    let err = store.get(Table::Users, &Key::new("t1#u1", "USER#a")).await.expect_err("nothing listens");
    let StoreError::Unavailable(message) = &err else { panic!("{err:?}") };
    assert!(message.contains(&url) && message.contains("bookstore-dev-users"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "retries are bounded: {:?}", started.elapsed());
}

#[tokio::test]
async fn what_dynamodb_refuses_is_invalid_input_not_an_outage() {
    let Some(store) = fresh_dynamo_store().await else { return };
    // An item over DynamoDB's 400 KB limit.
    let huge = item("t1#u1", "USER#big", json!({"blob": "x".repeat(410 * 1024)}));
    let err = store.put(Table::Users, huge, None).await.expect_err("too large");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn a_checkout_costs_three_round_trips_however_many_lines_it_has() {
    use bookstore_runtime::domain::{BookId, PurchaseId, Quantity, TenantId, UserId};
    use bookstore_runtime::{catalog, orders};
    let Some(store) = fresh_dynamo_store().await else { return };
    let tenant = TenantId::parse("shop-a").expect("tenant");
    let user = UserId::new_v7();
    let now = chrono::Utc::now();
    let rate = rust_decimal::Decimal::new(21, 2);
    for n in 0..5u64 {
        let new = serde_json::from_value(json!({
            "isbn": crate::support::isbn(n), "title": format!("Libro {n}"), "author": "Autora", "category": "Ficción",
            "price": "10.00", "stock_quantity": 9, "publication_year": 2020
        }))
        .expect("new book");
        let book = catalog::create_book(&store, &tenant, BookId::new_v7(), new, now).await.expect("book");
        orders::add_to_cart(&store, &tenant, &user, &book.book_id, Quantity::new(1).expect("q"), now, rate)
            .await
            .expect("cart");
    }
    let before = store.spent();
    let request = serde_json::from_value(json!({})).expect("checkout request");
    let outcome = orders::checkout(&store, &tenant, &user, &request, None, rate, PurchaseId::new_v7(), now)
        .await
        .expect("checkout");
    assert_eq!(outcome.purchase.items.len(), 5);
    let spent = store.spent() - before;
    assert_eq!(spent.calls, 3, "the cart, its books in one batch, the transaction: {spent:?}");
}

/// A page of a listing reads the page from DynamoDB, not the catalogue: counted in round
/// trips and the capacity units DynamoDB Local reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_page_reads_the_page_not_the_catalogue() {
    use bookstore_runtime::catalog::{self, BookFilters, BookSort, Browse};
    use bookstore_runtime::domain::{BookId, KeyText, TenantId};
    use bookstore_runtime::embedded::TantivySearch;
    use bookstore_runtime::search::{BookDocument, IndexChange, SearchIndex};
    const BOOKS: u64 = 600;
    let Some(store) = fresh_dynamo_store().await else { return };
    let search = TantivySearch::in_memory();
    let tenant = TenantId::parse("shop-a").expect("tenant");
    let now = chrono::Utc::now();
    let mut documents = Vec::new();
    for n in 0..BOOKS {
        let new = serde_json::from_value(json!({
            "isbn": crate::support::isbn(n), "title": format!("Libro {n:04}"), "author": "Autora", "category": "Ficción",
            "price": format!("{}.{:02}", 5 + n % 40, n % 100), "stock_quantity": 3, "publication_year": 2000 + n % 20
        }))
        .expect("new book");
        let book = catalog::create_book(&store, &tenant, BookId::new_v7(), new, now).await.expect("book");
        documents.push(IndexChange::Upsert(BookDocument::from(&book)));
    }
    search.apply(&tenant, documents).await.expect("indexed");

    let category = Browse::Category(KeyText::parse("Ficción").expect("category"));
    let before = store.spent();
    let first = catalog::browse_books(&store, &tenant, &category, None, 0, 20).await.expect("first page");
    let cost = store.spent() - before;
    assert_eq!(first.books.len(), 20);
    assert!(first.previous.is_none() && first.next.is_some());
    assert_eq!(cost.calls, 1, "one query: {cost:?}");
    assert!(cost.read_units <= 10.0, "a page's items, not {BOOKS}: {cost:?}");

    // Forward three pages, then back: the same books, each once, in key order.
    let mut pages = vec![first.books.iter().map(|b| b.book_id).collect::<Vec<_>>()];
    let mut at = first;
    for _ in 0..2 {
        at = catalog::browse_books(&store, &tenant, &category, at.next.clone(), 0, 20).await.expect("next");
        pages.push(at.books.iter().map(|b| b.book_id).collect());
    }
    let back = catalog::browse_books(&store, &tenant, &category, at.previous.clone(), 0, 20).await.expect("back");
    assert_eq!(back.books.iter().map(|b| b.book_id).collect::<Vec<_>>(), pages[1], "back one page");
    let seen: std::collections::HashSet<_> = pages.iter().flatten().collect();
    assert_eq!(seen.len(), 60, "no book twice");
    let by_number = catalog::browse_books(&store, &tenant, &category, None, 40, 20).await.expect("page 3");
    assert_eq!(by_number.books.iter().map(|b| b.book_id).collect::<Vec<_>>(), pages[2]);

    // Re-sorted and filtered: the index finds the page, the store reads it in one batch.
    let filters = BookFilters { sort: Some(BookSort::PriceDesc), min_year: Some(2005), ..Default::default() };
    let before = store.spent();
    let page = catalog::list_books(&store, &search, &tenant, &filters, 40, 20).await.expect("sorted page");
    let cost = store.spent() - before;
    assert_eq!(page.books.len(), 20);
    assert_eq!(page.total, (0..BOOKS).filter(|n| 2000 + n % 20 >= 2005).count());
    assert!(page.books.windows(2).all(|w| w[0].price >= w[1].price), "dearest first");
    assert_eq!(cost.calls, 1, "one batch read: {cost:?}");
    assert!(cost.read_units <= 20.0, "twenty items at most one unit each: {cost:?}");
}
