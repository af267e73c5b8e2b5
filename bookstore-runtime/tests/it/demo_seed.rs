//! The demo seed is deterministic and goes through the store's change log.

use std::sync::Arc;

use bookstore_runtime::changes::{ChangeKind, read_all};
use bookstore_runtime::demo::{self, DemoSize};
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::embedded::EmbeddedStore;
use bookstore_runtime::store::{Index, Item, Query, SharedStore, SortKeyRange, Table, keys, query_all};
use rust_decimal::Decimal;

const SMALL: DemoSize = DemoSize { books_per_tenant: 150, customers_per_tenant: 3, purchases_per_tenant: 30 };

async fn snapshot(store: &SharedStore) -> Vec<Item> {
    let mut items = Vec::new();
    for (id, _) in demo::demo_tenants() {
        let tenant = TenantId::parse(id).expect("tenant");
        let books = Query::index(Table::Books, Index::Gsi1, keys::books_by_category(&tenant), SortKeyRange::All);
        items.extend(query_all(store.as_ref(), books).await.expect("books"));
        let purchases =
            Query::index(Table::Purchases, Index::Gsi1, keys::purchases_by_time(&tenant), SortKeyRange::All);
        items.extend(query_all(store.as_ref(), purchases).await.expect("purchases"));
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seed_gives_the_same_books_and_purchases_every_time() {
    let first_log = Arc::new(EmbeddedStore::in_memory().expect("store"));
    let first: SharedStore = first_log.clone();
    let second: SharedStore = Arc::new(EmbeddedStore::in_memory().expect("store"));
    let tax = Decimal::new(4, 2);
    let logins = demo::seed(first.clone(), tax, SMALL).await.expect("seed");
    assert!(logins.iter().all(|l| l.seeded));
    demo::seed(second.clone(), tax, SMALL).await.expect("seed");
    let (a, b) = (snapshot(&first).await, snapshot(&second).await);
    assert_eq!(a.len(), 3 * (SMALL.books_per_tenant + SMALL.purchases_per_tenant));
    assert!(a == b, "two seeds differ");

    let again = demo::seed(first.clone(), tax, SMALL).await.expect("second seed");
    assert!(again.iter().all(|l| !l.seeded), "existing tenants are left alone");
    assert_eq!(snapshot(&first).await.len(), a.len());

    let changes = read_all(first_log.as_ref(), Table::Purchases).await.expect("changes");
    let purchase_inserts = changes.iter().filter(|c| c.kind == ChangeKind::Insert).count();
    assert_eq!(purchase_inserts, 3 * SMALL.purchases_per_tenant, "every purchase is in the change log");
}
