//! The lake: partition layout, idempotent batches, and what the streams write to it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use bookstore_runtime::cdc::{PurchasesToLake, StreamHandler, stream_event};
use bookstore_runtime::changes::read_all;
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::embedded::LocalLake;
use bookstore_runtime::lake::schema::{self, Column};
use bookstore_runtime::lake::{Dataset, LakeRow, LakeWriter};
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

fn row(id: &str, day: &str) -> LakeRow {
    let at =
        chrono::DateTime::parse_from_rfc3339(&format!("{day}T10:00:00Z")).expect("time").with_timezone(&chrono::Utc);
    let Value::Object(fields) = json!({"purchase_id": id, "tenant_id": "shop-a"}) else { unreachable!() };
    LakeRow { id: id.to_owned(), version: 1, at, fields }
}

#[tokio::test]
async fn lake_files_sit_under_tenant_and_day_and_a_retried_batch_overwrites_its_file() {
    let root = std::env::temp_dir().join(format!("bookstore-lake-test-{}", uuid::Uuid::new_v4()));
    let lake = LocalLake::new(&root);
    let tenant = TenantId::parse("shop-a").expect("tenant");
    let rows = vec![row("p1", "2026-03-01"), row("p2", "2026-03-01"), row("p3", "2026-03-02")];
    lake.write(&tenant, Dataset::Purchases, rows.clone()).await.expect("write");
    let first = read_lake(&root);
    assert_eq!(first.len(), 2, "one file per day: {:?}", first.keys());
    assert!(first.keys().all(|p| p.starts_with("shop-a/purchases/year=2026/month=03/day=0")), "{:?}", first.keys());
    lake.write(&tenant, Dataset::Purchases, rows).await.expect("retry");
    assert_eq!(read_lake(&root), first, "the retry rewrote the same files");
    let lines: usize = first.values().map(Vec::len).sum();
    assert_eq!(lines, 3);
    let _ = std::fs::remove_dir_all(root);
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
    let handler = PurchasesToLake::new(Arc::new(LocalLake::new(&app.lake_dir)));
    for _ in 0..2 {
        let response = handler.handle(stream_event(&purchase_records, "local")).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(read_lake(&app.lake_dir), lake, "replays add nothing");
}
