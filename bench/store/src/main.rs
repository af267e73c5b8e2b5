//! `store-bench`: what requests cost the store.
//!
//! - `cost --dynamodb-url U`: on a fresh stage of DynamoDB Local, the API's own router
//!   serves book by id, listing pages, cart add, a checkout of 3 lines and a login; for
//!   each, the round trips and capacity units DynamoDB reports
//!   (`ReturnConsumedCapacity=TOTAL`) beside the floor DynamoDB's pricing gives for the
//!   items the request must touch (an eventually consistent read of ≤ 4 KB: 0.5 RCU; a
//!   write of ≤ 1 KB: 1 WCU, twice that inside a transaction).
//! - `listing --books N`: the embedded store and search engine with N books in one
//!   tenant (20 categories); latency of a sorted category page, a key-ordered category
//!   page and the category counts, through the router, p50/p99 over 200 requests each.
//!
//! Each prints one JSON line per measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bookstore_runtime::accounts::{self, Password, Registration};
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::aws::{Connection, DynamoStore, Spend};
use bookstore_runtime::catalog;
use bookstore_runtime::config::RuntimeConfig;
use bookstore_runtime::domain::{Book, BookId, Email, Isbn, Role, Tenant, TenantId, Text, UserId};
use bookstore_runtime::embedded::{EmbeddedStore, TantivySearch};
use bookstore_runtime::search::{BookDocument, IndexChange, SearchIndex};
use bookstore_runtime::store::{SharedStore, Store};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Cost {
        #[arg(long)]
        dynamodb_url: String,
    },
    Listing {
        #[arg(long, default_value_t = 100_000)]
        books: u64,
    },
}

const TENANT: &str = "bench-shop";
const PASSWORD: &str = "bench-password-1";

struct Api {
    router: Router,
}

impl Api {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Result<Value> {
        let mut request = Request::builder().method(method).uri(path).header("x-tenant-id", TENANT);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string()))?,
            None => request.body(Body::empty())?,
        };
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        let body: Value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
        if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    async fn login(&self, email: &str) -> Result<String> {
        let body = self
            .call(Method::POST, "/api/v1/users/login", None, Some(json!({"email": email, "password": PASSWORD})))
            .await?;
        Ok(body["token"].as_str().context("token")?.to_owned())
    }
}

async fn shop(store: &dyn Store) -> Result<()> {
    let tenant_id = TenantId::parse(TENANT)?;
    let tenant = Tenant {
        tenant_id: tenant_id.clone(),
        name: Text::parse("Bench")?,
        is_active: true,
        created_at: chrono::Utc::now(),
    };
    accounts::add_tenant(store, &tenant).await?;
    for (email, role) in [("admin@bench.example", Role::Admin), ("reader@bench.example", Role::Customer)] {
        let registration = Registration {
            email: Email::parse(email)?,
            password: Password::new(PASSWORD).map_err(anyhow::Error::msg)?,
            first_name: Text::parse("Bench")?,
            last_name: None,
        };
        accounts::register(store, &tenant_id, UserId::new_v7(), &registration, role, chrono::Utc::now()).await?;
    }
    Ok(())
}

/// A book like the demo's: a paragraph of description, 20 categories.
fn new_book(n: u64) -> Value {
    json!({
        "isbn": Isbn::from_body(978_000_000_000 + n).to_string(),
        "title": format!("Libro de prueba número {n}"),
        "author": format!("Autora {}", n % 500),
        "category": format!("Categoría {:02}", n % 20),
        "price": format!("{}.{:02}", 5 + n % 60, n % 100),
        "stock_quantity": 1000,
        "publication_year": 1950 + (n % 70) as i32,
        "rating": format!("{}.{}", 3 + n % 2, n % 10),
        "description": "Una novela sobre una familia a lo largo de cien años, sus guerras, sus amores y sus \
            olvidos, contada con la voz de quien lo vio todo y no lo olvidó; edición anotada, con prólogo, \
            cronología y un índice de personajes.",
    })
}

/// Creates books through the catalogue and indexes them directly (no change feed here).
async fn books(store: &dyn Store, search: &dyn SearchIndex, count: u64) -> Result<Vec<Book>> {
    let tenant = TenantId::parse(TENANT)?;
    let mut created = Vec::with_capacity(count as usize);
    let mut batch = Vec::new();
    for n in 0..count {
        let new = serde_json::from_value(new_book(n))?;
        let book = catalog::create_book(store, &tenant, BookId::new_v7(), new, chrono::Utc::now()).await?;
        batch.push(IndexChange::Upsert(BookDocument::from(&book)));
        if batch.len() == 1000 {
            search.apply(&tenant, std::mem::take(&mut batch)).await?;
        }
        created.push(book);
    }
    search.apply(&tenant, batch).await?;
    Ok(created)
}

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

async fn cost(url: String) -> Result<()> {
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

    let token = measure(&store, "login", (read_floor(user_bytes), 0.0), async {
        Ok(Value::String(api.login("reader@bench.example").await?))
    })
    .await?;
    let token = token.as_str().context("token")?.to_owned();
    let id = created[7].book_id;
    let book_path = format!("/api/v1/books/{id}");
    for name in ["book by id", "book by id, again"] {
        measure(&store, name, (read_floor(book_bytes), 0.0), api.call(Method::GET, &book_path, Some(&token), None))
            .await?;
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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn listing(count: u64) -> Result<()> {
    let store = Arc::new(EmbeddedStore::in_memory()?);
    let search = Arc::new(TantivySearch::in_memory());
    shop(store.as_ref()).await?;
    let started = Instant::now();
    books(store.as_ref(), search.as_ref(), count).await?;
    let loaded = started.elapsed();
    let api = Api { router: app(AppState::new(store, search, RuntimeConfig::for_tests())) };
    let token = api.login("reader@bench.example").await?;
    for (name, path) in [
        ("category sorted by -price, page of 20", "/api/v1/books?category=Categor%C3%ADa%2003&sort=-price&limit=20"),
        ("category in key order, page of 20", "/api/v1/books?category=Categor%C3%ADa%2003&limit=20"),
        ("every book by title, page 50 of 20", "/api/v1/books?limit=20&page=50"),
        ("categories with counts", "/api/v1/books/categories"),
    ] {
        let mut times = Vec::with_capacity(200);
        for _ in 0..200 {
            let at = Instant::now();
            api.call(Method::GET, path, Some(&token), None).await?;
            times.push(at.elapsed());
        }
        times.sort();
        println!(
            "{}",
            json!({"books": count, "request": name, "p50_ms": percentile(&times, 0.5), "p99_ms": percentile(&times, 0.99),
                   "load_seconds": loaded.as_secs_f64()})
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Cost { dynamodb_url } => cost(dynamodb_url).await,
        Command::Listing { books } => listing(books).await,
    }
}
