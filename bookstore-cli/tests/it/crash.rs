//! `bookstore up` killed with SIGKILL in the middle of a checkout load, then restarted:
//! every acknowledged purchase is there, and stock + sold is conserved per book.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{Server, add_tenant, client, login, temp_dir};

const BOOKS: usize = 5;
const INITIAL_STOCK: i64 = 200;
const BUYERS: usize = 16;

pub(crate) struct Acknowledged {
    pub token: String,
    pub purchase_id: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_checkouts_loses_no_acknowledged_purchase_and_conserves_stock() {
    let dir = temp_dir("crash");
    let password = add_tenant(&dir, "crash-shop", "admin@crash.example");

    let mut server = Server::start(&dir, &[]);
    let http = client();
    let url = server.url.clone();
    let admin = login(&http, &url, "crash-shop", "admin@crash.example", &password).await;
    let book_ids = stocked_books(&http, &url, &admin, BOOKS, INITIAL_STOCK).await;
    let buyers = register_buyers(&http, &url, "crash-shop", BUYERS).await;

    let acknowledged = checkouts_then_kill(&http, &mut server, &buyers, &book_ids, 150).await;

    let restarted = Server::start(&dir, &[]);
    let url = restarted.url.clone();
    for purchase in &acknowledged {
        let reply = http
            .get(format!("{url}/api/v1/purchases/{}", purchase.purchase_id))
            .bearer_auth(&purchase.token)
            .send()
            .await
            .expect("get");
        assert_eq!(reply.status(), 200, "acknowledged purchase {} was lost", purchase.purchase_id);
    }
    let mut sold: HashMap<String, i64> = HashMap::new();
    for token in &buyers {
        let mut page_url = format!("{url}/api/v1/purchases?limit=100");
        loop {
            let page: Value =
                http.get(&page_url).bearer_auth(token).send().await.expect("list").json().await.expect("json");
            for purchase in page["data"].as_array().expect("data") {
                let items = purchase["items"].as_array().expect("items");
                assert!(!items.is_empty(), "a purchase without items");
                for item in items {
                    *sold.entry(item["book_id"].as_str().expect("id").to_owned()).or_default() +=
                        item["quantity"].as_i64().expect("q");
                }
            }
            match page["pagination"]["next_cursor"].as_str() {
                Some(cursor) => page_url = format!("{url}/api/v1/purchases?limit=100&cursor={cursor}"),
                None => break,
            }
        }
    }
    for book in &book_ids {
        let now: Value = http
            .get(format!("{url}/api/v1/books/{book}"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("book")
            .json()
            .await
            .expect("json");
        let stock = now["stock_quantity"].as_i64().expect("stock");
        assert_eq!(stock + sold.get(book).copied().unwrap_or(0), INITIAL_STOCK, "stock + sold changed for {book}");
    }
    drop(restarted);
    let _ = std::fs::remove_dir_all(dir);
}

/// `count` books of `stock` copies each; their ids.
pub(crate) async fn stocked_books(
    http: &reqwest::Client,
    url: &str,
    admin: &str,
    count: usize,
    stock: i64,
) -> Vec<String> {
    let mut book_ids = Vec::new();
    for n in 0..count {
        let isbn = bookstore_runtime::domain::Isbn::from_body(978_100_000_000 + n as u64).to_string();
        let reply = http
            .post(format!("{url}/api/v1/books"))
            .bearer_auth(admin)
            .json(&json!({"isbn": isbn, "title": format!("Libro {n}"), "author": "Autora", "category": "Ficción", "price": "9.95", "stock_quantity": stock, "publication_year": 2020}))
            .send()
            .await
            .expect("create book");
        assert_eq!(reply.status(), 201);
        book_ids.push(reply.json::<Value>().await.expect("json")["book_id"].as_str().expect("id").to_owned());
    }
    book_ids
}

/// Customers of `tenant`, registered through the API; their tokens.
pub(crate) async fn register_buyers(http: &reqwest::Client, url: &str, tenant: &str, count: usize) -> Vec<String> {
    let mut buyers = Vec::new();
    for n in 0..count {
        let reply = http
            .post(format!("{url}/api/v1/users/register"))
            .header("x-tenant-id", tenant)
            .json(&json!({"email": format!("buyer{n}@{tenant}.example"), "password": "password-123", "first_name": "Buyer"}))
            .send()
            .await
            .expect("register");
        assert_eq!(reply.status(), 201);
        buyers.push(reply.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned());
    }
    buyers
}

/// Every buyer adds a book and checks out, over and over, until `count` purchases were
/// acknowledged; then the server gets SIGKILL. The purchases acknowledged by then.
pub(crate) async fn checkouts_then_kill(
    http: &reqwest::Client,
    server: &mut Server,
    buyers: &[String],
    books: &[String],
    count: usize,
) -> Vec<Acknowledged> {
    let acknowledged = Arc::new(Mutex::new(Vec::<Acknowledged>::new()));
    let mut workers = tokio::task::JoinSet::new();
    for (n, token) in buyers.iter().cloned().enumerate() {
        let (http, url, books, acknowledged) =
            (http.clone(), server.url.clone(), books.to_vec(), Arc::clone(&acknowledged));
        workers.spawn(async move {
            for round in 0.. {
                let book = &books[(n + round) % books.len()];
                let added = http
                    .post(format!("{url}/api/v1/cart/add"))
                    .bearer_auth(&token)
                    .json(&json!({"book_id": book, "quantity": 1 + round % 2}))
                    .send()
                    .await;
                if added.is_err() {
                    return;
                }
                let checkout = http
                    .post(format!("{url}/api/v1/purchases/checkout"))
                    .bearer_auth(&token)
                    .header("idempotency-key", format!("{n}-{round}"))
                    .json(&json!({}))
                    .send()
                    .await;
                match checkout {
                    Ok(reply) if reply.status() == 201 => {
                        let Ok(body) = reply.json::<Value>().await else { return };
                        let purchase_id = body["purchase_id"].as_str().unwrap_or_default().to_owned();
                        acknowledged.lock().expect("lock").push(Acknowledged { token: token.clone(), purchase_id });
                    }
                    Ok(_) => continue,
                    Err(_) => return,
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().expect("lock").len() < count {
        assert!(Instant::now() < deadline, "the load made too few purchases");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    while workers.join_next().await.is_some() {}

    std::mem::take(&mut *acknowledged.lock().expect("lock"))
}
