//! The search index follows the store through the local change feed, survives a
//! SIGKILL mid-burst, can be rebuilt with `bookstore reindex`, and is rebuilt by
//! `bookstore up` when it is found empty beside a store that is not.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{Server, add_tenant, client, login, run, temp_dir};

/// book id → (title, price) as the API serves it from `path` (store or search).
async fn snapshot(http: &reqwest::Client, url: &str, token: &str, path: &str) -> BTreeMap<String, (String, String)> {
    let body: Value =
        http.get(format!("{url}{path}")).bearer_auth(token).send().await.expect("answer").json().await.expect("json");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|b| {
            let id = b["book_id"].as_str().expect("id").to_owned();
            (id, (b["title"].as_str().expect("title").to_owned(), b["price"].as_str().expect("price").to_owned()))
        })
        .collect()
}

pub(crate) async fn converges(http: &reqwest::Client, url: &str, token: &str) -> BTreeMap<String, (String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // One category, no order asked: served by the store in key order, not by the index.
        let store = snapshot(http, url, token, "/api/v1/books?category=Ficci%C3%B3n&limit=100").await;
        let index = snapshot(http, url, token, "/api/v1/books/search?limit=100").await;
        if store == index {
            return store;
        }
        assert!(Instant::now() < deadline, "the index never converged to the store:\nstore {store:?}\nindex {index:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn new_tenant(dir: &std::path::Path) -> String {
    add_tenant(dir, "feed-shop", "admin@feed.example")
}

pub(crate) async fn create_books(http: &reqwest::Client, url: &str, admin: &str, count: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let isbn = bookstore_runtime::domain::Isbn::from_body(978_200_000_000 + n).to_string();
        let reply = http
            .post(format!("{url}/api/v1/books"))
            .bearer_auth(admin)
            .json(&json!({"isbn": isbn, "title": format!("Libro {n}"), "author": "Autora", "category": "Ficción", "price": "10.00", "stock_quantity": 5, "publication_year": 2020}))
            .send()
            .await
            .expect("create");
        assert_eq!(reply.status(), 201);
        ids.push(reply.json::<Value>().await.expect("json")["book_id"].as_str().expect("id").to_owned());
    }
    ids
}

/// Updates every book over and over from one task each, and kills the server with
/// SIGKILL once `updates` went through (the burst well under way, long before its end).
pub(crate) async fn burst_then_kill(
    http: &reqwest::Client,
    server: &mut Server,
    admin: &str,
    ids: &[String],
    updates: usize,
) {
    let updated = Arc::new(AtomicUsize::new(0));
    let mut burst = tokio::task::JoinSet::new();
    for (n, id) in ids.iter().enumerate() {
        let (http, url, admin, id, updated) =
            (http.clone(), server.url.clone(), admin.to_owned(), id.clone(), Arc::clone(&updated));
        burst.spawn(async move {
            for round in 1..=1000 {
                let body = json!({"title": format!("Libro {n} revisión {round}"), "price": format!("{}.{:02}", 10 + round % 7, round % 100)});
                if http.put(format!("{url}/api/v1/books/{id}")).bearer_auth(&admin).json(&body).send().await.is_err() {
                    return;
                }
                updated.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // Polls the count with a deadline; the interval only bounds how late the kill lands.
    let deadline = Instant::now() + Duration::from_secs(60);
    while updated.load(Ordering::Relaxed) < updates {
        assert!(Instant::now() < deadline, "the burst made too few updates");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    while burst.join_next().await.is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_of_book_updates_and_the_index_still_converges_to_the_store() {
    let dir = temp_dir("feed-kill");
    let password = new_tenant(&dir);
    let mut server = Server::start(&dir, &[]);
    let http = client();
    let admin = login(&http, &server.url, "feed-shop", "admin@feed.example", &password).await;
    let ids = create_books(&http, &server.url, &admin, 30).await;

    burst_then_kill(&http, &mut server, &admin, &ids, 300).await;

    let restarted = Server::start(&dir, &[]);
    let state = converges(&http, &restarted.url, &admin).await;
    assert_eq!(state.len(), 30);
    assert!(state.values().any(|(title, _)| title.contains("revisión")), "the burst changed something before the kill");
    drop(restarted);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_rebuilds_a_lost_index_from_the_store() {
    let dir = temp_dir("reindex");
    let password = new_tenant(&dir);
    let mut server = Server::start(&dir, &[]);
    let http = client();
    let admin = login(&http, &server.url, "feed-shop", "admin@feed.example", &password).await;
    create_books(&http, &server.url, &admin, 12).await;
    converges(&http, &server.url, &admin).await;
    server.kill();
    std::fs::remove_dir_all(dir.join("search")).expect("the index is lost");

    let data_dir = dir.to_str().expect("path");
    let bad = run(&["reindex", "--tenant", "nobody", "--data-dir", data_dir]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--tenant nobody"));
    let rebuilt = run(&["reindex", "--tenant", "feed-shop", "--data-dir", data_dir]);
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert!(String::from_utf8_lossy(&rebuilt.stdout).contains("reindexed 12 books"));

    let restarted = Server::start(&dir, &[]);
    let found: Value = http
        .get(format!("{}/api/v1/books/search?q=libro&limit=100", restarted.url))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(found["pagination"]["total_items"], 12);
    drop(restarted);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_rebuilds_an_empty_index_from_the_store_on_start() {
    let dir = temp_dir("rebuild-on-start");
    let password = new_tenant(&dir);
    let mut server = Server::start(&dir, &[]);
    let http = client();
    let admin = login(&http, &server.url, "feed-shop", "admin@feed.example", &password).await;
    create_books(&http, &server.url, &admin, 7).await;
    let before = converges(&http, &server.url, &admin).await;
    server.kill();
    // A new index format opens a new, empty directory, as a lost one does; the change
    // feed's checkpoints are past the records that filled the old one.
    std::fs::remove_dir_all(dir.join("search")).expect("the index is gone");

    let restarted = Server::start(&dir, &[]);
    // Rebuilt before the server listens: its first answer is whole.
    let searched = snapshot(&http, &restarted.url, &admin, "/api/v1/books/search?limit=100").await;
    assert_eq!(searched, before, "the rebuilt index answers as the old one");
    drop(restarted);
    let _ = std::fs::remove_dir_all(dir);
}
