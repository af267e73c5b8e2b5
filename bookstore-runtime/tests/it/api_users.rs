//! `/api/v1/users`: registration, sign-in, tokens, profile, preferences, lists.

use axum::http::{Method, StatusCode};
use bookstore_runtime::domain::Role;
use bookstore_runtime::store::{Condition, Item, Key, Query, QueryPage, StoreError, Table, UpdateAction, WriteAction};
use serde_json::json;

use crate::support::{TestApp, isbn};

#[tokio::test]
async fn register_then_login_returns_tokens_for_the_header_tenant() {
    let app = TestApp::new().await;
    app.add_tenant("shop-a").await;
    let body = json!({"email": "Ana@Example.com", "password": "correct-horse", "first_name": "Ana"});
    let reply = app
        .call_with(Method::POST, "/api/v1/users/register", None, Some(body.clone()), &[("x-tenant-id", "shop-a")])
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["user"]["email"], "ana@example.com");
    assert_eq!(reply.body["user"]["role"], "customer");
    assert!(reply.body["user"].get("password_hash").is_none(), "the hash never leaves");
    assert_eq!(reply.body["expires_in"], 3600);

    let again =
        app.call_with(Method::POST, "/api/v1/users/register", None, Some(body), &[("x-tenant-id", "shop-a")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "email_taken");

    let login = app
        .call_with(
            Method::POST,
            "/api/v1/users/login",
            None,
            Some(json!({"email": "ana@example.com", "password": "correct-horse"})),
            &[("x-tenant-id", "shop-a")],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.body["token"].as_str().expect("token");
    let profile = app.call(Method::GET, "/api/v1/users/profile", Some(token), None).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.body["tenant_id"], "shop-a");

    let check = app.call(Method::POST, "/api/v1/users/validate-token", None, Some(json!({"token": token}))).await;
    assert_eq!(check.status, StatusCode::OK);
    assert_eq!(check.body["claims"]["tenant_id"], "shop-a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_registrations_of_one_email_make_one_account() {
    one_email_one_account(TestApp::new().await).await;
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_twenty_concurrent_registrations_of_one_email_make_one_account() {
    let Some(app) = TestApp::on_dynamodb().await else { return };
    one_email_one_account(app).await;
}

async fn one_email_one_account(app: TestApp) {
    let app = std::sync::Arc::new(app);
    app.add_tenant("shop-a").await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let app = app.clone();
        tasks.spawn(async move {
            let body =
                json!({"email": "race@example.com", "password": format!("password-{n:03}"), "first_name": "Ana"});
            app.call_with(Method::POST, "/api/v1/users/register", None, Some(body), &[("x-tenant-id", "shop-a")]).await
        });
    }
    let (mut created, mut taken) = (Vec::new(), 0);
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("task");
        match reply.status {
            StatusCode::CREATED => created.push(reply.body["user"]["user_id"].clone()),
            StatusCode::CONFLICT => {
                assert_eq!(reply.code(), "email_taken");
                taken += 1;
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!((created.len(), taken), (1, 19));
    // The winner signs in at once, whatever the e-mail index shows yet.
    let winners: Vec<String> = (0..20).map(|n| format!("password-{n:03}")).collect();
    let mut signed_in = 0;
    for password in winners {
        let login = app
            .call_with(
                Method::POST,
                "/api/v1/users/login",
                None,
                Some(json!({"email": "race@example.com", "password": password})),
                &[("x-tenant-id", "shop-a")],
            )
            .await;
        if login.status == StatusCode::OK {
            assert_eq!(login.body["user"]["user_id"], created[0]);
            signed_in += 1;
        }
    }
    assert_eq!(signed_in, 1, "exactly the winner's password signs in");
}

#[tokio::test]
async fn the_same_email_may_register_in_two_tenants() {
    let app = TestApp::new().await;
    app.add_tenant("shop-a").await;
    app.add_tenant("shop-b").await;
    for tenant in ["shop-a", "shop-b"] {
        let body = json!({"email": "same@example.com", "password": "correct-horse", "first_name": "Same"});
        let reply =
            app.call_with(Method::POST, "/api/v1/users/register", None, Some(body), &[("x-tenant-id", tenant)]).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn login_failures_do_not_say_which_part_was_wrong() {
    let app = TestApp::new().await;
    app.add_tenant("shop-a").await;
    app.user("shop-a", "ana@example.com", Role::Customer).await;
    for body in [
        json!({"email": "ana@example.com", "password": "wrong-password"}),
        json!({"email": "nobody@example.com", "password": "password-123"}),
    ] {
        let reply =
            app.call_with(Method::POST, "/api/v1/users/login", None, Some(body), &[("x-tenant-id", "shop-a")]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"]["message"], "email or password is wrong");
    }
    let other_shop = app
        .call_with(
            Method::POST,
            "/api/v1/users/login",
            None,
            Some(json!({"email": "ana@example.com", "password": "password-123"})),
            &[("x-tenant-id", "shop-b")],
        )
        .await;
    assert_eq!(other_shop.status, StatusCode::NOT_FOUND, "unknown tenant");
}

#[tokio::test]
async fn register_needs_a_valid_existing_tenant_header() {
    let app = TestApp::new().await;
    let body = json!({"email": "ana@example.com", "password": "correct-horse", "first_name": "Ana"});
    let missing = app.call(Method::POST, "/api/v1/users/register", None, Some(body.clone())).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.code(), "missing_tenant");
    let forged = app
        .call_with(Method::POST, "/api/v1/users/register", None, Some(body.clone()), &[("x-tenant-id", "shop#a")])
        .await;
    assert_eq!(forged.code(), "invalid_tenant");
    let unknown =
        app.call_with(Method::POST, "/api/v1/users/register", None, Some(body), &[("x-tenant-id", "nowhere")]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn registration_fields_are_validated_by_name() {
    let app = TestApp::new().await;
    app.add_tenant("shop-a").await;
    let cases = [
        (json!({"email": "not-an-email", "password": "correct-horse", "first_name": "A"}), "email"),
        (json!({"email": "a@b.com", "password": "short", "first_name": "A"}), "password"),
        (json!({"email": "a@b.com", "password": "correct-horse", "first_name": ""}), "first_name"),
        (json!({"email": "a@b.com", "password": "correct-horse", "first_name": "A", "role": "admin"}), "role"),
    ];
    for (body, field) in cases {
        let reply =
            app.call_with(Method::POST, "/api/v1/users/register", None, Some(body), &[("x-tenant-id", "shop-a")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", reply.body);
        let message = reply.body["error"]["message"].as_str().expect("message");
        assert!(message.contains(field), "{field} not named in {message}");
    }
}

#[tokio::test]
async fn profile_and_preferences_update_and_are_validated() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let reply = app
        .call(
            Method::PUT,
            "/api/v1/users/profile",
            Some(&shop.alice),
            Some(json!({"first_name": "Alicia", "last_name": "García"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["first_name"], "Alicia");
    let prefs = json!({"categories": ["Ficción"], "authors": ["Borges"], "language": "es", "newsletter": true});
    let reply = app.call(Method::PUT, "/api/v1/users/preferences", Some(&shop.alice), Some(prefs.clone())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["preferences"], prefs);
    let bad = app
        .call(Method::PUT, "/api/v1/users/preferences", Some(&shop.alice), Some(json!({"language": "spanish"})))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app
        .call(Method::PUT, "/api/v1/users/preferences", Some(&shop.alice), Some(json!({"categories": ["a#b"]})))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let role = app.call(Method::PUT, "/api/v1/users/profile", Some(&shop.alice), Some(json!({"role": "admin"}))).await;
    assert_eq!(role.status, StatusCode::UNPROCESSABLE_ENTITY, "role cannot be changed by the user");
}

#[tokio::test]
async fn favorites_and_wishlist_add_list_page_and_remove() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            app.book(&shop.admin, &isbn(n), &format!("Libro {n}"), 5, "10.00").await["book_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    for id in &ids {
        let added = app.call(Method::POST, &format!("/api/v1/users/favorites/{id}"), Some(&shop.alice), None).await;
        assert_eq!(added.status, StatusCode::CREATED);
    }
    let twice = app.call(Method::POST, &format!("/api/v1/users/favorites/{}", ids[0]), Some(&shop.alice), None).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let page = app.call(Method::GET, "/api/v1/users/favorites?limit=2", Some(&shop.alice), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["data"].as_array().expect("data").len(), 2);
    assert_eq!(page.body["pagination"]["total_items"], 3);
    assert_eq!(page.body["data"][0]["book"]["title"].as_str().map(|t| t.starts_with("Libro")), Some(true));
    let cursor = page.body["pagination"]["next_cursor"].as_str().expect("next");
    let next = app
        .call(Method::GET, &format!("/api/v1/users/favorites?limit=2&cursor={cursor}"), Some(&shop.alice), None)
        .await;
    assert_eq!(next.body["data"].as_array().expect("data").len(), 1);
    let bobs = app.call(Method::GET, &format!("/api/v1/users/favorites?cursor={cursor}"), Some(&shop.bob), None).await;
    assert_eq!(bobs.status, StatusCode::BAD_REQUEST, "a cursor is bound to its caller");

    let removed =
        app.call(Method::DELETE, &format!("/api/v1/users/favorites/{}", ids[0]), Some(&shop.alice), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app.call(Method::DELETE, &format!("/api/v1/users/favorites/{}", ids[0]), Some(&shop.alice), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let wish = app
        .call(
            Method::POST,
            &format!("/api/v1/users/wishlist/{}", ids[1]),
            Some(&shop.alice),
            Some(json!({"priority": 1})),
        )
        .await;
    assert_eq!(wish.status, StatusCode::CREATED);
    assert_eq!(wish.body["priority"], 1);
    let default_priority =
        app.call(Method::POST, &format!("/api/v1/users/wishlist/{}", ids[2]), Some(&shop.alice), None).await;
    assert_eq!(default_priority.body["priority"], 3);
    for bad in [json!({"priority": 0}), json!({"priority": 6}), json!({"priority": 2.5}), json!({"rank": 1})] {
        let reply =
            app.call(Method::POST, &format!("/api/v1/users/wishlist/{}", ids[0]), Some(&shop.alice), Some(bad)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let list = app.call(Method::GET, "/api/v1/users/wishlist", Some(&shop.alice), None).await;
    let priorities: Vec<i64> =
        list.body["data"].as_array().expect("data").iter().map(|e| e["priority"].as_i64().expect("p")).collect();
    assert_eq!(priorities, vec![1, 3], "highest priority first");
    let missing = app
        .call(Method::POST, &format!("/api/v1/users/wishlist/{}", uuid::Uuid::now_v7()), Some(&shop.alice), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// A store whose global secondary indexes show nothing yet: DynamoDB's index lag at its
/// widest.
struct IndexNotCaughtUp(bookstore_runtime::embedded::EmbeddedStore);

#[async_trait::async_trait]
impl bookstore_runtime::store::Store for IndexNotCaughtUp {
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        self.0.get(table, key).await
    }
    async fn put(&self, table: Table, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.0.put(table, item, condition).await
    }
    async fn update(
        &self,
        table: Table,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        self.0.update(table, key, actions, condition).await
    }
    async fn delete(&self, table: Table, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.0.delete(table, key, condition).await
    }
    async fn query(&self, query: Query) -> Result<QueryPage, StoreError> {
        if query.index.is_some() { Ok(QueryPage::default()) } else { self.0.query(query).await }
    }
    async fn batch_get(&self, table: Table, keys: &[Key], consistent: bool) -> Result<Vec<Option<Item>>, StoreError> {
        self.0.batch_get(table, keys, consistent).await
    }
    async fn transact_write(&self, actions: Vec<WriteAction>) -> Result<(), StoreError> {
        self.0.transact_write(actions).await
    }
}

#[tokio::test]
async fn login_right_after_register_does_not_wait_for_the_email_index() {
    use bookstore_runtime::accounts::{self, Password, Registration};
    use bookstore_runtime::domain::{Email, TenantId, Text, UserId};
    let store = IndexNotCaughtUp(bookstore_runtime::embedded::EmbeddedStore::in_memory().expect("store"));
    let tenant = TenantId::parse("shop-a").expect("tenant");
    let email = Email::parse("ana@example.com").expect("email");
    let registration = Registration {
        email: email.clone(),
        password: Password::new("correct-horse").expect("password"),
        first_name: Text::parse("Ana").expect("name"),
        last_name: None,
    };
    let user = accounts::register(&store, &tenant, UserId::new_v7(), &registration, Role::Customer, chrono::Utc::now())
        .await
        .expect("registered");
    let signed_in = accounts::login(&store, &tenant, &email, "correct-horse").await.expect("signed in");
    assert_eq!(signed_in.user_id, user.user_id);
    assert!(accounts::login(&store, &tenant, &email, "wrong-horse").await.is_err());
    let stranger = Email::parse("nobody@example.com").expect("email");
    assert!(accounts::login(&store, &tenant, &stranger, "correct-horse").await.is_err());
}
