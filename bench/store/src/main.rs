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
//! - `streams --dynamodb-url U --books N`: the books-to-search consumer on DynamoDB
//!   Streams: records/s through a backlog, and the time from a `201` to the first search
//!   hit with the consumer running.
//! - `lake-writes --dynamodb-url U --moto-url M --purchases N --per-second R`: S3 PUTs
//!   the purchases-to-lake consumer makes for N checkouts at R per second, with its
//!   batching window and without.
//!
//! Each prints one JSON line per measurement.

mod cost;
mod lake_writes;
mod listing;
mod streams;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bookstore_runtime::accounts::{self, Password, Registration};
use bookstore_runtime::catalog;
use bookstore_runtime::domain::{Book, BookId, Email, Isbn, Role, Tenant, TenantId, Text, UserId};
use bookstore_runtime::search::{BookDocument, IndexChange, SearchIndex};
use bookstore_runtime::store::Store;
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
    Streams {
        #[arg(long)]
        dynamodb_url: String,
        /// Books in the backlog (two stream records each).
        #[arg(long, default_value_t = 5_000)]
        books: u64,
        /// Books created one at a time to time from `201` to the first search hit.
        #[arg(long, default_value_t = 200)]
        probes: usize,
    },
    LakeWrites {
        #[arg(long)]
        dynamodb_url: String,
        #[arg(long)]
        moto_url: String,
        #[arg(long, default_value_t = 1_000)]
        purchases: usize,
        /// Checkouts per second, spread over 8 buyers.
        #[arg(long, default_value_t = 50.0)]
        per_second: f64,
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

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Cost { dynamodb_url } => cost::cost(dynamodb_url).await,
        Command::Listing { books } => listing::listing(books).await,
        Command::Streams { dynamodb_url, books, probes } => streams::streams(dynamodb_url, books, probes).await,
        Command::LakeWrites { dynamodb_url, moto_url, purchases, per_second } => {
            lake_writes::lake_writes(dynamodb_url, moto_url, purchases, per_second).await
        }
    }
}
