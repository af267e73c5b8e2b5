//! Compaction on object storage (`embedded::compact_objects`), one suite run unchanged on
//! a local directory and on moto's S3. Every state it leaves — finished, killed after any
//! write, run twice, with a late batch, after the superseded objects go — is read back
//! with boto3 and DuckDB (`tests/oracle/lake_reader.py`, none of our code) the way the
//! manifest tells a reader to: each record exactly once, and every object the manifest
//! names exists.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bookstore_runtime::domain::TenantId;
use bookstore_runtime::embedded::{CompactionOptions, compact_objects};
use bookstore_runtime::lake::compacted::{CompactionManifest, manifest_key};
use bookstore_runtime::lake::{
    BatchLake, Dataset, LakeDirectory, LakeError, LakeObject, LakeObjects, LakeRow, LakeWriter,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

/// Where the suite's lake is, as the reader script takes it.
struct Lake {
    objects: Arc<dyn LakeObjects>,
    /// A directory, or `s3://bucket`.
    source: String,
}

/// The objects, failing every write after the first `writes` (a run killed there: all of
/// compaction's state is in the objects).
struct KilledAfter {
    inner: Arc<dyn LakeObjects>,
    writes_left: AtomicI64,
}

impl KilledAfter {
    fn new(inner: Arc<dyn LakeObjects>, writes: i64) -> Self {
        Self { inner, writes_left: AtomicI64::new(writes) }
    }

    fn write(&self) -> Result<(), LakeError> {
        if self.writes_left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(LakeError::Unavailable("killed".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl LakeObjects for KilledAfter {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), LakeError> {
        self.write()?;
        self.inner.put(key, body).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, LakeError> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<LakeObject>, LakeError> {
        self.inner.list(prefix).await
    }
    async fn children(&self, prefix: &str) -> Result<Vec<String>, LakeError> {
        self.inner.children(prefix).await
    }
    async fn delete(&self, keys: &[String]) -> Result<(), LakeError> {
        self.write()?;
        self.inner.delete(keys).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&Utc)
}

fn purchase(tenant: &TenantId, id: &str, version: u64, when: &str) -> LakeRow {
    let fields = json!({
        "purchase_id": id, "tenant_id": tenant, "user_id": "u1", "version": version,
        "items": [{"book_id": "b1", "title": "Rayuela", "category": "Ficción", "author": "Julio Cortázar",
                   "quantity": 2, "unit_price": "15.00", "subtotal": "30.00"}],
        "subtotal": "30.00", "tax": "6.30", "total_amount": "36.30", "status": "PAYMENT_PROCESSED",
        "payment_method": "card", "created_at": when, "updated_at": when,
    });
    LakeRow { id: id.into(), version, at: at(when), fields: fields.as_object().expect("object").clone() }
}

fn book(tenant: &TenantId, id: &str, version: u64, when: &str) -> LakeRow {
    let fields = json!({
        "book_id": id, "tenant_id": tenant, "title": "Rayuela", "price": "15.00", "version": version,
        "created_at": "2026-01-01T00:00:00Z", "updated_at": when, "snapshot_at": when,
    });
    LakeRow { id: id.into(), version, at: at(when), fields: fields.as_object().expect("object").clone() }
}

/// A closed month (October), closed days of an open month (November 2 and 5) and an
/// open day (November 12), for `before` = November 10. Returns every (id, version).
async fn write_lake(objects: Arc<dyn LakeObjects>, tenant: &TenantId) -> BTreeMap<Dataset, Vec<(String, i64)>> {
    let lake = BatchLake::new(objects);
    let purchases = [
        vec![purchase(tenant, "p1", 1, "2026-10-03T09:00:00Z"), purchase(tenant, "p2", 1, "2026-10-03T10:00:00Z")],
        vec![purchase(tenant, "p3", 1, "2026-10-20T11:00:00Z")],
        vec![purchase(tenant, "p4", 1, "2026-11-02T08:00:00Z")],
        vec![purchase(tenant, "p5", 1, "2026-11-05T12:00:00Z")],
        vec![purchase(tenant, "p6", 1, "2026-11-12T12:00:00Z")],
    ];
    let books = [
        vec![book(tenant, "b1", 1, "2026-10-07T10:00:00Z")],
        vec![book(tenant, "b1", 2, "2026-11-05T10:00:00Z"), book(tenant, "b2", 1, "2026-11-05T11:00:00Z")],
        vec![book(tenant, "b2", 2, "2026-11-12T10:00:00Z")],
    ];
    let mut written: BTreeMap<Dataset, Vec<(String, i64)>> = BTreeMap::new();
    for (dataset, batches) in [(Dataset::Purchases, &purchases[..]), (Dataset::Books, &books[..])] {
        for batch in batches {
            for row in batch {
                written.entry(dataset).or_default().push((row.id.clone(), i64::try_from(row.version).expect("small")));
            }
            lake.write(tenant, dataset, batch.clone()).await.expect("write a batch");
        }
    }
    for ids in written.values_mut() {
        ids.sort();
    }
    written
}

fn options(before: &str, now: DateTime<Utc>) -> CompactionOptions {
    CompactionOptions {
        before: before.parse::<NaiveDate>().expect("date"),
        now,
        keep_superseded_for: chrono::Duration::hours(1),
    }
}

/// The reader's view, from boto3 and DuckDB.
fn read_back(lake: &Lake, tenant: &TenantId) -> Option<Value> {
    let python = crate::support::service("BOOKSTORE_TEST_DUCKDB_PYTHON", "a Python with duckdb installed")?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/lake_reader.py");
    let out =
        std::process::Command::new(python).arg(script).arg(&lake.source).arg(tenant.as_str()).output().expect("python");
    assert!(out.status.success(), "lake_reader.py: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).expect("the reader's JSON"))
}

/// Each record written is seen exactly once, and the manifest names only what exists;
/// returns how many rows came from Parquet.
fn assert_once_each(view: &Value, written: &BTreeMap<Dataset, Vec<(String, i64)>>, when: &str) -> usize {
    assert_eq!(view["missing"], json!([]), "{when}: the manifest names objects that do not exist");
    let mut from_parquet = 0;
    for (dataset, expected) in written {
        let rows = view["rows"][dataset.name()].as_array().expect("rows");
        let mut seen: Vec<(String, i64)> = rows
            .iter()
            .map(|row| (row[0].as_str().expect("id").to_owned(), row[1].as_i64().expect("version")))
            .collect();
        seen.sort();
        assert_eq!(&seen, expected, "{when}: {} seen once each ({rows:?})", dataset.name());
        from_parquet += rows.iter().filter(|row| row[2] == "parquet").count();
    }
    from_parquet
}

async fn manifest(objects: &dyn LakeObjects, tenant: &TenantId) -> CompactionManifest {
    let key = manifest_key(tenant);
    CompactionManifest::parse(objects.get(&key).await.expect("get").as_deref(), &key).expect("manifest")
}

fn tenant(ns: &str, name: &str) -> TenantId {
    TenantId::parse(&format!("{ns}-{name}")).expect("tenant")
}

async fn run_suite(lake: &Lake, ns: &str) {
    a_run_compacts_closed_days_and_months_once_and_a_second_run_changes_nothing(lake, ns).await;
    a_run_killed_after_any_write_leaves_a_readable_lake_that_the_next_run_finishes(lake, ns).await;
    a_late_batch_is_folded_in_and_superseded_objects_go_after_the_grace(lake, ns).await;
}

async fn a_run_compacts_closed_days_and_months_once_and_a_second_run_changes_nothing(lake: &Lake, ns: &str) {
    let shop = tenant(ns, "twice");
    let other = tenant(ns, "twice-other");
    let written = write_lake(lake.objects.clone(), &shop).await;
    write_lake(lake.objects.clone(), &other).await;
    let others_before = lake.objects.list(&format!("{other}/")).await.expect("list");
    let now = Utc::now();
    let report = compact_objects(lake.objects.as_ref(), Some(&shop), &options("2026-11-10", now)).await.expect("run");
    assert_eq!((report.days, report.records), (6, 8), "{report:?}");
    let first = manifest(lake.objects.as_ref(), &shop).await;
    let periods: Vec<String> = first.units.iter().map(|u| format!("{}:{}", u.dataset.name(), u.period)).collect();
    assert_eq!(
        periods,
        ["purchases:2026-10", "purchases:2026-11-02", "purchases:2026-11-05", "books:2026-10", "books:2026-11-05"]
    );
    assert!(first.units.iter().all(|u| u.parquet.starts_with(&format!("{shop}/compacted/"))), "{first:?}");
    assert_eq!(lake.objects.list(&format!("{other}/")).await.expect("list"), others_before, "another tenant untouched");

    if let Some(view) = read_back(lake, &shop) {
        assert_eq!(assert_once_each(&view, &written, "after a run"), 8, "all but the open day from Parquet");
        let summaries = &view["summaries"];
        assert_eq!(summaries, &json!({"2026-10-03": 2, "2026-10-20": 1, "2026-11-02": 1, "2026-11-05": 1}));
    }
    let again = compact_objects(lake.objects.as_ref(), Some(&shop), &options("2026-11-10", now)).await.expect("again");
    assert_eq!(again.days, 0, "nothing new: {again:?}");
    assert_eq!(manifest(lake.objects.as_ref(), &shop).await, first, "a second run changes nothing");

    // December: November is closed, its days merge into one object.
    compact_objects(lake.objects.as_ref(), Some(&shop), &options("2026-12-01", now)).await.expect("month");
    let merged = manifest(lake.objects.as_ref(), &shop).await;
    let periods: Vec<String> = merged.units.iter().map(|u| format!("{}:{}", u.dataset.name(), u.period)).collect();
    assert_eq!(periods, ["purchases:2026-10", "purchases:2026-11", "books:2026-10", "books:2026-11"]);
    assert_eq!(merged.retired.len(), 3, "the day objects stay for running queries: {merged:?}");
    if let Some(view) = read_back(lake, &shop) {
        assert_eq!(assert_once_each(&view, &written, "after the month closed"), 10, "everything from Parquet");
    }
}

async fn a_run_killed_after_any_write_leaves_a_readable_lake_that_the_next_run_finishes(lake: &Lake, ns: &str) {
    let now = Utc::now();
    let clean = tenant(ns, "clean");
    write_lake(lake.objects.clone(), &clean).await;
    let counting = KilledAfter::new(lake.objects.clone(), i64::MAX);
    compact_objects(&counting, Some(&clean), &options("2026-11-10", now)).await.expect("clean run");
    let writes = i64::MAX - counting.writes_left.load(Ordering::SeqCst);
    assert!(writes >= 10, "a run writes each unit, summary and switch: {writes}");
    let expected: Vec<String> = manifest(lake.objects.as_ref(), &clean)
        .await
        .units
        .iter()
        .map(|u| u.parquet.replacen(clean.as_str(), "", 1))
        .collect();
    for kill_at in 0..writes {
        let shop = tenant(ns, &format!("kill{kill_at}"));
        let written = write_lake(lake.objects.clone(), &shop).await;
        let killed = KilledAfter::new(lake.objects.clone(), kill_at);
        let err = compact_objects(&killed, Some(&shop), &options("2026-11-10", now)).await.expect_err("killed");
        assert!(err.to_string().contains("killed"), "{err}");
        if let Some(view) = read_back(lake, &shop) {
            assert_once_each(&view, &written, &format!("killed after {kill_at} writes"));
        }
        compact_objects(lake.objects.as_ref(), Some(&shop), &options("2026-11-10", now)).await.expect("finish");
        let finished: Vec<String> = manifest(lake.objects.as_ref(), &shop)
            .await
            .units
            .iter()
            .map(|u| u.parquet.replacen(shop.as_str(), "", 1))
            .collect();
        assert_eq!(finished, expected, "killed after {kill_at} writes, the next run ends where a clean one does");
        if let Some(view) = read_back(lake, &shop) {
            assert_eq!(assert_once_each(&view, &written, &format!("finished after a kill at {kill_at}")), 8);
        }
    }
}

async fn a_late_batch_is_folded_in_and_superseded_objects_go_after_the_grace(lake: &Lake, ns: &str) {
    let shop = tenant(ns, "late");
    let mut written = write_lake(lake.objects.clone(), &shop).await;
    let now = Utc::now();
    compact_objects(lake.objects.as_ref(), Some(&shop), &options("2026-11-10", now)).await.expect("run");
    let before_late = manifest(lake.objects.as_ref(), &shop).await;
    // A replay after an outage lands in a day compacted already.
    let late = purchase(&shop, "p7", 1, "2026-11-02T23:59:59Z");
    BatchLake::new(lake.objects.clone()).write(&shop, Dataset::Purchases, vec![late]).await.expect("late batch");
    compact_objects(lake.objects.as_ref(), Some(&shop), &options("2026-11-10", now)).await.expect("fold it in");
    written.get_mut(&Dataset::Purchases).expect("purchases").push(("p7".into(), 1));
    written.get_mut(&Dataset::Purchases).expect("purchases").sort();
    let after_late = manifest(lake.objects.as_ref(), &shop).await;
    let day =
        |m: &CompactionManifest| m.units.iter().find(|u| u.period.to_string() == "2026-11-02").cloned().expect("day");
    assert_ne!(day(&after_late).parquet, day(&before_late).parquet, "a new object for the day");
    assert_eq!(after_late.retired.len(), 1);
    let old = &after_late.retired[0].key;
    assert!(lake.objects.get(old).await.expect("get").is_some(), "kept for queries that read the older manifest");
    if let Some(view) = read_back(lake, &shop) {
        assert_once_each(&view, &written, "after the late batch was folded in");
    }

    // Two hours on, nothing can still read the older manifest.
    let later = now + chrono::Duration::hours(2);
    compact_objects(lake.objects.as_ref(), Some(&shop), &options("2026-11-10", later)).await.expect("clean up");
    assert_eq!(lake.objects.get(old).await.expect("get"), None, "the superseded object is gone");
    let cleaned = manifest(lake.objects.as_ref(), &shop).await;
    assert!(cleaned.retired.is_empty() && cleaned.units.iter().all(|u| u.folded.is_empty()), "{cleaned:?}");
    let json_left: Vec<String> =
        lake.objects.list(&format!("{shop}/purchases/")).await.expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(json_left.len(), 1, "only the open day's batch is left: {json_left:?}");
    assert!(json_left[0].contains("day=12/"), "{json_left:?}");
    if let Some(view) = read_back(lake, &shop) {
        assert_once_each(&view, &written, "after the superseded objects went");
    }
}

#[tokio::test]
async fn compaction_on_a_local_directory_passes_the_suite() {
    let root = std::env::temp_dir().join(format!("bookstore-compaction-{}", uuid::Uuid::new_v4()));
    let lake = Lake { objects: Arc::new(LakeDirectory::new(&root)), source: root.display().to_string() };
    run_suite(&lake, "local").await;
    let _ = std::fs::remove_dir_all(root);
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn compaction_on_moto_s3_passes_the_suite() {
    let Some(objects) = crate::lake_conformance::fresh_bucket().await else { return };
    let source = format!("s3://{}", objects.bucket());
    run_suite(&Lake { objects: Arc::new(objects), source }, "s3").await;
}
