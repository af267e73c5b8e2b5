//! `lake-writes`: S3 PUTs per 1,000 purchases from the purchases-to-lake consumer, on
//! DynamoDB Local's Streams and moto's S3, as `bookstore up` runs it on an AWS stage.
//! Purchases are checkouts through the API's router by 8 buyers, at a steady rate, with
//! the consumer running; once the lake holds every purchase the PUTs the consumer made are
//! counted. Beside it, the same load through a consumer without a batching window (a
//! file per stream read: what the lake did before), in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use axum::http::Method;
use bookstore_runtime::accounts::{self, Password, Registration};
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::aws::{Connection, EVENT_SOURCE_POLL, S3Objects};
use bookstore_runtime::cdc::{LAKE_BATCH_SIZE, LAKE_BATCHING_WINDOW, PurchasesToLake};
use bookstore_runtime::changes::{ChangeFeed, FeedConfig};
use bookstore_runtime::config::RuntimeConfig;
use bookstore_runtime::domain::{Email, Role, TenantId, Text, UserId};
use bookstore_runtime::embedded::{EmbeddedStore, TantivySearch};
use bookstore_runtime::lake::{BatchLake, LakeObjects};
use bookstore_runtime::store::Table;
use serde_json::json;
use tokio::sync::watch;

use crate::{Api, PASSWORD, TENANT, new_book, shop};

const BUYERS: usize = 8;

/// One run: `purchases` checkouts at `per_second`, the consumer gathering for `window`.
async fn run(ddb: &str, moto: &str, purchases: usize, per_second: f64, window: Duration) -> Result<serde_json::Value> {
    let prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (store, streams) =
        Connection::new("eu-west-1", Some(ddb.to_owned())).dynamo_store_and_streams(&prefix, EVENT_SOURCE_POLL).await;
    store.create_missing_tables().await?;
    shop(&store).await?;
    let tenant = TenantId::parse(TENANT)?;
    for buyer in 0..BUYERS {
        let registration = Registration {
            email: Email::parse(&format!("buyer{buyer}@bench.example"))?,
            password: Password::new(PASSWORD).map_err(anyhow::Error::msg)?,
            first_name: Text::parse("Buyer")?,
            last_name: None,
        };
        accounts::register(&store, &tenant, UserId::new_v7(), &registration, Role::Customer, chrono::Utc::now())
            .await?;
    }
    let store = Arc::new(store);
    let objects =
        Arc::new(Connection::new("eu-west-1", Some(moto.to_owned())).s3_objects(&format!("{prefix}-lake")).await);
    objects.create_if_missing("eu-west-1").await?;
    let api = Arc::new(Api {
        router: app(AppState::new(store.clone(), Arc::new(TantivySearch::in_memory()), RuntimeConfig::for_tests())),
    });
    let admin = api.login("admin@bench.example").await?;
    let mut books = Vec::new();
    for n in 0..20 {
        let book = api.call(Method::POST, "/api/v1/books", Some(&admin), Some(new_book(n))).await?;
        books.push(book["book_id"].as_str().context("book_id")?.to_owned());
    }

    let config = FeedConfig { batch_size: LAKE_BATCH_SIZE, batching_window: window, ..FeedConfig::default() };
    let handler = Arc::new(PurchasesToLake::new(Arc::new(BatchLake::new(objects.clone()))));
    let feed = ChangeFeed::new(
        Arc::new(streams),
        Arc::new(EmbeddedStore::in_memory()?),
        "purchases-to-lake",
        Table::Purchases,
        handler,
        config,
    );
    let (stop, stopped) = watch::channel(false);
    let consumer = tokio::spawn(feed.run(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|s| *s).await;
    }));

    let started = Instant::now();
    let gap = Duration::from_secs_f64(BUYERS as f64 / per_second);
    let mut buyers = tokio::task::JoinSet::new();
    for buyer in 0..BUYERS {
        let (api, books) = (api.clone(), books.clone());
        buyers.spawn(async move {
            let token = api.login(&format!("buyer{buyer}@bench.example")).await?;
            let mut next = Instant::now() + gap.mul_f64(buyer as f64 / BUYERS as f64);
            for n in (buyer..purchases).step_by(BUYERS) {
                tokio::time::sleep_until(next.into()).await;
                next += gap;
                let line = json!({"book_id": books[n % books.len()], "quantity": 1});
                api.call(Method::POST, "/api/v1/cart/add", Some(&token), Some(line)).await?;
                api.call(Method::POST, "/api/v1/purchases/checkout", Some(&token), Some(json!({}))).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = buyers.join_next().await {
        done??;
    }
    let load_seconds = started.elapsed().as_secs_f64();

    // Until every purchase is in the lake (each once).
    let deadline = Instant::now() + window + Duration::from_secs(60);
    let rows = loop {
        let mut rows = 0;
        for object in objects.list(&format!("{TENANT}/purchases/")).await? {
            let body = objects.get(&object.key).await?.context("listed object")?;
            rows += body.iter().filter(|b| **b == b'\n').count();
        }
        if rows >= purchases {
            break rows;
        }
        ensure!(Instant::now() < deadline, "{rows} of {purchases} purchases reached the lake");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop.send(true);
    consumer.await??;
    ensure!(rows == purchases, "{rows} rows for {purchases} purchases: the lake doubled some");
    let files = objects.list(&format!("{TENANT}/")).await?.len();
    let puts = S3Objects::requests(&objects).puts;
    Ok(json!({
        "measure": "S3 PUTs per 1,000 purchases, purchases-to-lake consumer", "batching_window_s": window.as_secs_f64(),
        "purchases": purchases, "per_second": per_second, "load_seconds": (load_seconds * 10.0).round() / 10.0,
        "puts": puts, "objects": files, "puts_per_1000": (puts as f64 * 1000.0 / purchases as f64).round(),
    }))
}

pub async fn lake_writes(ddb: String, moto: String, purchases: usize, per_second: f64) -> Result<()> {
    for window in [LAKE_BATCHING_WINDOW, Duration::ZERO] {
        println!("{}", run(&ddb, &moto, purchases, per_second, window).await?);
    }
    Ok(())
}
