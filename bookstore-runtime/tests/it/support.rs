//! A running app on an in-memory store, with tenants and users ready to call it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bookstore_runtime::accounts::{self, Password, Registration};
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::changes::{ChangeFeed, ChangeStream};
use bookstore_runtime::config::RuntimeConfig;
use bookstore_runtime::domain::{Email, Role, Tenant, TenantId, Text, UserId};
use bookstore_runtime::embedded::{EmbeddedStore, LocalSql, TantivySearch, local_feeds};
use bookstore_runtime::lake::BatchLake;
#[cfg(feature = "aws")]
use bookstore_runtime::limits::SharedCounter;
use bookstore_runtime::search::SearchIndex;
use bookstore_runtime::store::SharedStore;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct TestApp {
    pub store: SharedStore,
    /// The store's change streams (`None` on DynamoDB until its Streams adapter exists).
    pub changes: Option<Arc<dyn ChangeStream>>,
    pub state: AppState,
    router: Router,
    /// Streams → search index and lake, drained on demand so tests are deterministic.
    feeds: tokio::sync::Mutex<Vec<ChangeFeed>>,
    /// Where the local lake of this app lives.
    pub lake_dir: std::path::PathBuf,
    /// The stage prefix of its tables on DynamoDB Local.
    dynamo_prefix: Option<String>,
}

/// A tenant with one admin and two customers, signed in.
pub struct Shop {
    pub admin: String,
    pub alice: String,
    pub alice_id: String,
    pub bob: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code of an error envelope (panics with the body when it is not one).
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error envelope: {}", self.body))
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(RuntimeConfig::for_tests()).await
    }

    pub async fn with_config(config: RuntimeConfig) -> Self {
        Self::assembled(Arc::new(TantivySearch::in_memory()), config)
    }

    /// The app with another search engine (the Elasticsearch adapter) behind its feeds.
    pub async fn with_search(search: Arc<dyn SearchIndex>) -> Self {
        Self::assembled(search, RuntimeConfig::for_tests())
    }

    fn assembled(search: Arc<dyn SearchIndex>, config: RuntimeConfig) -> Self {
        let embedded = Arc::new(EmbeddedStore::in_memory().expect("in-memory store"));
        let lake_dir = std::env::temp_dir().join(format!("bookstore-lake-{}", uuid::Uuid::new_v4()));
        let feeds = local_feeds(embedded.clone(), search.clone(), Arc::new(BatchLake::in_directory(&lake_dir)));
        let changes: Arc<dyn ChangeStream> = embedded.clone();
        Self::assemble(embedded, Some(changes), search, feeds, lake_dir, config)
    }

    /// The app on a fresh stage of DynamoDB Local, or `None` when the test is skipped.
    /// No change feeds yet: the search index stays empty.
    #[cfg(feature = "aws")]
    pub async fn on_dynamodb() -> Option<Self> {
        Self::on_dynamodb_with(RuntimeConfig::for_tests()).await
    }

    /// `on_dynamodb` with this configuration; its rate budgets live in the stage's
    /// `rate_limits` table, as on Lambda.
    #[cfg(feature = "aws")]
    pub async fn on_dynamodb_with(config: RuntimeConfig) -> Option<Self> {
        let store = crate::dynamodb_local::fresh_dynamo_store().await?;
        let prefix = store.prefix().to_owned();
        let store: SharedStore = Arc::new(store);
        let lake_dir = std::env::temp_dir().join(format!("bookstore-lake-{}", uuid::Uuid::new_v4()));
        let search: Arc<dyn SearchIndex> = Arc::new(TantivySearch::in_memory());
        Some(Self::assemble(store.clone(), None, search, Vec::new(), lake_dir, config).counting_in(store, prefix))
    }

    /// A second API instance on the same stage: its own DynamoDB client and state, as a
    /// second Lambda instance has, sharing only the tables.
    #[cfg(feature = "aws")]
    pub async fn another_instance(&self) -> Self {
        let prefix = self.dynamo_prefix.as_deref().expect("an app on DynamoDB Local");
        let store: SharedStore = Arc::new(crate::dynamodb_local::dynamo_store_of(prefix).await);
        let config = (*self.state.config).clone();
        let lake_dir = self.lake_dir.clone();
        let search = self.state.search.clone();
        Self::assemble(store.clone(), None, search, Vec::new(), lake_dir, config).counting_in(store, prefix.to_owned())
    }

    /// Counts rate budgets in the stage's `rate_limits` table, as on Lambda.
    #[cfg(feature = "aws")]
    fn counting_in(mut self, store: SharedStore, prefix: String) -> Self {
        self.state = self.state.clone().with_usage_counter(Arc::new(SharedCounter::new(store)));
        self.router = app(self.state.clone());
        self.dynamo_prefix = Some(prefix);
        self
    }

    fn assemble(
        store: SharedStore,
        changes: Option<Arc<dyn ChangeStream>>,
        search: Arc<dyn SearchIndex>,
        feeds: Vec<ChangeFeed>,
        lake_dir: std::path::PathBuf,
        config: RuntimeConfig,
    ) -> Self {
        let state = AppState::new(store.clone(), search, config).with_analytics(Arc::new(LocalSql::new(&lake_dir)));
        let router = app(state.clone());
        Self { store, changes, state, router, feeds: tokio::sync::Mutex::new(feeds), lake_dir, dynamo_prefix: None }
    }

    /// Feeds every committed change to the search index and the lake.
    pub async fn sync_search(&self) {
        for feed in self.feeds.lock().await.iter_mut() {
            feed.drain().await.expect("feed drains");
        }
    }

    pub async fn add_tenant(&self, id: &str) {
        let tenant = Tenant {
            tenant_id: TenantId::parse(id).expect("valid tenant"),
            name: Text::parse(id).expect("valid name"),
            is_active: true,
            created_at: chrono::Utc::now(),
        };
        accounts::add_tenant(self.store.as_ref(), &tenant).await.expect("tenant added");
    }

    /// Creates a user directly (admins cannot register themselves) and signs them in.
    pub async fn user(&self, tenant: &str, email: &str, role: Role) -> (String, String) {
        let tenant_id = TenantId::parse(tenant).expect("valid tenant");
        let registration = Registration {
            email: Email::parse(email).expect("valid email"),
            password: Password::new("password-123").expect("valid password"),
            first_name: Text::parse("Test").expect("valid name"),
            last_name: None,
        };
        let user = accounts::register(
            self.store.as_ref(),
            &tenant_id,
            UserId::new_v7(),
            &registration,
            role,
            chrono::Utc::now(),
        )
        .await
        .expect("user registered");
        let reply = self
            .call_with(
                Method::POST,
                "/api/v1/users/login",
                None,
                Some(json!({"email": email, "password": "password-123"})),
                &[("x-tenant-id", tenant)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        (reply.body["token"].as_str().expect("token").to_owned(), user.user_id.to_string())
    }

    pub async fn shop(&self, tenant: &str) -> Shop {
        self.add_tenant(tenant).await;
        let (admin, _) = self.user(tenant, &format!("admin@{tenant}.test"), Role::Admin).await;
        let (alice, alice_id) = self.user(tenant, &format!("alice@{tenant}.test"), Role::Customer).await;
        let (bob, _) = self.user(tenant, &format!("bob@{tenant}.test"), Role::Customer).await;
        Shop { admin, alice, alice_id, bob }
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("valid request");
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        assert!(status.as_u16() < 500, "server error {status}: {body}");
        if status.is_client_error() && status != StatusCode::METHOD_NOT_ALLOWED {
            assert!(body["error"]["code"].is_string(), "4xx without error envelope: {status} {body}");
        }
        Reply { status, headers, body }
    }

    /// Creates a book as the shop's admin and returns its JSON.
    pub async fn book(&self, admin: &str, isbn: &str, title: &str, stock: u32, price: &str) -> Value {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/books",
                Some(admin),
                Some(json!({
                    "isbn": isbn, "title": title, "author": "Gabriel García Márquez", "category": "Ficción",
                    "price": price, "stock_quantity": stock, "publication_year": 1967, "rating": "4.5",
                    "description": "Una novela"
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.lake_dir);
    }
}

/// Valid ISBN-13s, distinct for distinct `n`.
pub fn isbn(n: u64) -> String {
    bookstore_runtime::domain::Isbn::from_body(978_000_000_000 + n).to_string()
}

/// A store item with its key and the attributes of `extra` (an object).
pub fn item(pk: &str, sk: &str, extra: Value) -> bookstore_runtime::store::Item {
    let mut item = bookstore_runtime::store::Item::new();
    item.insert("pk".into(), pk.into());
    item.insert("sk".into(), sk.into());
    if let Value::Object(map) = extra {
        item.extend(map);
    }
    item
}

/// A test server's URL (or tool's path) from `variable`, or `None` (the test is skipped)
/// when it is not set and services are not required (`scripts/test` sets both).
pub fn service(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("BOOKSTORE_TEST_REQUIRE_SERVICES").is_none(),
                "{variable} is not set but services are required"
            );
            eprintln!("skipped: set {variable} to {what} (scripts/test does)");
            None
        }
    }
}

#[cfg(feature = "elasticsearch")]
/// A `bookstore-search` node serving a temporary data directory on a free loopback
/// port, in this process; stopped and its directory removed on drop.
pub struct SearchNode {
    pub url: String,
    pub data_dir: std::path::PathBuf,
    server: tokio::task::JoinHandle<()>,
}

#[cfg(feature = "elasticsearch")]
impl SearchNode {
    pub async fn start() -> Self {
        let data_dir = std::env::temp_dir().join(format!("bookstore-search-node-{}", uuid::Uuid::new_v4()));
        let node = std::sync::Arc::new(bookstore_search::Node::open(&data_dir).expect("open search node"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, bookstore_search::router(node)).await;
        });
        Self { url, data_dir, server }
    }
}

#[cfg(feature = "elasticsearch")]
impl Drop for SearchNode {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
