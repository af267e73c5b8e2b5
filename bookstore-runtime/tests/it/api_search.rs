//! Search routes over the change feed: writes reach the index through CDC.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use std::sync::Arc;

#[cfg(feature = "elasticsearch")]
use bookstore_runtime::elasticsearch::ElasticsearchSearch;

#[cfg(feature = "elasticsearch")]
use crate::support::SearchNode;
use crate::support::{TestApp, isbn};

async fn add(app: &TestApp, admin: &str, n: u64, title: &str, author: &str, category: &str, stock: u32) -> String {
    let body = json!({"isbn": isbn(n), "title": title, "author": author, "category": category, "price": "12.00",
                      "stock_quantity": stock, "publication_year": 1990, "rating": "4.0"});
    let reply = app.call(Method::POST, "/api/v1/books", Some(admin), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["book_id"].as_str().expect("id").to_owned()
}

fn titles(body: &Value) -> Vec<String> {
    body["data"].as_array().expect("data").iter().map(|h| h["title"].as_str().expect("title").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_books_become_searchable_with_spanish_analysis_typos_and_filters() {
    written_books_become_searchable_with_spanish_analysis_typos_and_filters_on(TestApp::new().await).await;
}

#[cfg(feature = "elasticsearch")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_books_become_searchable_with_spanish_analysis_typos_and_filters_on_elasticsearch() {
    let node = SearchNode::start().await;
    let search = Arc::new(ElasticsearchSearch::at(&node.url));
    written_books_become_searchable_with_spanish_analysis_typos_and_filters_on(TestApp::with_search(search).await)
        .await;
}

async fn written_books_become_searchable_with_spanish_analysis_typos_and_filters_on(app: TestApp) {
    let shop = app.shop("shop-a").await;
    let rust = add(&app, &shop.admin, 1, "Programación en Rust", "Lucía Fernández", "Programación", 4).await;
    add(&app, &shop.admin, 2, "Cien años de soledad", "Gabriel García Márquez", "Ficción", 0).await;
    add(&app, &shop.admin, 3, "Crónica de una muerte anunciada", "Gabriel García Márquez", "Ficción", 3).await;
    app.sync_search().await;

    let found = app.call(Method::GET, "/api/v1/books/search?q=programacion", Some(&shop.alice), None).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(titles(&found.body), vec!["Programación en Rust"]);
    let typo = app.call(Method::GET, "/api/v1/books/search?q=progranacion", Some(&shop.alice), None).await;
    assert_eq!(titles(&typo.body), vec!["Programación en Rust"], "fuzzy is on by default");
    let strict =
        app.call(Method::GET, "/api/v1/books/search?q=progranacion&fuzzy=false", Some(&shop.alice), None).await;
    assert!(titles(&strict.body).is_empty());
    let author =
        app.call(Method::GET, "/api/v1/books/search?q=garcia%20marquez&in_stock=true", Some(&shop.alice), None).await;
    assert_eq!(titles(&author.body), vec!["Crónica de una muerte anunciada"]);
    let all = app.call(Method::GET, "/api/v1/books/search?limit=2", Some(&shop.alice), None).await;
    assert_eq!(all.body["pagination"]["total_items"], 3);
    assert_eq!(all.body["categories"][0], json!({"category": "Ficción", "count": 2}));
    let cursor = all.body["pagination"]["next_cursor"].as_str().expect("next").to_owned();
    let next =
        app.call(Method::GET, &format!("/api/v1/books/search?limit=2&cursor={cursor}"), Some(&shop.alice), None).await;
    assert_eq!(titles(&next.body).len(), 1);

    let suggest = app
        .call(Method::GET, "/api/v1/books/autocomplete?q=cien%20a%C3%B1os%20de%20sol", Some(&shop.alice), None)
        .await;
    assert_eq!(suggest.body["data"][0]["text"], "Cien años de soledad");

    // Changes follow: a new title replaces the old, a book taken off sale or deleted goes.
    app.call(
        Method::PUT,
        &format!("/api/v1/books/{rust}"),
        Some(&shop.admin),
        Some(json!({"title": "Rust para todos"})),
    )
    .await;
    app.sync_search().await;
    let renamed = app.call(Method::GET, "/api/v1/books/search?q=rust", Some(&shop.alice), None).await;
    assert_eq!(titles(&renamed.body), vec!["Rust para todos"]);
    app.call(Method::PUT, &format!("/api/v1/books/{rust}"), Some(&shop.admin), Some(json!({"is_active": false}))).await;
    app.sync_search().await;
    let hidden = app.call(Method::GET, "/api/v1/books/search?q=rust", Some(&shop.alice), None).await;
    assert!(titles(&hidden.body).is_empty());
    app.call(Method::PUT, &format!("/api/v1/books/{rust}"), Some(&shop.admin), Some(json!({"is_active": true}))).await;
    app.sync_search().await;
    app.call(Method::DELETE, &format!("/api/v1/books/{rust}"), Some(&shop.admin), None).await;
    app.sync_search().await;
    let gone = app.call(Method::GET, "/api/v1/books/search?q=rust", Some(&shop.alice), None).await;
    assert!(titles(&gone.body).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_stays_inside_the_tokens_tenant() {
    search_stays_inside_the_tokens_tenant_on(TestApp::new().await).await;
}

#[cfg(feature = "elasticsearch")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_stays_inside_the_tokens_tenant_on_elasticsearch() {
    let node = SearchNode::start().await;
    let search = Arc::new(ElasticsearchSearch::at(&node.url));
    search_stays_inside_the_tokens_tenant_on(TestApp::with_search(search).await).await;
}

async fn search_stays_inside_the_tokens_tenant_on(app: TestApp) {
    let a = app.shop("shop-a").await;
    let b = app.shop("shop-b").await;
    add(&app, &a.admin, 1, "Secreto de A", "Autora", "Ficción", 1).await;
    app.sync_search().await;
    let own = app.call(Method::GET, "/search/shop-a/products?q=secreto", Some(&a.alice), None).await;
    assert_eq!(titles(&own.body), vec!["Secreto de A"]);
    let other = app.call(Method::GET, "/api/v1/books/search?q=secreto", Some(&b.alice), None).await;
    assert!(titles(&other.body).is_empty());
    let suggest = app.call(Method::GET, "/api/v1/books/autocomplete?q=secr", Some(&b.alice), None).await;
    assert_eq!(suggest.body["data"], json!([]));
    let foreign_path = app.call(Method::GET, "/search/shop-a/products?q=secreto", Some(&b.alice), None).await;
    assert_eq!(foreign_path.status, StatusCode::FORBIDDEN);
    assert!(!foreign_path.body.to_string().contains("Secreto"));
    let bad_path = app.call(Method::GET, "/search/shop%23a/products", Some(&a.alice), None).await;
    assert_eq!(bad_path.status, StatusCode::BAD_REQUEST);
    let no_token = app.call(Method::GET, "/api/v1/books/search?q=secreto", None, None).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_search_parameters_are_400() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let long = "a".repeat(201);
    for query in [
        format!("q={long}"),
        "fuzzy=maybe".into(),
        "sort=title".into(),
        "author=x".into(),
        "limit=0".into(),
        "cursor=x".into(),
        "min_price=abc".into(),
    ] {
        let reply = app.call(Method::GET, &format!("/api/v1/books/search?{query}"), Some(&shop.alice), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {}", reply.body);
    }
    let reply = app.call(Method::GET, &format!("/api/v1/books/autocomplete?q={long}"), Some(&shop.alice), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_search_shows_customers_their_own_and_admins_the_whole_tenant() {
    purchase_search_shows_customers_their_own_and_admins_the_whole_tenant_on(TestApp::new().await).await;
}

#[cfg(feature = "elasticsearch")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_search_shows_customers_their_own_and_admins_the_whole_tenant_on_elasticsearch() {
    let node = SearchNode::start().await;
    let search = Arc::new(ElasticsearchSearch::at(&node.url));
    purchase_search_shows_customers_their_own_and_admins_the_whole_tenant_on(TestApp::with_search(search).await).await;
}

async fn purchase_search_shows_customers_their_own_and_admins_the_whole_tenant_on(app: TestApp) {
    let shop = app.shop("shop-a").await;
    let other = app.shop("shop-b").await;
    let novel = add(&app, &shop.admin, 1, "Cien años de soledad", "Gabriel García Márquez", "Ficción", 10).await;
    let manual = add(&app, &shop.admin, 2, "Programación en Rust", "Lucía Fernández", "Programación", 10).await;
    let buy = |token: String, book: String, quantity: u32| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/v1/cart/add",
                Some(&token),
                Some(json!({"book_id": book, "quantity": quantity})),
            )
            .await;
            let reply = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&token), Some(json!({}))).await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
    };
    buy(shop.alice.clone(), novel.clone(), 1).await;
    buy(shop.alice.clone(), manual.clone(), 3).await;
    buy(shop.bob.clone(), novel.clone(), 2).await;
    app.sync_search().await;
    let count = |body: &Value| body["pagination"]["total_items"].as_u64().expect("total");

    let alice_all = app.call(Method::GET, "/search/shop-a/purchases", Some(&shop.alice), None).await;
    assert_eq!(count(&alice_all.body), 2, "{}", alice_all.body);
    let alice_novel = app.call(Method::GET, "/search/shop-a/purchases?q=soledad", Some(&shop.alice), None).await;
    assert_eq!(count(&alice_novel.body), 1);
    let bobs_id = app.call(Method::GET, "/api/v1/users/profile", Some(&shop.bob), None).await.body["user_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let peek =
        app.call(Method::GET, &format!("/search/shop-a/purchases?user_id={bobs_id}"), Some(&shop.alice), None).await;
    assert_eq!(peek.status, StatusCode::FORBIDDEN);

    let admin_all = app.call(Method::GET, "/search/shop-a/purchases", Some(&shop.admin), None).await;
    assert_eq!(count(&admin_all.body), 3);
    let times: Vec<&str> =
        admin_all.body["data"].as_array().expect("data").iter().map(|p| p["created_at"].as_str().expect("t")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let bobs =
        app.call(Method::GET, &format!("/search/shop-a/purchases?user_id={bobs_id}"), Some(&shop.admin), None).await;
    assert_eq!(count(&bobs.body), 1);
    let pending = app.call(Method::GET, "/search/shop-a/purchases?status=pending", Some(&shop.admin), None).await;
    assert_eq!(count(&pending.body), 3);
    let shipped = app.call(Method::GET, "/search/shop-a/purchases?status=SHIPPED", Some(&shop.admin), None).await;
    assert_eq!(count(&shipped.body), 0);
    let big = app.call(Method::GET, "/search/shop-a/purchases?min_total=30", Some(&shop.admin), None).await;
    assert_eq!(count(&big.body), 1, "3 × 12.00 + tax is the only one over 30");
    let future =
        app.call(Method::GET, "/search/shop-a/purchases?from=2999-01-01T00:00:00Z", Some(&shop.admin), None).await;
    assert_eq!(count(&future.body), 0);

    let both = app.call(Method::GET, "/search/shop-a?q=soledad", Some(&shop.alice), None).await;
    assert_eq!(both.status, StatusCode::OK);
    assert_eq!(both.body["products"]["data"][0]["title"], "Cien años de soledad");
    assert_eq!(count(&both.body["purchases"]), 1);

    let foreign = app.call(Method::GET, "/search/shop-a/purchases", Some(&other.admin), None).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let elsewhere = app.call(Method::GET, "/search/shop-b/purchases", Some(&other.admin), None).await;
    assert_eq!(count(&elsewhere.body), 0, "tenant B's index has none of A's purchases");
    for bad in ["status=LOST", "from=yesterday", "min_total=-1", "user_id=42"] {
        let reply = app.call(Method::GET, &format!("/search/shop-a/purchases?{bad}"), Some(&shop.admin), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
