//! The lake conformance suite: the objects port and `BatchLake` over it, run unchanged on
//! a local directory and on moto's S3 (`BOOKSTORE_TEST_MOTO_URL`, started by
//! `scripts/test`). What it holds an adapter to: whole-object puts, listings by prefix in
//! key order, the partition layout, rewrites that replace instead of adding, every key
//! under its tenant, and rows that carry exactly the schema's columns.

use std::collections::BTreeSet;
use std::sync::Arc;

use bookstore_runtime::domain::{Purchase, TenantId};
use bookstore_runtime::lake::schema::{self, Column};
use bookstore_runtime::lake::{BatchLake, Dataset, LakeDirectory, LakeObjects, LakeRow, LakeWriter};
use serde_json::{Value, json};

pub async fn run_suite(objects: Arc<dyn LakeObjects>, ns: &str) {
    objects_put_get_list_delete(objects.as_ref(), ns).await;
    batches_sit_under_tenant_dataset_and_day(objects.clone(), ns).await;
    a_batch_offered_again_replaces_its_files(objects.clone(), ns).await;
    rows_carry_exactly_the_schema_columns(objects.clone(), ns).await;
}

fn tenant(ns: &str, name: &str) -> TenantId {
    TenantId::parse(&format!("{ns}-{name}")).expect("tenant")
}

/// Each object's lines under `prefix`, in key order.
async fn read_all(objects: &dyn LakeObjects, prefix: &str) -> Vec<(String, Vec<Value>)> {
    let mut found = Vec::new();
    for object in objects.list(prefix).await.expect("list") {
        let body = objects.get(&object.key).await.expect("get").expect("listed object exists");
        assert_eq!(body.len() as u64, object.size, "{}: the listed size is the object's", object.key);
        let text = String::from_utf8(body).expect("utf-8");
        found.push((object.key, text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()));
    }
    found
}

async fn objects_put_get_list_delete(objects: &dyn LakeObjects, ns: &str) {
    let key = |name: &str| format!("{ns}-objects/{name}");
    assert_eq!(objects.get(&key("missing")).await.expect("get"), None, "a missing key is None, not an error");
    for name in ["b/2.json", "a/1.json", "b/10.json", "c.json"] {
        objects.put(&key(name), name.as_bytes().to_vec()).await.expect("put");
    }
    objects.put(&key("a/1.json"), b"replaced".to_vec()).await.expect("overwrite");
    assert_eq!(objects.get(&key("a/1.json")).await.expect("get").as_deref(), Some(&b"replaced"[..]));
    let listed: Vec<String> = objects.list(&key("")).await.expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(listed, [key("a/1.json"), key("b/10.json"), key("b/2.json"), key("c.json")], "key order");
    let under_b: Vec<String> = objects.list(&key("b/")).await.expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(under_b, [key("b/10.json"), key("b/2.json")]);
    let partial: Vec<String> = objects.list(&key("b/1")).await.expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(partial, [key("b/10.json")], "a prefix need not end at a `/`");
    assert!(objects.list(&format!("{ns}-nothing/")).await.expect("list").is_empty());
    let children = objects.children(&key("")).await.expect("children");
    assert_eq!(children, ["a", "b"], "names one level down that hold objects");
    assert!(objects.children(&format!("{ns}-nothing/")).await.expect("children").is_empty());
    objects.delete(&[key("a/1.json"), key("b/2.json"), key("never-was")]).await.expect("delete");
    let left: Vec<String> = objects.list(&key("")).await.expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(left, [key("b/10.json"), key("c.json")]);
    objects.delete(&left).await.expect("delete the rest");
}

fn row(id: &str, at: &str) -> LakeRow {
    let at = chrono::DateTime::parse_from_rfc3339(at).expect("time").with_timezone(&chrono::Utc);
    let Value::Object(fields) = json!({"purchase_id": id, "version": 1}) else { unreachable!() };
    LakeRow { id: id.to_owned(), version: 1, at, fields }
}

async fn batches_sit_under_tenant_dataset_and_day(objects: Arc<dyn LakeObjects>, ns: &str) {
    let lake = BatchLake::new(objects.clone());
    let (shop_a, shop_b) = (tenant(ns, "layout-a"), tenant(ns, "layout-b"));
    let rows = vec![
        row("p1", "2026-03-01T10:00:00Z"),
        row("p2", "2026-03-01T23:59:59Z"),
        row("p3", "2026-03-02T00:00:00Z"),
        row("p4", "2027-12-31T08:00:00Z"),
    ];
    lake.write(&shop_a, Dataset::Purchases, rows.clone()).await.expect("write");
    lake.write(&shop_b, Dataset::Books, vec![row("b1", "2026-03-01T10:00:00Z")]).await.expect("write");

    let files = read_all(objects.as_ref(), &format!("{shop_a}/")).await;
    let days: Vec<String> = files.iter().map(|(key, _)| key.rsplit_once('/').expect("a file").0.to_owned()).collect();
    assert_eq!(
        days,
        [
            format!("{shop_a}/purchases/year=2026/month=03/day=01"),
            format!("{shop_a}/purchases/year=2026/month=03/day=02"),
            format!("{shop_a}/purchases/year=2027/month=12/day=31"),
        ],
        "one file per day, under the tenant, the dataset and the zero-padded day"
    );
    for (key, lines) in &files {
        let name = key.rsplit('/').next().expect("name");
        assert!(name.starts_with("batch-") && name.ends_with(".json"), "{key}");
        assert!(!lines.is_empty());
    }
    let ids: Vec<&str> = files
        .iter()
        .flat_map(|(_, lines)| lines.iter().map(|l| l["purchase_id"].as_str().expect("purchase_id")))
        .collect();
    assert_eq!(ids, ["p1", "p2", "p3", "p4"], "each row once, in its own day's file");

    // Each tenant's keys are its own: a listing under one tenant holds nothing of another.
    let theirs = read_all(objects.as_ref(), &format!("{shop_b}/")).await;
    assert_eq!(theirs.len(), 1);
    assert!(theirs[0].0.starts_with(&format!("{shop_b}/books/year=2026/month=03/day=01/")), "{}", theirs[0].0);
    assert!(files.iter().all(|(key, _)| key.starts_with(&format!("{shop_a}/"))));
}

async fn a_batch_offered_again_replaces_its_files(objects: Arc<dyn LakeObjects>, ns: &str) {
    let lake = BatchLake::new(objects.clone());
    let shop = tenant(ns, "rewrite");
    let prefix = format!("{shop}/purchases/");
    let first = vec![row("p1", "2026-05-01T10:00:00Z"), row("p2", "2026-05-01T11:00:00Z")];
    lake.write(&shop, Dataset::Purchases, first.clone()).await.expect("write");
    let written = read_all(objects.as_ref(), &prefix).await;
    lake.write(&shop, Dataset::Purchases, first.clone()).await.expect("the same batch again");
    assert_eq!(read_all(objects.as_ref(), &prefix).await, written, "a retry rewrote the same file");

    // A replay from the same record that reads further (after a crash, the checkpoint was
    // before the first batch) replaces the file; a later batch gets its own.
    let longer = vec![first[0].clone(), first[1].clone(), row("p3", "2026-05-01T12:00:00Z")];
    lake.write(&shop, Dataset::Purchases, longer).await.expect("replay");
    lake.write(&shop, Dataset::Purchases, vec![row("p4", "2026-05-01T13:00:00Z")]).await.expect("next batch");
    let files = read_all(objects.as_ref(), &prefix).await;
    assert_eq!(files.len(), 2, "{files:?}");
    let mut ids: Vec<&str> = files
        .iter()
        .flat_map(|(_, lines)| lines.iter().map(|l| l["purchase_id"].as_str().expect("purchase_id")))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["p1", "p2", "p3", "p4"], "every row exactly once");
}

fn purchase(tenant: &TenantId) -> Purchase {
    serde_json::from_value(json!({
        "purchase_id": uuid::Uuid::now_v7(), "tenant_id": tenant, "user_id": uuid::Uuid::now_v7(),
        "items": [{"book_id": uuid::Uuid::now_v7(), "title": "Rayuela", "category": "Ficción", "author": "Julio Cortázar",
                   "quantity": 2, "unit_price": "15.00", "subtotal": "30.00"}],
        "subtotal": "30.00", "tax": "6.30", "total_amount": "36.30", "status": "PAYMENT_PROCESSED",
        "payment_method": "card",
        "shipping_address": {"name": "Alicia", "line1": "Calle Mayor 1", "line2": null, "city": "Madrid",
                             "postal_code": "28013", "country": "ES"},
        "version": 1, "created_at": "2026-06-01T09:30:00Z", "updated_at": "2026-06-01T09:30:00Z"
    }))
    .expect("a purchase")
}

async fn rows_carry_exactly_the_schema_columns(objects: Arc<dyn LakeObjects>, ns: &str) {
    let lake = BatchLake::new(objects.clone());
    let shop = tenant(ns, "columns");
    lake.write(&shop, Dataset::Purchases, vec![LakeRow::purchase(&purchase(&shop))]).await.expect("write");
    let files = read_all(objects.as_ref(), &format!("{shop}/")).await;
    let [(_, lines)] = files.as_slice() else { panic!("one file: {files:?}") };
    let names = |columns: &[Column]| columns.iter().map(|c| c.name.to_owned()).collect::<BTreeSet<_>>();
    let members = |row: &Value| row.as_object().expect("object").keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(members(&lines[0]), names(&schema::columns(Dataset::Purchases)), "no shipping address: {}", lines[0]);
    for line in lines[0]["items"].as_array().expect("items") {
        assert_eq!(members(line), names(&schema::purchase_item_columns()), "{line}");
    }
    assert_eq!(lines[0]["total_amount"], "36.30", "money as exact decimal text");
}

#[tokio::test]
async fn a_local_directory_passes_the_lake_conformance_suite() {
    let root = std::env::temp_dir().join(format!("bookstore-lake-suite-{}", uuid::Uuid::new_v4()));
    run_suite(Arc::new(LakeDirectory::new(&root)), "local").await;
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn a_local_directory_refuses_keys_that_leave_it_and_hides_unfinished_files() {
    let root = std::env::temp_dir().join(format!("bookstore-lake-keys-{}", uuid::Uuid::new_v4()));
    let objects = LakeDirectory::new(&root);
    for key in ["../outside.json", "/etc/passwd", "a/../../b", ""] {
        assert!(objects.put(key, b"x".to_vec()).await.is_err(), "{key:?} was accepted");
    }
    std::fs::create_dir_all(root.join("shop")).expect("dir");
    std::fs::write(root.join("shop/.half-written.tmp"), b"x").expect("write");
    assert!(objects.list("shop/").await.expect("list").is_empty(), "a hidden temporary file is no object");
    let _ = std::fs::remove_dir_all(root);
}

/// moto's URL, or `None` (skipped) when it is not running and services are not required.
#[cfg(feature = "aws")]
pub fn moto_endpoint() -> Option<String> {
    crate::support::service("BOOKSTORE_TEST_MOTO_URL", "a moto server's URL")
}

/// A fresh bucket of its own on moto.
#[cfg(feature = "aws")]
pub async fn fresh_bucket() -> Option<bookstore_runtime::aws::S3Objects> {
    let connection = bookstore_runtime::aws::Connection::new("eu-west-1", Some(moto_endpoint()?));
    let bucket = format!("lake-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let objects = connection.s3_objects(&bucket).await;
    assert!(objects.create_if_missing("eu-west-1").await.expect("bucket created on moto"));
    assert!(!objects.create_if_missing("eu-west-1").await.expect("an existing bucket is kept"));
    Some(objects)
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn s3_on_moto_passes_the_lake_conformance_suite() {
    let Some(objects) = fresh_bucket().await else { return };
    let objects = Arc::new(objects);
    run_suite(objects.clone(), "s3").await;
    let requests = objects.requests();
    assert!(requests.puts > 0 && requests.lists > 0 && requests.gets > 0, "{requests:?}");
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn s3_errors_name_the_bucket_and_the_endpoint() {
    let Some(url) = moto_endpoint() else { return };
    let connection = bookstore_runtime::aws::Connection::new("eu-west-1", Some(url.clone()));
    let objects = connection.s3_objects("no-such-lake-bucket").await;
    let err = objects.put("shop/x.json", b"x".to_vec()).await.expect_err("no bucket");
    let text = err.to_string();
    assert!(text.contains("s3://no-such-lake-bucket/shop/x.json") && text.contains(&url), "{text}");
    assert!(text.contains("NoSuchBucket"), "{text}");
}
