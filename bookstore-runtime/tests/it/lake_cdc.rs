//! What the streams write to the lake: each purchase once, book snapshots, exactly the
//! schema's columns, and exactly once when a batch is offered again after a failure.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use bookstore_runtime::cdc::{PurchasesToLake, StreamHandler, stream_event};
use bookstore_runtime::changes::read_all;
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::lake::schema::{self, Column};
use bookstore_runtime::lake::{BatchLake, Dataset, LakeError, LakeRow, LakeWriter};
use bookstore_runtime::store::Table;
use serde_json::{Value, json};

use crate::support::{TestApp, isbn};

/// Every file under `root` (relative path → its JSON lines).
fn read_lake(root: &Path) -> HashMap<String, Vec<Value>> {
    fn walk(root: &Path, dir: &Path, out: &mut HashMap<String, Vec<Value>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let text = std::fs::read_to_string(&path).expect("readable");
                let lines = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
                out.insert(path.strip_prefix(root).expect("inside").to_string_lossy().into_owned(), lines);
            }
        }
    }
    let mut out = HashMap::new();
    walk(root, root, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_purchase_lands_once_and_book_changes_land_as_snapshots() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let body = json!({"isbn": isbn(1), "title": "Rayuela", "author": "Julio Cortázar", "category": "Ficción",
                      "price": "15.00", "stock_quantity": 10, "publication_year": 1963});
    let book = app.call(Method::POST, "/api/v1/books", Some(&shop.admin), Some(body)).await.body["book_id"].clone();
    for _ in 0..2 {
        app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": book, "quantity": 1})))
            .await;
        let address = json!({"name": "Alicia", "line1": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "country": "ES"});
        let checkout = json!({"payment_method": "card", "shipping_address": address});
        let reply = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(checkout)).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    app.sync_search().await;
    let lake = read_lake(&app.lake_dir);
    let purchases: Vec<&Value> =
        lake.iter().filter(|(p, _)| p.starts_with("shop-a/purchases/")).flat_map(|(_, l)| l).collect();
    assert_eq!(purchases.len(), 2, "{lake:?}");
    assert!(purchases.iter().all(|p| p["tenant_id"] == "shop-a" && p["items"][0]["title"] == "Rayuela"));
    let books: Vec<&Value> = lake.iter().filter(|(p, _)| p.starts_with("shop-a/books/")).flat_map(|(_, l)| l).collect();
    let versions: Vec<u64> = books.iter().map(|b| b["version"].as_u64().expect("version")).collect();
    assert_eq!(versions.len(), 3, "created, then two stock changes: {versions:?}");

    // A row carries exactly the lake's columns: no shipping address, nothing Glue cannot read.
    let names = |columns: &[Column]| columns.iter().map(|c| c.name.to_owned()).collect::<BTreeSet<_>>();
    let members = |row: &Value| row.as_object().expect("object").keys().cloned().collect::<BTreeSet<_>>();
    for purchase in &purchases {
        assert_eq!(members(purchase), names(&schema::columns(Dataset::Purchases)), "{purchase}");
        for line in purchase["items"].as_array().expect("items") {
            assert_eq!(members(line), names(&schema::purchase_item_columns()), "{line}");
        }
    }
    for book in &books {
        let present = members(book);
        let columns = names(&schema::columns(Dataset::Books));
        assert!(present.is_subset(&columns), "{:?} are not lake columns", present.difference(&columns));
    }

    // A duplicated delivery of the same records leaves the lake as it was.
    let purchase_records =
        read_all(app.changes.as_deref().expect("embedded streams"), Table::Purchases).await.expect("changes");
    let handler = PurchasesToLake::new(Arc::new(BatchLake::in_directory(&app.lake_dir)));
    for _ in 0..2 {
        let response = handler.handle(stream_event(&purchase_records, "local")).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(read_lake(&app.lake_dir), lake, "replays add nothing");
}

/// A lake whose writes for one tenant fail until told otherwise.
struct FailingFor {
    inner: BatchLake,
    tenant: std::sync::Mutex<Option<TenantId>>,
}

#[async_trait::async_trait]
impl LakeWriter for FailingFor {
    async fn write(&self, tenant: &TenantId, dataset: Dataset, rows: Vec<LakeRow>) -> Result<(), LakeError> {
        if self.tenant.lock().expect("lock").as_ref() == Some(tenant) {
            return Err(LakeError::Unavailable("S3 is down for this test".into()));
        }
        self.inner.write(tenant, dataset, rows).await
    }
}

/// Three purchases, of shop-a, shop-b and shop-a, as their stream records.
async fn three_purchases() -> Vec<bookstore_runtime::changes::ChangeRecord> {
    let app = TestApp::new().await;
    let shops = HashMap::from([("shop-a", app.shop("shop-a").await), ("shop-b", app.shop("shop-b").await)]);
    for (tenant, n) in [("shop-a", 1), ("shop-b", 2), ("shop-a", 3)] {
        let shop = &shops[tenant];
        let body = json!({"isbn": isbn(n), "title": format!("Libro {n}"), "author": "Autora", "category": "Ficción",
                          "price": "10.00", "stock_quantity": 5, "publication_year": 2020});
        let book = app.call(Method::POST, "/api/v1/books", Some(&shop.admin), Some(body)).await.body["book_id"].clone();
        app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": book, "quantity": 1})))
            .await;
        let reply = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let records = read_all(app.changes.as_deref().expect("embedded streams"), Table::Purchases).await.expect("changes");
    let inserts: Vec<_> = records.into_iter().filter(|r| r.old_image.is_none()).collect();
    assert_eq!(inserts.len(), 3);
    inserts
}

fn purchase_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> =
        read_lake(root).values().flatten().map(|row| row["purchase_id"].as_str().expect("id").to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lake_write_offers_the_whole_batch_again_and_leaves_each_purchase_once() {
    let records = three_purchases().await;
    let root = std::env::temp_dir().join(format!("bookstore-lake-failing-{}", uuid::Uuid::new_v4()));
    let lake = Arc::new(FailingFor {
        inner: BatchLake::in_directory(&root),
        tenant: std::sync::Mutex::new(Some(TenantId::parse("shop-b").expect("tenant"))),
    });
    let handler = PurchasesToLake::new(lake.clone());
    let failed = handler.handle(stream_event(&records, "local")).await;
    let reported: Vec<_> = failed.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(reported, [Some(records[0].sequence.clone())], "a failed write offers the batch from its start");
    assert_eq!(purchase_ids(&root).len(), 2, "shop-a's file was written before shop-b's failed");

    *lake.tenant.lock().expect("lock") = None;
    assert!(handler.handle(stream_event(&records, "local")).await.batch_item_failures.is_empty());
    let mut expected: Vec<String> = records
        .iter()
        .map(|r| r.new_image.as_ref().expect("image")["purchase_id"].as_str().expect("id").to_owned())
        .collect();
    expected.sort();
    assert_eq!(purchase_ids(&root), expected, "every purchase exactly once after the retry");
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_stops_the_batch_there_and_what_follows_lands_once() {
    let mut records = three_purchases().await;
    let bad = &mut records[1];
    let image = bad.new_image.as_mut().expect("image");
    image.remove("items");
    let root = std::env::temp_dir().join(format!("bookstore-lake-unreadable-{}", uuid::Uuid::new_v4()));
    let handler = PurchasesToLake::new(Arc::new(BatchLake::in_directory(&root)));
    let failed = handler.handle(stream_event(&records, "local")).await;
    let reported: Vec<_> = failed.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(reported, [Some(records[1].sequence.clone())]);
    let first = records[0].new_image.as_ref().expect("image")["purchase_id"].as_str().expect("id").to_owned();
    assert_eq!(purchase_ids(&root), std::slice::from_ref(&first), "nothing past the unreadable record was written");

    // The feed offers the rest again from there; once the record is dead-lettered, the
    // batch after it lands, and nothing twice.
    assert!(!handler.handle(stream_event(&records[1..], "local")).await.batch_item_failures.is_empty());
    assert!(handler.handle(stream_event(&records[2..], "local")).await.batch_item_failures.is_empty());
    let third = records[2].new_image.as_ref().expect("image")["purchase_id"].as_str().expect("id").to_owned();
    let mut expected = vec![first, third];
    expected.sort();
    assert_eq!(purchase_ids(&root), expected);
    let _ = std::fs::remove_dir_all(root);
}
