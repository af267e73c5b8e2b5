//! Tenant isolation: with a token of tenant B, every route called on tenant A's ids
//! answers 404 or 403 and no response carries anything of A's; A's data is unchanged.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, isbn};

/// A call, the token that makes it, and the statuses it may get.
type Expectation<'a> = (Method, String, Option<serde_json::Value>, &'a str, Vec<StatusCode>);

#[tokio::test]
async fn tenant_b_can_neither_read_nor_change_tenant_a() {
    let app = TestApp::new().await;
    let a = app.shop("shop-a").await;
    let b = app.shop("shop-b").await;
    let a_book = app.book(&a.admin, &isbn(1), "Secreto de A", 5, "10.00").await;
    let a_book_id = a_book["book_id"].as_str().expect("id").to_owned();
    app.call(Method::POST, &format!("/api/v1/users/favorites/{a_book_id}"), Some(&a.alice), None).await;
    app.call(Method::POST, "/api/v1/cart/add", Some(&a.alice), Some(json!({"book_id": a_book_id, "quantity": 1})))
        .await;
    let purchase = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&a.alice), Some(json!({}))).await;
    let a_purchase_id = purchase.body["purchase_id"].as_str().expect("id").to_owned();
    app.call(Method::POST, "/api/v1/cart/add", Some(&a.alice), Some(json!({"book_id": a_book_id, "quantity": 1})))
        .await;

    let secrets = [a_book_id.as_str(), a_purchase_id.as_str(), "Secreto de A", a.alice_id.as_str(), &isbn(1)];
    let calls: Vec<Expectation> = vec![
        (Method::GET, format!("/api/v1/books/{a_book_id}"), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (
            Method::PUT,
            format!("/api/v1/books/{a_book_id}"),
            Some(json!({"stock_quantity": 0})),
            &b.admin,
            vec![StatusCode::NOT_FOUND],
        ),
        (Method::DELETE, format!("/api/v1/books/{a_book_id}"), None, &b.admin, vec![StatusCode::NOT_FOUND]),
        (Method::GET, format!("/api/v1/books/by-isbn/{}", isbn(1)), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (Method::GET, "/api/v1/books".into(), None, &b.alice, vec![StatusCode::OK]),
        (Method::GET, "/api/v1/books/categories".into(), None, &b.alice, vec![StatusCode::OK]),
        (Method::GET, "/api/v1/books/authors".into(), None, &b.alice, vec![StatusCode::OK]),
        (
            Method::GET,
            format!("/api/v1/books/recommendations/{}", a.alice_id),
            None,
            &b.alice,
            vec![StatusCode::FORBIDDEN],
        ),
        (
            Method::GET,
            format!("/api/v1/books/recommendations/{}", a.alice_id),
            None,
            &b.admin,
            vec![StatusCode::NOT_FOUND],
        ),
        (Method::POST, format!("/api/v1/users/favorites/{a_book_id}"), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (Method::DELETE, format!("/api/v1/users/favorites/{a_book_id}"), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (Method::POST, format!("/api/v1/users/wishlist/{a_book_id}"), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (Method::DELETE, format!("/api/v1/users/wishlist/{a_book_id}"), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (Method::GET, "/api/v1/users/favorites".into(), None, &b.alice, vec![StatusCode::OK]),
        (Method::GET, "/api/v1/users/wishlist".into(), None, &b.alice, vec![StatusCode::OK]),
        (Method::GET, "/api/v1/users/profile".into(), None, &b.alice, vec![StatusCode::OK]),
        (
            Method::POST,
            "/api/v1/cart/add".into(),
            Some(json!({"book_id": a_book_id, "quantity": 1})),
            &b.alice,
            vec![StatusCode::NOT_FOUND],
        ),
        (
            Method::PUT,
            format!("/api/v1/cart/update/{a_book_id}"),
            Some(json!({"quantity": 2})),
            &b.alice,
            vec![StatusCode::NOT_FOUND],
        ),
        (Method::DELETE, format!("/api/v1/cart/remove/{a_book_id}"), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (Method::GET, "/api/v1/cart".into(), None, &b.alice, vec![StatusCode::OK]),
        (Method::DELETE, "/api/v1/cart/clear".into(), None, &b.alice, vec![StatusCode::OK]),
        (Method::POST, "/api/v1/purchases/checkout".into(), Some(json!({})), &b.alice, vec![StatusCode::CONFLICT]),
        (Method::GET, format!("/api/v1/purchases/{a_purchase_id}"), None, &b.alice, vec![StatusCode::NOT_FOUND]),
        (Method::GET, format!("/api/v1/purchases/{a_purchase_id}"), None, &b.admin, vec![StatusCode::NOT_FOUND]),
        (Method::GET, "/api/v1/purchases".into(), None, &b.alice, vec![StatusCode::OK]),
        (Method::GET, "/api/v1/purchases/analytics/summary".into(), None, &b.alice, vec![StatusCode::OK]),
    ];
    for (method, path, body, token, expected) in calls {
        let reply = app.call(method.clone(), &path, Some(token), body).await;
        assert!(expected.contains(&reply.status), "{method} {path}: {} {}", reply.status, reply.body);
        let text = reply.body.to_string();
        for secret in secrets {
            assert!(!text.contains(secret), "{method} {path} leaked {secret}: {text}");
        }
    }
    let login_elsewhere = app
        .call_with(
            Method::POST,
            "/api/v1/users/login",
            None,
            Some(json!({"email": "alice@shop-a.test", "password": "password-123"})),
            &[("x-tenant-id", "shop-b")],
        )
        .await;
    assert_eq!(login_elsewhere.status, StatusCode::UNAUTHORIZED);

    let book_now = app.call(Method::GET, &format!("/api/v1/books/{a_book_id}"), Some(&a.alice), None).await;
    assert_eq!(book_now.body["stock_quantity"], 4, "A's book is untouched");
    let cart_now = app.call(Method::GET, "/api/v1/cart", Some(&a.alice), None).await;
    assert_eq!(cart_now.body["items"][0]["quantity"], 1, "A's cart is untouched");
    let favorites = app.call(Method::GET, "/api/v1/users/favorites", Some(&a.alice), None).await;
    assert_eq!(favorites.body["pagination"]["total_items"], 1);
}
