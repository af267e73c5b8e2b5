//! `cost`: round trips and capacity units of requests on DynamoDB Local beside the floor
//! DynamoDB's pricing gives for the items each must touch.

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::http::Method;
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::aws::{Connection, DynamoStore, Spend};
use bookstore_runtime::config::RuntimeConfig;
use bookstore_runtime::embedded::TantivySearch;
use bookstore_runtime::store::SharedStore;
use serde_json::{Value, json};

use crate::{Api, books, shop};

fn read_floor(bytes: usize) -> f64 {
    0.5 * bytes.div_ceil(4096).max(1) as f64
}

fn write_floor(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// An item's size as DynamoDB counts it, near enough: its JSON text.
fn size(value: &Value) -> usize {
    value.to_string().len()
}

async fn measure(
    store: &DynamoStore,
    name: &str,
    floor: (f64, f64),
    work: impl Future<Output = Result<Value>>,
) -> Result<Value> {
    let before = store.spent();
    let answer = work.await?;
    let Spend { calls, read_units, write_units } = store.spent() - before;
    let (read_floor, write_floor) = floor;
    let ratio = (read_units + write_units) / (read_floor + write_floor);
    println!(
        "{}",
        json!({"request": name, "calls": calls, "rcu": read_units, "wcu": write_units,
               "floor_rcu": read_floor, "floor_wcu": write_floor, "ratio": (ratio * 100.0).round() / 100.0})
    );
    Ok(answer)
}

pub async fn cost(url: String) -> Result<()> {
    let prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let store = Connection::new("eu-west-1", Some(url)).dynamo_store(&prefix).await;
    store.create_missing_tables().await?;
    let search = Arc::new(TantivySearch::in_memory());
    shop(&store).await?;
    let created = books(&store, search.as_ref(), 60).await?;
    let shared: SharedStore = Arc::new(store.clone());
    let api = Api { router: app(AppState::new(shared, search, RuntimeConfig::for_tests())) };
    let book_bytes = size(&serde_json::to_value(&created[0])?) + 200; // and its key and index attributes
    let user_bytes = 400;
    // A request checks its shop is open, reading the tenant's row once per
    // `active_tenants::TTL` per instance: the first request after that touches it too.
    let tenant_check = read_floor(200);

    let token = measure(&store, "login (tenant check included)", (tenant_check + read_floor(user_bytes), 0.0), async {
        Ok(Value::String(api.login("reader@bench.example").await?))
    })
    .await?;
    let token = token.as_str().context("token")?.to_owned();
    let id = created[7].book_id;
    let book_path = format!("/api/v1/books/{id}");
    for (name, floor) in [
        ("book by id, first (tenant check included)", tenant_check + read_floor(book_bytes)),
        ("book by id, again", read_floor(book_bytes)),
    ] {
        measure(&store, name, (floor, 0.0), api.call(Method::GET, &book_path, Some(&token), None)).await?;
    }
    measure(
        &store,
        "listing page of 20, one category in key order",
        (read_floor(20 * book_bytes), 0.0),
        api.call(Method::GET, "/api/v1/books?category=Categor%C3%ADa%2003&limit=20", Some(&token), None),
    )
    .await?;
    measure(
        &store,
        "listing page of 20, sorted by price (index + batch read)",
        (read_floor(book_bytes) * 20.0, 0.0),
        api.call(Method::GET, "/api/v1/books?sort=-price&limit=20", Some(&token), None),
    )
    .await?;
    let line_bytes = 250;
    measure(
        &store,
        "cart add",
        (read_floor(book_bytes), write_floor(line_bytes)),
        api.call(
            Method::POST,
            "/api/v1/cart/add",
            Some(&token),
            Some(json!({"book_id": created[1].book_id, "quantity": 1})),
        ),
    )
    .await?;
    for book in &created[2..4] {
        api.call(Method::POST, "/api/v1/cart/add", Some(&token), Some(json!({"book_id": book.book_id, "quantity": 1})))
            .await?;
    }
    let purchase_bytes = 1200;
    let checkout_reads = read_floor(3 * line_bytes) + 3.0 * read_floor(book_bytes);
    let checkout_writes =
        2.0 * (3.0 * write_floor(book_bytes) + 3.0 * write_floor(line_bytes) + write_floor(purchase_bytes));
    measure(
        &store,
        "checkout of 3 lines",
        (checkout_reads, checkout_writes),
        api.call(Method::POST, "/api/v1/purchases/checkout", Some(&token), Some(json!({}))),
    )
    .await?;
    Ok(())
}
