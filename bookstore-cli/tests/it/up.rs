//! `bookstore up`: answers at once, serves the OpenAPI document, seeds the demo.

use std::time::Duration;

use serde_json::Value;

use crate::server::{Server, client, login, temp_dir};

#[tokio::test]
async fn up_answers_health_and_serves_its_openapi_document() {
    let dir = temp_dir("up");
    let server = Server::start(&dir, &[]);
    let http = client();
    let health = http.get(format!("{}/health", server.url)).send().await.expect("health");
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["stage"], "local");
    let doc: Value =
        http.get(format!("{}/openapi.json", server.url)).send().await.expect("openapi").json().await.expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/users/register",
        "/api/v1/books/{book_id}",
        "/api/v1/purchases/checkout",
        "/api/v1/cart/update/{book_id}",
        "/health",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the OpenAPI document");
    }
    assert!(paths.len() >= 25, "every route is documented: {}", paths.len());
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn up_with_the_demo_seed_prints_logins_that_work_and_loads_the_catalogue() {
    let dir = temp_dir("demo");
    let mut server = Server::start(&dir, &["--seed", "demo"]);
    server.wait_for_line("demo data ready", Duration::from_secs(600));
    let admin_line = server.wait_for_line("libreria-sol", Duration::from_secs(5));
    assert!(admin_line.contains("admin@libreria-sol.example"), "{admin_line}");
    let http = client();
    let token =
        login(&http, &server.url, "libreria-sol", "admin@libreria-sol.example", "demo-libreria-sol-admin").await;
    // The listing counts what the search index holds, which follows the store through the
    // change feed: it reaches the whole catalogue shortly after the seed.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let books: Value = http
            .get(format!("{}/api/v1/books?limit=1", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("books")
            .json()
            .await
            .expect("json");
        if books["pagination"]["total_items"] == 1000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listing never counted the catalogue: {}",
            books["pagination"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let customer = login(&http, &server.url, "papiro", "customer01@papiro.example", "demo-password").await;
    let purchases: Value = http
        .get(format!("{}/api/v1/purchases?limit=100", server.url))
        .bearer_auth(&customer)
        .send()
        .await
        .expect("purchases")
        .json()
        .await
        .expect("json");
    assert!(purchases["pagination"]["total_items"].as_u64().expect("count") > 0, "the demo customer has purchases");
    let search = http
        .get(format!("{}/api/v1/books/by-isbn/0000000000000", server.url))
        .bearer_auth(&customer)
        .send()
        .await
        .expect("by isbn");
    assert_eq!(search.status(), 404);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// A client whose connections come from `address` (any 127.x address is this machine's
/// loopback), so the server sees it as another client.
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(address))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

#[tokio::test]
async fn up_slows_a_password_guesser_by_its_socket_address_not_the_shop() {
    let dir = temp_dir("up-guessing");
    crate::server::add_tenant(&dir, "shop-g", "admin@shop-g.test");
    let server = Server::start(&dir, &[]);
    let (guesser, customer) = (client_from([127, 0, 0, 2]), client_from([127, 0, 0, 3]));
    let registered = customer
        .post(format!("{}/api/v1/users/register", server.url))
        .header("x-tenant-id", "shop-g")
        .json(&serde_json::json!({"email": "carla@shop-g.test", "password": "carla-password", "first_name": "Carla"}))
        .send()
        .await
        .expect("register answers");
    assert_eq!(registered.status(), 201);

    let (mut wrong, mut slowed) = (0, 0);
    for n in 0..50 {
        let guess = serde_json::json!({"email": "admin@shop-g.test", "password": format!("guess-{n}")});
        let reply = guesser
            .post(format!("{}/api/v1/users/login", server.url))
            .header("x-tenant-id", "shop-g")
            .json(&guess)
            .send()
            .await
            .expect("login answers");
        match reply.status().as_u16() {
            401 => wrong += 1,
            429 => {
                let wait: u64 = reply.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
                assert!((1..=60).contains(&wait), "the local stage's window is a minute: {wait}");
                slowed += 1;
            }
            other => panic!("a guess answers 401 or 429, not {other}"),
        }
    }
    // The local stage allows 20 sign-ins per account and minute; a minute may end once.
    assert!((20..=40).contains(&wrong) && slowed >= 10, "{wrong} checked, {slowed} slowed");
    login(&customer, &server.url, "shop-g", "carla@shop-g.test", "carla-password").await;
}
