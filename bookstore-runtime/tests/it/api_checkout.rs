//! Cart and checkout: totals computed here, stock never oversold, retries idempotent.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use bookstore_runtime::domain::Role;
use bookstore_runtime::orders::MAX_CART_LINES;
use serde_json::json;

use crate::support::{TestApp, isbn};

#[tokio::test]
async fn cart_lines_add_update_remove_and_clear() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let book = app.book(&shop.admin, &isbn(1), "Rayuela", 5, "10.00").await;
    let id = book["book_id"].as_str().expect("id");
    let added = app
        .call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 2})))
        .await;
    assert_eq!(added.status, StatusCode::OK);
    let again = app
        .call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 1})))
        .await;
    assert_eq!(again.body["items"][0]["quantity"], 3, "adding the same book adds to its line");
    assert_eq!(again.body["subtotal"], "30.00");
    assert_eq!(again.body["tax"], "1.20");
    assert_eq!(again.body["total"], "31.20");
    let too_many = app
        .call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 3})))
        .await;
    assert_eq!(too_many.status, StatusCode::CONFLICT);
    assert_eq!(too_many.code(), "insufficient_stock");
    let updated = app
        .call(Method::PUT, &format!("/api/v1/cart/update/{id}"), Some(&shop.alice), Some(json!({"quantity": 1})))
        .await;
    assert_eq!(updated.body["items"][0]["quantity"], 1);
    let not_in_cart = app
        .call(
            Method::PUT,
            &format!("/api/v1/cart/update/{}", uuid::Uuid::now_v7()),
            Some(&shop.alice),
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(not_in_cart.status, StatusCode::NOT_FOUND);
    let bobs = app.call(Method::GET, "/api/v1/cart", Some(&shop.bob), None).await;
    assert_eq!(bobs.body["items"], json!([]), "carts are per user");
    let removed = app.call(Method::DELETE, &format!("/api/v1/cart/remove/{id}"), Some(&shop.alice), None).await;
    assert_eq!(removed.body["items"], json!([]));
    let removed_twice = app.call(Method::DELETE, &format!("/api/v1/cart/remove/{id}"), Some(&shop.alice), None).await;
    assert_eq!(removed_twice.status, StatusCode::NOT_FOUND);
    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 1}))).await;
    let cleared = app.call(Method::DELETE, "/api/v1/cart/clear", Some(&shop.alice), None).await;
    assert_eq!(cleared.body["item_count"], 0);
}

#[tokio::test]
async fn quantities_must_be_whole_numbers_from_1_to_99() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let id = app.book(&shop.admin, &isbn(1), "Rayuela", 500, "10.00").await["book_id"].clone();
    for quantity in [json!(0), json!(-1), json!(1.5), json!(100), json!("2"), json!(null), json!(1e9)] {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/cart/add",
                Some(&shop.alice),
                Some(json!({"book_id": id, "quantity": quantity})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{quantity}");
        assert!(reply.body["error"]["message"].as_str().expect("message").contains("quantity"));
    }
    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 99}))).await;
    let over = app
        .call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 1})))
        .await;
    assert_eq!(over.status, StatusCode::CONFLICT, "a line holds at most 99");
}

#[tokio::test]
async fn a_cart_refuses_more_lines_than_one_checkout_transaction_holds() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    for n in 0..=MAX_CART_LINES {
        let id = app.book(&shop.admin, &isbn(n as u64), &format!("Libro {n}"), 5, "1.00").await["book_id"].clone();
        let reply = app
            .call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 1})))
            .await;
        if n < MAX_CART_LINES {
            assert_eq!(reply.status, StatusCode::OK);
        } else {
            assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
        }
    }
    let checkout = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
    assert_eq!(checkout.status, StatusCode::CREATED, "a full cart still checks out in one transaction");
    assert_eq!(checkout.body["items"].as_array().expect("items").len(), MAX_CART_LINES);
}

#[tokio::test]
async fn checkout_prices_taxes_decrements_stock_and_clears_the_cart() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let a = app.book(&shop.admin, &isbn(1), "Rayuela", 5, "10.99").await["book_id"].clone();
    let b = app.book(&shop.admin, &isbn(2), "Ficciones", 2, "7.45").await["book_id"].clone();
    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": a, "quantity": 3}))).await;
    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": b, "quantity": 2}))).await;
    let address =
        json!({"name": "Alicia", "line1": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "country": "ES"});
    let reply = app
        .call(
            Method::POST,
            "/api/v1/purchases/checkout",
            Some(&shop.alice),
            Some(json!({"payment_method": "paypal", "shipping_address": address})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let purchase = &reply.body;
    assert_eq!(purchase["status"], "PENDING");
    assert_eq!(purchase["subtotal"], "47.87");
    assert_eq!(purchase["tax"], "1.91", "4 % of 47.87 = 1.9148, rounded half away from zero");
    assert_eq!(purchase["total_amount"], "49.78");
    assert_eq!(purchase["payment_method"], "paypal");
    let stock_a =
        app.call(Method::GET, &format!("/api/v1/books/{}", a.as_str().expect("id")), Some(&shop.alice), None).await;
    assert_eq!(stock_a.body["stock_quantity"], 2);
    let cart = app.call(Method::GET, "/api/v1/cart", Some(&shop.alice), None).await;
    assert_eq!(cart.body["items"], json!([]));

    let id = purchase["purchase_id"].as_str().expect("id");
    let read = app.call(Method::GET, &format!("/api/v1/purchases/{id}"), Some(&shop.alice), None).await;
    assert_eq!(read.body, *purchase);
    let listed = app.call(Method::GET, "/api/v1/purchases?status=pending", Some(&shop.alice), None).await;
    assert_eq!(listed.body["pagination"]["total_items"], 1);
    let none = app.call(Method::GET, "/api/v1/purchases?status=SHIPPED", Some(&shop.alice), None).await;
    assert_eq!(none.body["pagination"]["total_items"], 0);
    let bad_status = app.call(Method::GET, "/api/v1/purchases?status=LOST", Some(&shop.alice), None).await;
    assert_eq!(bad_status.status, StatusCode::BAD_REQUEST);
    let summary = app.call(Method::GET, "/api/v1/purchases/analytics/summary", Some(&shop.alice), None).await;
    assert_eq!(summary.body["purchase_count"], 1);
    assert_eq!(summary.body["total_spent"], "49.78");
    assert_eq!(summary.body["items_bought"], 5);

    let empty = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
    assert_eq!(empty.status, StatusCode::CONFLICT);
    assert_eq!(empty.code(), "cart_empty");
}

#[tokio::test]
async fn checkout_with_stale_stock_is_409_naming_the_book_and_writes_nothing() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let plenty = app.book(&shop.admin, &isbn(1), "Rayuela", 5, "10.00").await["book_id"].clone();
    let scarce = app.book(&shop.admin, &isbn(2), "Ficciones", 2, "10.00").await;
    let scarce_id = scarce["book_id"].as_str().expect("id");
    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": plenty, "quantity": 1})))
        .await;
    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": scarce_id, "quantity": 2})))
        .await;
    app.call(Method::PUT, &format!("/api/v1/books/{scarce_id}"), Some(&shop.admin), Some(json!({"stock_quantity": 1})))
        .await;
    let reply = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "insufficient_stock");
    assert!(reply.body["error"]["message"].as_str().expect("message").contains("Ficciones"));
    let plenty_now = app
        .call(Method::GET, &format!("/api/v1/books/{}", plenty.as_str().expect("id")), Some(&shop.alice), None)
        .await;
    assert_eq!(plenty_now.body["stock_quantity"], 5, "no stock was taken");
    let cart = app.call(Method::GET, "/api/v1/cart", Some(&shop.alice), None).await;
    assert_eq!(cart.body["items"].as_array().expect("items").len(), 2, "the cart is intact");
    let purchases = app.call(Method::GET, "/api/v1/purchases", Some(&shop.alice), None).await;
    assert_eq!(purchases.body["pagination"]["total_items"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_checkouts_for_the_last_copy_sell_it_once() {
    last_copy_sells_once(Arc::new(TestApp::new().await)).await;
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_fifty_concurrent_checkouts_for_the_last_copy_sell_it_once() {
    let Some(app) = TestApp::on_dynamodb().await else { return };
    last_copy_sells_once(Arc::new(app)).await;
}

async fn last_copy_sells_once(app: Arc<TestApp>) {
    let shop = app.shop("shop-a").await;
    let book = app.book(&shop.admin, &isbn(1), "El último ejemplar", 1, "10.00").await;
    let id = book["book_id"].as_str().expect("id").to_owned();
    let mut buyers = Vec::new();
    for n in 0..50 {
        let (token, _) = app.user("shop-a", &format!("buyer{n}@shop-a.test"), Role::Customer).await;
        let reply =
            app.call(Method::POST, "/api/v1/cart/add", Some(&token), Some(json!({"book_id": id, "quantity": 1}))).await;
        assert_eq!(reply.status, StatusCode::OK);
        buyers.push(token);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for token in buyers {
        let app = Arc::clone(&app);
        tasks.spawn(async move {
            app.call(Method::POST, "/api/v1/purchases/checkout", Some(&token), Some(json!({}))).await.status
        });
    }
    let mut created = 0;
    let mut conflicts = 0;
    while let Some(status) = tasks.join_next().await {
        match status.expect("task") {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    let after = app.call(Method::GET, &format!("/api/v1/books/{id}"), Some(&shop.admin), None).await;
    assert_eq!(after.body["stock_quantity"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_adds_of_one_book_lose_no_copy() {
    racing_adds_count_every_copy(Arc::new(TestApp::new().await)).await;
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_racing_adds_of_one_book_lose_no_copy() {
    let Some(app) = TestApp::on_dynamodb().await else { return };
    racing_adds_count_every_copy(Arc::new(app)).await;
}

/// Cart add reads the cart a moment behind and writes on condition: racing adds of one
/// book each land (the loser reads again) or say the cart changed, and the line holds
/// exactly the copies of the adds that landed.
async fn racing_adds_count_every_copy(app: Arc<TestApp>) {
    let shop = app.shop("shop-a").await;
    let id = app.book(&shop.admin, &isbn(1), "Rayuela", 90, "10.00").await["book_id"].clone();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, token, id) = (Arc::clone(&app), shop.alice.clone(), id.clone());
        tasks.spawn(async move {
            let reply = app
                .call(Method::POST, "/api/v1/cart/add", Some(&token), Some(json!({"book_id": id, "quantity": 1})))
                .await;
            let code = (reply.status != StatusCode::OK).then(|| reply.code().to_owned());
            (reply.status, code)
        });
    }
    let mut landed = 0;
    while let Some(outcome) = tasks.join_next().await {
        match outcome.expect("task") {
            (StatusCode::OK, _) => landed += 1,
            (StatusCode::CONFLICT, code) => assert_eq!(code.as_deref(), Some("cart_changed")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(landed >= 2, "a stale read is retried from the latest cart, so more than one add lands: {landed}");
    let cart = app.call(Method::GET, "/api/v1/cart", Some(&shop.alice), None).await;
    assert_eq!(cart.body["items"][0]["quantity"], landed, "{}", cart.body);
    assert_eq!(cart.body["item_count"], landed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_retries_with_one_idempotency_key_make_one_purchase() {
    one_key_makes_one_purchase(Arc::new(TestApp::new().await)).await;
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_ten_concurrent_retries_with_one_idempotency_key_make_one_purchase() {
    let Some(app) = TestApp::on_dynamodb().await else { return };
    one_key_makes_one_purchase(Arc::new(app)).await;
}

async fn one_key_makes_one_purchase(app: Arc<TestApp>) {
    let shop = app.shop("shop-a").await;
    let id = app.book(&shop.admin, &isbn(1), "Rayuela", 50, "10.00").await["book_id"].clone();
    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": id, "quantity": 2}))).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (app, token) = (Arc::clone(&app), shop.alice.clone());
        tasks.spawn(async move {
            app.call_with(
                Method::POST,
                "/api/v1/purchases/checkout",
                Some(&token),
                Some(json!({})),
                &[("idempotency-key", "order-42")],
            )
            .await
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("task");
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.insert(reply.body["purchase_id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 1, "every retry returns the same purchase");
    let purchases = app.call(Method::GET, "/api/v1/purchases", Some(&shop.alice), None).await;
    assert_eq!(purchases.body["pagination"]["total_items"], 1);
    let book =
        app.call(Method::GET, &format!("/api/v1/books/{}", id.as_str().expect("id")), Some(&shop.alice), None).await;
    assert_eq!(book.body["stock_quantity"], 48, "stock taken once");
    let replay = app
        .call_with(
            Method::POST,
            "/api/v1/purchases/checkout",
            Some(&shop.alice),
            Some(json!({})),
            &[("idempotency-key", "order-42")],
        )
        .await;
    assert_eq!(replay.headers.get("idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    let different = app
        .call_with(
            Method::POST,
            "/api/v1/purchases/checkout",
            Some(&shop.alice),
            Some(json!({"payment_method": "paypal"})),
            &[("idempotency-key", "order-42")],
        )
        .await;
    assert_eq!(different.status, StatusCode::CONFLICT);
    assert_eq!(different.code(), "idempotency_key_reused");
    let bob_same_key = app
        .call_with(
            Method::POST,
            "/api/v1/purchases/checkout",
            Some(&shop.bob),
            Some(json!({})),
            &[("idempotency-key", "order-42")],
        )
        .await;
    assert_eq!(bob_same_key.code(), "cart_empty", "keys are per user: bob's is new");
}

#[tokio::test]
async fn a_cart_overfilled_by_racing_adds_is_refused_at_checkout_without_a_5xx() {
    use bookstore_runtime::domain::{BookId, CartLine, Quantity, TenantId, UserId};
    use bookstore_runtime::store::{Table, keys, record_item};
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let tenant = TenantId::parse("shop-a").expect("tenant");
    let user = UserId::parse(&shop.alice_id).expect("user");
    for n in 0..=MAX_CART_LINES {
        let book = BookId::parse(
            app.book(&shop.admin, &isbn(n as u64), &format!("Libro {n}"), 5, "1.00").await["book_id"]
                .as_str()
                .expect("id"),
        )
        .expect("id");
        let now = chrono::Utc::now();
        let line = CartLine {
            tenant_id: tenant.clone(),
            user_id: user,
            book_id: book,
            isbn: None,
            quantity: Quantity::new(1).expect("q"),
            added_at: now,
            updated_at: now,
        };
        let item = record_item(&line, &keys::cart_line(&tenant, &user, &book), &[]).expect("item");
        app.store.put(Table::ShoppingCart, item, None).await.expect("line written behind the API's back");
    }
    let reply = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "cart_too_large");
}

#[tokio::test]
async fn a_cart_line_written_before_lines_kept_their_isbn_still_checks_out() {
    use bookstore_runtime::domain::{BookId, CartLine, Quantity, TenantId, UserId};
    use bookstore_runtime::store::{Table, keys, record_item};
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let tenant = TenantId::parse("shop-a").expect("tenant");
    let user = UserId::parse(&shop.alice_id).expect("user");
    let old = app.book(&shop.admin, &isbn(1), "Pedro Páramo", 5, "12.00").await;
    let new = app.book(&shop.admin, &isbn(2), "Ficciones", 5, "8.00").await;
    let old_id = BookId::parse(old["book_id"].as_str().expect("id")).expect("id");
    let now = chrono::Utc::now();
    let line = CartLine {
        tenant_id: tenant.clone(),
        user_id: user,
        book_id: old_id,
        isbn: None,
        quantity: Quantity::new(2).expect("q"),
        added_at: now,
        updated_at: now,
    };
    let item = record_item(&line, &keys::cart_line(&tenant, &user, &old_id), &[]).expect("item");
    app.store.put(Table::ShoppingCart, item, None).await.expect("an old line");
    let added = app
        .call(
            Method::POST,
            "/api/v1/cart/add",
            Some(&shop.alice),
            Some(json!({"book_id": new["book_id"], "quantity": 1})),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK);
    let cart = app.call(Method::GET, "/api/v1/cart", Some(&shop.alice), None).await;
    assert_eq!(cart.body["subtotal"], "32.00", "{}", cart.body);
    let reply = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["subtotal"], "32.00");
}
