//! Rate budgets through the API: a tenant's limit held across two instances on one
//! DynamoDB, password guessing and registration floods slowed per account and per client
//! address while the shop's other customers go on. The address comes in the request's
//! `ClientAddress` extension, as the Lambda adapter puts API Gateway's source IP there.

use std::net::IpAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bookstore_runtime::config::{AttemptLimit, RateLimit, RuntimeConfig};
use bookstore_runtime::domain::{Email, TenantId};
use bookstore_runtime::limits::ClientAddress;
use bookstore_runtime::store::{Table, keys};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

const ATTACKER: [u8; 4] = [203, 0, 113, 7];
const NEIGHBOUR: [u8; 4] = [198, 51, 100, 20];

async fn from(app: &TestApp, address: [u8; 4], path: &str, tenant: &str, body: Value) -> Reply {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("x-tenant-id", tenant)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    request.extensions_mut().insert(ClientAddress(Some(IpAddr::from(address))));
    app.send(request).await
}

fn retry_after(reply: &Reply) -> u64 {
    let header = reply.headers.get("retry-after").expect("a 429 says when to retry");
    header.to_str().expect("text").parse().expect("whole seconds")
}

/// Ten failures per account, a shop ceiling of 30 sign-ins per window: if refused
/// guesses spent the shop's budget, the neighbour could not sign in.
fn guarded() -> RuntimeConfig {
    let mut config = RuntimeConfig::for_tests();
    config.rate_limits.auth = RateLimit { per_second: 1, burst: 30 };
    config.rate_limits.sign_in_per_account = AttemptLimit { attempts: 10, window_seconds: 300 };
    config.rate_limits.sign_in_per_address = AttemptLimit { attempts: 30, window_seconds: 300 };
    config.rate_limits.registrations_per_address = AttemptLimit { attempts: 5, window_seconds: 3600 };
    config
}

async fn password_guessing_slows_the_guesser_only(app: &TestApp) {
    app.add_tenant("shop-a").await;
    let victim = json!({"email": "alice@shop-a.test", "password": "alice-password", "first_name": "Alice"});
    let registered = from(app, [192, 0, 2, 1], "/api/v1/users/register", "shop-a", victim).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
    let neighbour = json!({"email": "bob@shop-a.test", "password": "bob-password", "first_name": "Bob"});
    let registered = from(app, NEIGHBOUR, "/api/v1/users/register", "shop-a", neighbour).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
    let neighbour = json!({"email": "bob@shop-a.test", "password": "bob-password"});

    let mut wrong = 0;
    let mut slowed = Vec::new();
    for n in 0..50 {
        let guess = json!({"email": "alice@shop-a.test", "password": format!("guess-{n}")});
        let reply = from(app, ATTACKER, "/api/v1/users/login", "shop-a", guess).await;
        match reply.status {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => slowed.push(reply),
            other => panic!("a guess answers 401 or 429, not {other}: {}", reply.body),
        }
    }
    // Ten per window; the test may straddle one window's end, never two.
    assert!((10..=20).contains(&wrong), "{wrong} guesses were checked");
    assert!(slowed.len() >= 30, "only {} of 50 guesses were slowed", slowed.len());
    for reply in &slowed {
        assert_eq!(reply.code(), "rate_limited");
        assert!((1..=300).contains(&retry_after(reply)), "{:?}", reply.headers);
    }

    let signed_in = from(app, NEIGHBOUR, "/api/v1/users/login", "shop-a", neighbour).await;
    assert_eq!(signed_in.status, StatusCode::OK, "another customer from another address: {}", signed_in.body);
}

/// Three failures per address: a client trying one password on many accounts is slowed
/// by its address, while five customers signing in from one shared address are not.
async fn an_address_is_slowed_by_its_failures_not_its_customers(app: &TestApp) {
    app.add_tenant("shop-s").await;
    within_one_window(300_000, Duration::from_secs(20)).await;
    let mut customers = Vec::new();
    for n in 0..5u8 {
        let email = format!("customer-{n}@shop-s.test");
        let body = json!({"email": email, "password": "right-password", "first_name": "Customer"});
        let reply = from(app, [192, 0, 2, n], "/api/v1/users/register", "shop-s", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        customers.push(email);
    }
    for email in &customers {
        let reply = from(
            app,
            NEIGHBOUR,
            "/api/v1/users/login",
            "shop-s",
            json!({"email": email, "password": "right-password"}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "successes do not spend the address: {}", reply.body);
    }
    for (n, email) in customers.iter().enumerate() {
        let stuffed = json!({"email": email, "password": "leaked-password"});
        let reply = from(app, ATTACKER, "/api/v1/users/login", "shop-s", stuffed).await;
        let expected = if n < 3 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(reply.status, expected, "attempt {n}: {}", reply.body);
    }
    let reply = from(
        app,
        NEIGHBOUR,
        "/api/v1/users/login",
        "shop-s",
        json!({"email": customers[4], "password": "right-password"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "the customers' address is not the attacker's: {}", reply.body);
}

async fn registration_floods_are_slowed_and_leave_nothing(app: &TestApp) {
    app.add_tenant("shop-r").await;
    let tenant = TenantId::parse("shop-r").expect("tenant");
    let (mut created, mut slowed) = (Vec::new(), Vec::new());
    for n in 0..20 {
        let email = format!("flood-{n}@shop-r.test");
        let body = json!({"email": email, "password": "flood-password", "first_name": "Flood"});
        let reply = from(app, ATTACKER, "/api/v1/users/register", "shop-r", body).await;
        match reply.status {
            StatusCode::CREATED => created.push(email),
            StatusCode::TOO_MANY_REQUESTS => {
                assert!((1..=3600).contains(&retry_after(&reply)));
                slowed.push(email);
            }
            other => panic!("a registration answers 201 or 429, not {other}: {}", reply.body),
        }
    }
    assert_eq!(created.len(), 5, "five registrations per address and hour");
    assert_eq!(slowed.len(), 15);
    for email in &slowed {
        let claim = keys::email_claim(&tenant, &Email::parse(email).expect("email"));
        let stored = app.store.get(Table::Users, &claim).await.expect("read");
        assert_eq!(stored, None, "a refused registration claimed {email}");
        let login = json!({"email": email, "password": "flood-password"});
        let reply = from(app, NEIGHBOUR, "/api/v1/users/login", "shop-r", login).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{email} has no account");
    }
    let later = json!({"email": slowed[0], "password": "flood-password", "first_name": "Later"});
    let reply = from(app, NEIGHBOUR, "/api/v1/users/register", "shop-r", later).await;
    assert_eq!(reply.status, StatusCode::CREATED, "the refused e-mail is free: {}", reply.body);
}

#[tokio::test]
async fn password_guessing_is_slowed_per_account_while_the_shop_signs_in() {
    password_guessing_slows_the_guesser_only(&TestApp::with_config(guarded()).await).await;
}

fn three_failures_per_address() -> RuntimeConfig {
    let mut config = guarded();
    config.rate_limits.sign_in_per_address = AttemptLimit { attempts: 3, window_seconds: 300 };
    config
}

#[tokio::test]
async fn an_address_is_slowed_by_its_failed_sign_ins_only() {
    an_address_is_slowed_by_its_failures_not_its_customers(&TestApp::with_config(three_failures_per_address()).await)
        .await;
}

#[tokio::test]
async fn registration_floods_from_one_address_are_slowed_and_half_create_nothing() {
    registration_floods_are_slowed_and_leave_nothing(&TestApp::with_config(guarded()).await).await;
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_registration_limits_hold_on_dynamodb() {
    let Some(app) = TestApp::on_dynamodb_with(guarded()).await else { return };
    password_guessing_slows_the_guesser_only(&app).await;
    registration_floods_are_slowed_and_leave_nothing(&app).await;
    let Some(app) = TestApp::on_dynamodb_with(three_failures_per_address()).await else { return };
    an_address_is_slowed_by_its_failures_not_its_customers(&app).await;
}

/// Waits, when the current window of `window_ms` has less than `needed` left, for the
/// next one: a count compared with a budget must fall in one window.
async fn within_one_window(window_ms: u64, needed: Duration) {
    let now = bookstore_runtime::limits::now_ms();
    let left = window_ms - now % window_ms;
    if u128::from(left) < needed.as_millis() {
        tokio::time::sleep(Duration::from_millis(left + 5)).await;
    }
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_dynamodb_enforce_one_tenant_limit() {
    let mut config = RuntimeConfig::for_tests();
    config.rate_limits.read = RateLimit { per_second: 1, burst: 20 };
    let Some(app) = TestApp::on_dynamodb_with(config).await else { return };
    let shop = app.shop("shop-a").await;
    let second = app.another_instance().await;
    within_one_window(20_000, Duration::from_secs(12)).await;
    let mut answered = Vec::new();
    for n in 0..30 {
        let instance = if n % 2 == 0 { &app } else { &second };
        answered.push(instance.call(Method::GET, "/api/v1/cart", Some(&shop.alice), None).await.status);
    }
    let admitted = answered.iter().filter(|status| **status == StatusCode::OK).count();
    let refused = answered.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((admitted, refused), (20, 10), "one budget of 20 between both instances: {answered:?}");
    second.add_tenant("shop-b").await;
    let (other, _) = second.user("shop-b", "x@shop-b.test", bookstore_runtime::domain::Role::Customer).await;
    let reply = app.call(Method::GET, "/api/v1/cart", Some(&other), None).await;
    assert_eq!(reply.status, StatusCode::OK, "another tenant's budget is its own");
}
