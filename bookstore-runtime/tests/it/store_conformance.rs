//! The `Store` port's conformance suite. Every adapter must pass it unchanged: the
//! embedded store here, DynamoDB Local in `dynamodb_local.rs` (call `run_suite`).
//!
//! It asserts only what DynamoDB promises: `get` and queries of a table read every
//! acknowledged write (strongly consistent reads); queries of a global secondary index
//! converge to the table (eventually consistent), so the suite waits for them.

use std::sync::Arc;

use bookstore_runtime::embedded::EmbeddedStore;
use bookstore_runtime::store::{
    Condition, Index, Item, Key, Query, SortKeyRange, Store, StoreError, Table, UpdateAction, WriteAction, query_all,
};
use serde_json::json;

use crate::support::item;

/// Every check of the suite, in order, on a fresh store; `namespace` keeps runs apart
/// when the same backing store is reused.
pub async fn run_suite(store: Arc<dyn Store>, namespace: &str) {
    put_get_and_conditions(store.as_ref(), namespace).await;
    update_and_delete(store.as_ref(), namespace).await;
    queries_and_pages(store.as_ref(), namespace).await;
    secondary_indexes(store.as_ref(), namespace).await;
    transactions(store.as_ref(), namespace).await;
    batch_reads(store.as_ref(), namespace).await;
    concurrent_conditional_decrements(store.clone(), namespace).await;
    large_partitions(store.as_ref(), namespace).await;
    reads_see_every_acknowledged_write(store.clone(), namespace).await;
}

async fn put_get_and_conditions(store: &dyn Store, ns: &str) {
    let pk = format!("{ns}#u1");
    let key = Key::new(&pk, "USER#a@x.com");
    assert_eq!(store.get(Table::Users, &key).await.expect("get"), None);
    store
        .put(Table::Users, item(&pk, "USER#a@x.com", json!({"n": 1})), Some(Condition::NotExists))
        .await
        .expect("first put");
    let again = store.put(Table::Users, item(&pk, "USER#a@x.com", json!({"n": 2})), Some(Condition::NotExists)).await;
    assert!(matches!(again, Err(StoreError::ConditionFailed { .. })), "{again:?}");
    let stored = store.get(Table::Users, &key).await.expect("get").expect("present");
    assert_eq!(stored["n"], json!(1), "a failed conditional put must change nothing");
    let wrong = store
        .put(Table::Users, item(&pk, "USER#a@x.com", json!({"n": 3})), Some(Condition::Equals("n".into(), json!(9))))
        .await;
    assert!(wrong.is_err());
    store
        .put(Table::Users, item(&pk, "USER#a@x.com", json!({"n": 3})), Some(Condition::Equals("n".into(), json!(1))))
        .await
        .expect("guarded put");
    assert_eq!(store.get(Table::Users, &key).await.expect("get").expect("present")["n"], json!(3));
    assert_eq!(store.get(Table::Books, &key).await.expect("get"), None, "tables are separate");
}

async fn update_and_delete(store: &dyn Store, ns: &str) {
    let key = Key::new(format!("{ns}#b1"), "BOOK#1");
    let created = store
        .update(
            Table::Books,
            &key,
            vec![UpdateAction::Add("stock".into(), 5), UpdateAction::Set("t".into(), json!("x"))],
            Some(Condition::NotExists),
        )
        .await
        .expect("update creates");
    assert_eq!(created["stock"], json!(5));
    assert_eq!(created["pk"], json!(key.pk));
    let short = store
        .update(
            Table::Books,
            &key,
            vec![UpdateAction::Add("stock".into(), -6)],
            Some(Condition::AtLeast("stock".into(), 6)),
        )
        .await;
    assert!(matches!(short, Err(StoreError::ConditionFailed { .. })));
    let after = store
        .update(
            Table::Books,
            &key,
            vec![UpdateAction::Add("stock".into(), -5), UpdateAction::Remove("t".into())],
            Some(Condition::AtLeast("stock".into(), 5)),
        )
        .await
        .expect("decrement");
    assert_eq!(after["stock"], json!(0));
    assert!(after.get("t").is_none());
    let not_number = store
        .update(
            Table::Books,
            &key,
            vec![UpdateAction::Set("s".into(), json!("a")), UpdateAction::Add("s".into(), 1)],
            None,
        )
        .await;
    assert!(not_number.is_err(), "adding to text is refused");
    assert!(
        store.get(Table::Books, &key).await.expect("get").expect("present").get("s").is_none(),
        "a refused update writes nothing"
    );
    let old = store.delete(Table::Books, &key, Some(Condition::Exists)).await.expect("delete");
    assert_eq!(old.expect("old image")["stock"], json!(0));
    let twice = store.delete(Table::Books, &key, Some(Condition::Exists)).await;
    assert!(matches!(twice, Err(StoreError::ConditionFailed { .. })));
    assert_eq!(store.delete(Table::Books, &key, None).await.expect("unconditional delete"), None);

    // A counter below its limit, absent counting as 0: the rate budgets' one update.
    let counter = Key::new(format!("{ns}#LIMIT#route#read"), "WINDOW#1");
    let count = || vec![UpdateAction::Add("uses".into(), 1)];
    for expected in 1..=2 {
        let counted = store
            .update(Table::RateLimits, &counter, count(), Some(Condition::Below("uses".into(), 2)))
            .await
            .expect("below the limit");
        assert_eq!(counted["uses"], json!(expected));
    }
    let over = store.update(Table::RateLimits, &counter, count(), Some(Condition::Below("uses".into(), 2))).await;
    assert!(matches!(over, Err(StoreError::ConditionFailed { .. })), "{over:?}");
    let never = Key::new(format!("{ns}#LIMIT#route#write"), "WINDOW#1");
    let none_allowed = store.update(Table::RateLimits, &never, count(), Some(Condition::Below("uses".into(), 0))).await;
    assert!(matches!(none_allowed, Err(StoreError::ConditionFailed { .. })), "absent is 0, not below 0");
    assert_eq!(store.get(Table::RateLimits, &never).await.expect("get"), None);
}

async fn queries_and_pages(store: &dyn Store, ns: &str) {
    let pk = format!("{ns}#cart");
    for n in 0..7 {
        store.put(Table::ShoppingCart, item(&pk, &format!("CART#{n}"), json!({"n": n})), None).await.expect("put");
    }
    store.put(Table::ShoppingCart, item(&pk, "OTHER#1", json!({})), None).await.expect("put");
    store.put(Table::ShoppingCart, item(&format!("{pk}x"), "CART#0", json!({})), None).await.expect("put");
    let all = query_all(store, Query::table(Table::ShoppingCart, &pk, SortKeyRange::BeginsWith("CART#".into())))
        .await
        .expect("query");
    let ns_seen: Vec<i64> = all.iter().map(|i| i["n"].as_i64().expect("n")).collect();
    assert_eq!(ns_seen, vec![0, 1, 2, 3, 4, 5, 6], "only this partition and prefix, ascending");
    let mut pages = Vec::new();
    let mut query =
        Query::table(Table::ShoppingCart, &pk, SortKeyRange::BeginsWith("CART#".into())).backward().limit(3);
    loop {
        let page = store.query(query.clone()).await.expect("page");
        pages.push(page.items.iter().map(|i| i["n"].as_i64().expect("n")).collect::<Vec<_>>());
        match page.last_evaluated {
            Some(last) => query.start_after = Some(last),
            None => break,
        }
    }
    let flat: Vec<i64> = pages.concat();
    assert_eq!(flat, vec![6, 5, 4, 3, 2, 1, 0], "descending pages cover everything once: {pages:?}");
    let between = query_all(
        store,
        Query::table(Table::ShoppingCart, &pk, SortKeyRange::Between("CART#2".into(), "CART#4".into())),
    )
    .await
    .expect("between");
    assert_eq!(between.len(), 3);
    let everything = query_all(store, Query::table(Table::ShoppingCart, &pk, SortKeyRange::All)).await.expect("all");
    assert_eq!(everything.len(), 8);

    let backward_page =
        Query::table(Table::ShoppingCart, &pk, SortKeyRange::BeginsWith("CART#".into())).backward().limit(3);
    let as_json = store.query_json(backward_page.clone()).await.expect("json page");
    let parsed: Vec<Item> = as_json.iter().map(|json| serde_json::from_slice(json).expect("an item's JSON")).collect();
    assert_eq!(parsed, store.query(backward_page).await.expect("page").items, "query_json is query's page as JSON");
    let limit_zero = store.query_json(Query::table(Table::ShoppingCart, &pk, SortKeyRange::All).limit(0)).await;
    assert!(matches!(limit_zero, Err(StoreError::Invalid(_))), "{limit_zero:?}");
}

/// The items of an index query once they satisfy `settled`, within ten seconds. A global
/// secondary index is eventually consistent on DynamoDB: the suite asserts that an index
/// converges to the table, never that it reflects a write at once.
async fn index_settles(store: &dyn Store, query: Query, settled: impl Fn(&[Item]) -> bool) -> Vec<Item> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let items = query_all(store, query.clone()).await.expect("index query");
        if settled(&items) || std::time::Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn secondary_indexes(store: &dyn Store, ns: &str) {
    let index_pk = format!("{ns}#CATEGORY");
    for (n, category) in ["poesia", "ficcion", "ficcion", "historia"].iter().enumerate() {
        let book = item(
            &format!("{ns}#book{n}"),
            "BOOK#1",
            json!({"gsi1pk": index_pk, "gsi1sk": format!("{category}#book{n}"), "n": n}),
        );
        store.put(Table::Books, book, None).await.expect("put");
    }
    store.put(Table::Books, item(&format!("{ns}#claim"), "UNIQUE#ISBN", json!({})), None).await.expect("sparse item");
    let fiction_query = Query::index(Table::Books, Index::Gsi1, &index_pk, SortKeyRange::BeginsWith("ficcion#".into()));
    let all_query = Query::index(Table::Books, Index::Gsi1, &index_pk, SortKeyRange::All);
    let all = index_settles(store, all_query.clone(), |items| items.len() == 4).await;
    let order: Vec<i64> = all.iter().map(|i| i["n"].as_i64().expect("n")).collect();
    assert_eq!(order, vec![1, 2, 3, 0], "ordered by index sort key; items without index keys are absent");
    let fiction = query_all(store, fiction_query.clone()).await.expect("gsi");
    assert_eq!(fiction.len(), 2);
    // Moving an item in the index removes its old entry.
    store
        .put(
            Table::Books,
            item(&format!("{ns}#book0"), "BOOK#1", json!({"gsi1pk": index_pk, "gsi1sk": "ficcion#book0", "n": 0})),
            None,
        )
        .await
        .expect("re-put");
    let fiction = index_settles(store, fiction_query, |items| items.len() == 3).await;
    assert_eq!(fiction.len(), 3);
    let poetry = query_all(
        store,
        Query::index(Table::Books, Index::Gsi1, &index_pk, SortKeyRange::BeginsWith("poesia#".into())),
    )
    .await
    .expect("gsi");
    assert!(poetry.is_empty(), "the old index entry is gone");
    store.delete(Table::Books, &Key::new(format!("{ns}#book1"), "BOOK#1"), None).await.expect("delete");
    index_settles(store, all_query.clone(), |items| items.len() == 3).await;
    let paged = store.query(all_query.clone().limit(2)).await.expect("page");
    assert_eq!(paged.items.len(), 2);
    let mut rest = all_query;
    rest.start_after = paged.last_evaluated;
    assert_eq!(query_all(store, rest).await.expect("rest").len(), 1, "a deleted item leaves the index");
    let undefined = store.query(Query::index(Table::ShoppingCart, Index::Gsi1, "x", SortKeyRange::All)).await;
    assert!(matches!(undefined, Err(StoreError::Invalid(_))));
}

async fn transactions(store: &dyn Store, ns: &str) {
    let stock = Key::new(format!("{ns}#tx-book"), "BOOK#1");
    store.put(Table::Books, item(&stock.pk, &stock.sk, json!({"stock": 1})), None).await.expect("put");
    let order = |id: &str| item(&format!("{ns}#tx-user"), &format!("PURCHASE#{id}"), json!({}));
    let buy = |id: &str| {
        vec![
            WriteAction::Update {
                table: Table::Books,
                key: stock.clone(),
                actions: vec![UpdateAction::Add("stock".into(), -1)],
                condition: Some(Condition::AtLeast("stock".into(), 1)),
            },
            WriteAction::Put { table: Table::Purchases, item: order(id), condition: Some(Condition::NotExists) },
        ]
    };
    store.transact_write(buy("p1")).await.expect("first purchase");
    let second = store.transact_write(buy("p2")).await;
    let Err(StoreError::TransactionCancelled { failed }) = second else { panic!("{second:?}") };
    assert_eq!(failed.iter().map(|f| f.position).collect::<Vec<_>>(), vec![0], "the stock update failed, alone");
    let seen = failed[0].current.as_ref().expect("the cancelled transaction saw the book");
    assert_eq!(seen["stock"], json!(0), "a cancellation carries the item its condition saw");
    let absent = store
        .transact_write(vec![
            WriteAction::Check {
                table: Table::Books,
                key: Key::new(format!("{ns}#nobody"), "BOOK#1"),
                condition: Condition::Exists,
            },
            WriteAction::Put { table: Table::Purchases, item: order("p-absent"), condition: None },
        ])
        .await;
    let Err(StoreError::TransactionCancelled { failed }) = absent else { panic!("{absent:?}") };
    assert_eq!((failed[0].position, failed[0].current.clone()), (0, None), "a missing item is reported as missing");
    assert_eq!(
        store.get(Table::Purchases, &Key::new(format!("{ns}#tx-user"), "PURCHASE#p2")).await.expect("get"),
        None,
        "nothing of a cancelled transaction is written"
    );
    let check = vec![
        WriteAction::Check {
            table: Table::Books,
            key: stock.clone(),
            condition: Condition::Equals("stock".into(), json!(0)),
        },
        WriteAction::Put { table: Table::Purchases, item: order("p3"), condition: None },
    ];
    store.transact_write(check).await.expect("check passes");
    let too_many: Vec<WriteAction> = (0..101)
        .map(|n| WriteAction::Put { table: Table::Purchases, item: order(&format!("many{n}")), condition: None })
        .collect();
    assert!(matches!(store.transact_write(too_many).await, Err(StoreError::Invalid(_))));
    let twice = vec![
        WriteAction::Put { table: Table::Purchases, item: order("dup"), condition: None },
        WriteAction::Delete {
            table: Table::Purchases,
            key: Key::new(format!("{ns}#tx-user"), "PURCHASE#dup"),
            condition: None,
        },
    ];
    assert!(matches!(store.transact_write(twice).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.transact_write(Vec::new()).await, Err(StoreError::Invalid(_))));
}

async fn batch_reads(store: &dyn Store, ns: &str) {
    let pk = |n: usize| format!("{ns}#batch{n}");
    for n in 0..120 {
        store.put(Table::Books, item(&pk(n), "BOOK#1", json!({"n": n})), None).await.expect("put");
    }
    let mut keys: Vec<Key> = (0..100).rev().map(|n| Key::new(pk(n), "BOOK#1")).collect();
    keys[1] = Key::new(format!("{ns}#batch-missing"), "BOOK#1");
    keys[2] = keys[0].clone();
    let found = store.batch_get(Table::Books, &keys, true).await.expect("batch");
    assert_eq!(found.len(), 100, "one answer per key asked");
    assert_eq!(found[0].as_ref().expect("present")["n"], json!(99), "in the order asked");
    assert_eq!(found[1], None, "a missing item is None");
    assert_eq!(found[2], found[0], "a key asked twice is answered twice");
    assert_eq!(found[99].as_ref().expect("present")["n"], json!(0));
    store.put(Table::Books, item(&pk(0), "BOOK#1", json!({"n": "new"})), None).await.expect("rewrite");
    let again = store.batch_get(Table::Books, &keys[99..], true).await.expect("batch");
    assert_eq!(again[0].as_ref().expect("present")["n"], json!("new"), "batch reads see acknowledged writes");
    assert_eq!(store.batch_get(Table::Books, &[], false).await.expect("empty"), Vec::<Option<Item>>::new());
    let too_many: Vec<Key> = (0..101).map(|n| Key::new(pk(n), "BOOK#1")).collect();
    assert!(matches!(store.batch_get(Table::Books, &too_many, false).await, Err(StoreError::Invalid(_))));
}

async fn concurrent_conditional_decrements(store: Arc<dyn Store>, ns: &str) {
    let key = Key::new(format!("{ns}#hot"), "BOOK#1");
    store.put(Table::Books, item(&key.pk, &key.sk, json!({"stock": 10})), None).await.expect("put");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            store
                .update(
                    Table::Books,
                    &key,
                    vec![UpdateAction::Add("stock".into(), -1)],
                    Some(Condition::AtLeast("stock".into(), 1)),
                )
                .await
                .is_ok()
        });
    }
    let mut sold = 0;
    while let Some(done) = tasks.join_next().await {
        sold += usize::from(done.expect("task"));
    }
    assert_eq!(sold, 10);
    assert_eq!(store.get(Table::Books, &key).await.expect("get").expect("present")["stock"], json!(0));
}

/// A partition of many rows (an adapter may hold small ones differently) pages, filters
/// and finds single items like a small one.
async fn large_partitions(store: &dyn Store, ns: &str) {
    let pk = format!("{ns}#history");
    for n in 0..75 {
        store.put(Table::Purchases, item(&pk, &format!("PURCHASE#{n:03}"), json!({"n": n})), None).await.expect("put");
    }
    let key = Key::new(&pk, "PURCHASE#042");
    assert_eq!(store.get(Table::Purchases, &key).await.expect("get").expect("present")["n"], json!(42));
    let mut query =
        Query::table(Table::Purchases, &pk, SortKeyRange::BeginsWith("PURCHASE#".into())).backward().limit(7);
    let mut seen = Vec::new();
    loop {
        let page = store.query(query.clone()).await.expect("page");
        seen.extend(page.items.iter().map(|i| i["n"].as_i64().expect("n")));
        match page.last_evaluated {
            Some(last) => query.start_after = Some(last),
            None => break,
        }
    }
    assert_eq!(seen, (0..75).rev().collect::<Vec<_>>(), "descending pages cover the partition once");
    let between =
        Query::table(Table::Purchases, &pk, SortKeyRange::Between("PURCHASE#010".into(), "PURCHASE#012".into()));
    assert_eq!(store.query_json(between).await.expect("between").len(), 3);
    store.delete(Table::Purchases, &key, None).await.expect("delete");
    assert_eq!(store.get(Table::Purchases, &key).await.expect("get"), None, "a deleted row is gone");
}

/// Readers racing a writer on one item never see it older than the last acknowledged
/// write, whichever read path they take. After each acknowledged write the writer waits
/// until both paths have read at that floor, so every read path really races every write.
async fn reads_see_every_acknowledged_write(store: Arc<dyn Store>, ns: &str) {
    use std::sync::atomic::{AtomicI64, Ordering};
    const WRITES: i64 = 150;
    let key = Key::new(format!("{ns}#raced"), "BOOK#1");
    store.put(Table::Books, item(&key.pk, &key.sk, json!({"version": 0})), None).await.expect("put");
    let acknowledged = Arc::new(AtomicI64::new(0));
    // Per read path (get, query): the highest floor a read of that path started from.
    let read_at = Arc::new([AtomicI64::new(-1), AtomicI64::new(-1)]);
    let mut readers = tokio::task::JoinSet::new();
    for by_query in [false, true, false, true] {
        let (store, key, acknowledged, read_at) = (store.clone(), key.clone(), acknowledged.clone(), read_at.clone());
        readers.spawn(async move {
            loop {
                let floor = acknowledged.load(Ordering::SeqCst);
                let version = if by_query {
                    let query = Query::table(Table::Books, &key.pk, SortKeyRange::BeginsWith("BOOK#".into())).limit(1);
                    let rows = store.query_json(query).await.expect("query");
                    serde_json::from_slice::<Item>(&rows[0]).expect("item")["version"].as_i64().expect("version")
                } else {
                    store.get(Table::Books, &key).await.expect("get").expect("present")["version"].as_i64().expect("v")
                };
                assert!(version >= floor, "read version {version} after version {floor} was acknowledged");
                read_at[usize::from(by_query)].fetch_max(floor, Ordering::SeqCst);
                if floor == WRITES {
                    return;
                }
                tokio::task::yield_now().await;
            }
        });
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for version in 1..=WRITES {
        store.put(Table::Books, item(&key.pk, &key.sk, json!({"version": version})), None).await.expect("put");
        acknowledged.store(version, Ordering::SeqCst);
        while read_at.iter().any(|at| at.load(Ordering::SeqCst) < version) {
            assert!(std::time::Instant::now() < deadline, "the readers stopped reading at version {version}");
            if let Some(ended) = readers.try_join_next() {
                ended.expect("a reader saw an older version than acknowledged");
            }
            tokio::task::yield_now().await;
        }
    }
    while let Some(reader) = readers.join_next().await {
        reader.expect("a reader saw an older version than acknowledged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_in_memory_store_passes_the_conformance_suite() {
    run_suite(Arc::new(EmbeddedStore::in_memory().expect("store")), "mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_file_store_passes_the_conformance_suite_and_keeps_data_across_reopen() {
    let dir = std::env::temp_dir().join(format!("bookstore-conformance-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("store.redb");
    {
        let store = Arc::new(EmbeddedStore::open(&path).expect("store"));
        run_suite(store, "file").await;
    }
    let reopened = EmbeddedStore::open(&path).expect("dropping the store closed the file");
    let kept = reopened.get(Table::Books, &Key::new("file#hot", "BOOK#1")).await.expect("get");
    assert_eq!(kept.expect("kept")["stock"], json!(0));
    let _ = std::fs::remove_dir_all(&dir);
}
