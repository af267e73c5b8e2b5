//! Bad input of every kind gets a 4xx with the error envelope: never a 5xx, a panic
//! or a partial write. (`TestApp::send` fails any test that sees a 5xx or a 4xx
//! without the envelope.)

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bookstore_runtime::domain::{Role, TenantId, UserId};
use serde_json::json;

use crate::support::{TestApp, isbn};

/// Every protected route, with ids that parse.
fn protected_routes(book: &str) -> Vec<(Method, String)> {
    let purchase = uuid::Uuid::now_v7();
    let user = uuid::Uuid::now_v7();
    vec![
        (Method::GET, "/api/v1/users/profile".into()),
        (Method::PUT, "/api/v1/users/profile".into()),
        (Method::PUT, "/api/v1/users/preferences".into()),
        (Method::GET, "/api/v1/users/favorites".into()),
        (Method::POST, format!("/api/v1/users/favorites/{book}")),
        (Method::DELETE, format!("/api/v1/users/favorites/{book}")),
        (Method::GET, "/api/v1/users/wishlist".into()),
        (Method::POST, format!("/api/v1/users/wishlist/{book}")),
        (Method::DELETE, format!("/api/v1/users/wishlist/{book}")),
        (Method::GET, "/api/v1/books".into()),
        (Method::POST, "/api/v1/books".into()),
        (Method::GET, format!("/api/v1/books/{book}")),
        (Method::PUT, format!("/api/v1/books/{book}")),
        (Method::DELETE, format!("/api/v1/books/{book}")),
        (Method::GET, format!("/api/v1/books/by-isbn/{}", isbn(1))),
        (Method::GET, "/api/v1/books/categories".into()),
        (Method::GET, "/api/v1/books/authors".into()),
        (Method::GET, format!("/api/v1/books/recommendations/{user}")),
        (Method::GET, "/api/v1/cart".into()),
        (Method::POST, "/api/v1/cart/add".into()),
        (Method::PUT, format!("/api/v1/cart/update/{book}")),
        (Method::DELETE, format!("/api/v1/cart/remove/{book}")),
        (Method::DELETE, "/api/v1/cart/clear".into()),
        (Method::POST, "/api/v1/purchases/checkout".into()),
        (Method::GET, "/api/v1/purchases".into()),
        (Method::GET, format!("/api/v1/purchases/{purchase}")),
        (Method::GET, "/api/v1/purchases/analytics/summary".into()),
        (Method::GET, "/api/v1/books/search?q=a".into()),
        (Method::GET, "/api/v1/books/autocomplete?q=a".into()),
        (Method::GET, "/search/shop-a/products".into()),
        (Method::GET, "/search/shop-a/purchases".into()),
        (Method::GET, "/search/shop-a".into()),
    ]
}

#[tokio::test]
async fn every_protected_route_refuses_missing_expired_tampered_and_unsigned_tokens() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let book = app.book(&shop.admin, &isbn(1), "Rayuela", 5, "10.00").await["book_id"].as_str().expect("id").to_owned();
    let tenant = TenantId::parse("shop-a").expect("tenant");
    let now = chrono::Utc::now().timestamp();
    let expired = app.state.tokens.issue(UserId::new_v7(), &tenant, Role::Admin, now - 7200);
    let parts: Vec<&str> = shop.admin.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    claims["role"] = json!("admin");
    claims["tenant_id"] = json!("shop-b");
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let hs512 = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#), parts[1], parts[2]);
    let bad_tokens: Vec<Option<String>> = vec![
        None,
        Some(expired),
        Some(tampered),
        Some(unsigned),
        Some(hs512),
        Some("garbage".into()),
        Some("a.b.c".into()),
    ];
    for (method, path) in protected_routes(&book) {
        for token in &bad_tokens {
            let reply = app.call(method.clone(), &path, token.as_deref(), Some(json!({}))).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path} with {token:?}");
        }
    }
    let basic = app
        .send(Request::get("/api/v1/cart").header("authorization", "Basic YTpi").body(Body::empty()).expect("request"))
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn customers_get_403_on_admin_routes_and_nothing_changes() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let book = app.book(&shop.admin, &isbn(1), "Rayuela", 5, "10.00").await["book_id"].as_str().expect("id").to_owned();
    let cases = [
        (
            Method::POST,
            "/api/v1/books".to_owned(),
            json!({"isbn": isbn(2), "title": "T", "author": "A", "category": "C", "price": "1.00", "stock_quantity": 1, "publication_year": 2000}),
        ),
        (Method::PUT, format!("/api/v1/books/{book}"), json!({"stock_quantity": 0})),
        (Method::DELETE, format!("/api/v1/books/{book}"), json!({})),
    ];
    for (method, path, body) in cases {
        let reply = app.call(method.clone(), &path, Some(&shop.alice), Some(body)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let still = app.call(Method::GET, &format!("/api/v1/books/{book}"), Some(&shop.alice), None).await;
    assert_eq!(still.body["stock_quantity"], 5);
}

#[tokio::test]
async fn malformed_bodies_are_4xx() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let send = |body: Body, content_type: &'static str| {
        Request::post("/api/v1/cart/add")
            .header("authorization", format!("Bearer {}", shop.alice))
            .header("content-type", content_type)
            .body(body)
            .expect("request")
    };
    let big = format!("{{\"book_id\": \"{}\", \"pad\": \"{}\"}}", uuid::Uuid::now_v7(), "x".repeat(2 * 1024 * 1024));
    let too_large = app.send(send(Body::from(big), "application/json")).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    let not_utf8 = app.send(send(Body::from(vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']), "application/json")).await;
    assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST);
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep = app.send(send(Body::from(nested), "application/json")).await;
    assert!(deep.status.is_client_error(), "{}", deep.status);
    let deep_object = format!("{{\"book_id\": {}1{}}}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let deep = app.send(send(Body::from(deep_object), "application/json")).await;
    assert!(deep.status.is_client_error());
    let truncated = app.send(send(Body::from("{\"book_id\": "), "application/json")).await;
    assert_eq!(truncated.status, StatusCode::BAD_REQUEST);
    let wrong_type = app.send(send(Body::from("{}"), "text/plain")).await;
    assert!(wrong_type.status.is_client_error());
    let unknown_field = app
        .call(
            Method::POST,
            "/api/v1/cart/add",
            Some(&shop.alice),
            Some(json!({"book_id": uuid::Uuid::now_v7(), "quantity": 1, "price": "0.01"})),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown_field.body["error"]["message"].as_str().expect("message").contains("price"));
}

#[tokio::test]
async fn ids_with_separators_or_garbage_never_reach_a_key() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let book = app.book(&shop.admin, &isbn(1), "Rayuela", 5, "10.00").await["book_id"].as_str().expect("id").to_owned();
    let forged = [
        format!("{book}%23BOOK%23{}", isbn(1)),
        "shop-a%23x".to_owned(),
        "..%2F..%2Fetc".to_owned(),
        "%00".to_owned(),
        "x".repeat(300),
    ];
    for id in &forged {
        for path in [
            format!("/api/v1/books/{id}"),
            format!("/api/v1/users/favorites/{id}"),
            format!("/api/v1/cart/update/{id}"),
            format!("/api/v1/purchases/{id}"),
            format!("/api/v1/books/recommendations/{id}"),
        ] {
            let method = if path.contains("favorites") {
                Method::POST
            } else if path.contains("cart") {
                Method::PUT
            } else {
                Method::GET
            };
            let reply = app.call(method, &path, Some(&shop.alice), Some(json!({"quantity": 1}))).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {}", reply.body);
            assert_eq!(reply.code(), "invalid_path");
        }
    }
    let isbn_forged = app.call(Method::GET, "/api/v1/books/by-isbn/978%23x", Some(&shop.alice), None).await;
    assert_eq!(isbn_forged.status, StatusCode::BAD_REQUEST);
    let bad_checksum = app.call(Method::GET, "/api/v1/books/by-isbn/9788437604948", Some(&shop.alice), None).await;
    assert_eq!(bad_checksum.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_routes_methods_and_bad_idempotency_keys_use_the_envelope() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let missing = app.call(Method::GET, "/api/v1/nothing", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let wrong_method = app.call(Method::PATCH, "/api/v1/cart", Some(&shop.alice), None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.code(), "method_not_allowed");
    let long_key = "k".repeat(300);
    let reply = app
        .call_with(
            Method::POST,
            "/api/v1/purchases/checkout",
            Some(&shop.alice),
            Some(json!({})),
            &[("idempotency-key", &long_key)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_tenant_rate_limit_answers_429_with_retry_after() {
    let mut config = bookstore_runtime::config::RuntimeConfig::for_tests();
    config.rate_limits.read = bookstore_runtime::config::RateLimit { per_second: 1, burst: 3 };
    let app = TestApp::with_config(config).await;
    let shop = app.shop("shop-a").await;
    // 3 per 3-second window: 7 calls meet a refusal even when a window ends among them.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(app.call(Method::GET, "/api/v1/cart", Some(&shop.alice), None).await);
    }
    let limited = statuses.iter().find(|r| r.status == StatusCode::TOO_MANY_REQUESTS).expect("a 429");
    assert_eq!(limited.code(), "rate_limited");
    let wait: u64 = limited.headers["retry-after"].to_str().expect("text").parse().expect("whole seconds");
    assert!((1..=3).contains(&wait), "retry after the window ends, not later: {wait}");
    let writes = app.call(Method::DELETE, "/api/v1/cart/clear", Some(&shop.alice), None).await;
    assert_eq!(writes.status, StatusCode::OK, "writes have their own budget");
    app.add_tenant("shop-b").await;
    let (other, _) = app.user("shop-b", "x@shop-b.test", Role::Customer).await;
    let other_tenant = app.call(Method::GET, "/api/v1/cart", Some(&other), None).await;
    assert_eq!(other_tenant.status, StatusCode::OK, "tenants have separate budgets");
}

#[tokio::test]
async fn cors_allows_only_the_stage_origins() {
    let app = TestApp::new().await;
    let preflight = |origin: &'static str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/books")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .expect("request")
    };
    let allowed = app.send(preflight("http://localhost:5173")).await;
    assert_eq!(
        allowed.headers.get("access-control-allow-origin").map(|v| v.as_bytes()),
        Some(&b"http://localhost:5173"[..])
    );
    let allows = |name: &str| allowed.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(allows("access-control-allow-methods").contains("PUT"), "{:?}", allowed.headers);
    assert!(allows("access-control-allow-headers").contains("authorization"));
    assert!(allows("access-control-allow-headers").contains("idempotency-key"));
    assert_eq!(allows("access-control-max-age"), "600");
    let refused = app.send(preflight("https://evil.example")).await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    assert!(refused.headers.get("access-control-allow-methods").is_none());

    let simple = |origin: Option<&'static str>| {
        let mut request = Request::builder().method(Method::GET).uri("/health");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(Body::empty()).expect("request")
    };
    let from_app = app.send(simple(Some("http://localhost:5173"))).await;
    assert_eq!(from_app.status, StatusCode::OK);
    assert_eq!(
        from_app.headers.get("access-control-allow-origin").map(|v| v.as_bytes()),
        Some(&b"http://localhost:5173"[..])
    );
    let exposed = from_app.headers.get("access-control-expose-headers").and_then(|v| v.to_str().ok());
    assert!(exposed.is_some_and(|v| v.contains("x-request-id") && v.contains("retry-after")), "{exposed:?}");
    for other in [simple(Some("https://evil.example")), simple(None)] {
        let answer = app.send(other).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.headers.get("access-control-allow-origin").is_none());
        let vary = answer.headers.get("vary").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(vary.contains("origin"), "a cache must not serve one origin's answer to another: {vary}");
    }
}
