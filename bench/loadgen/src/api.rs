//! The few bookstore API calls the load generator makes, over one shared HTTP client.
//! Set-up calls (login, register, create a book) retry on 429 as `Retry-After` says;
//! the measured calls return their status and leave counting to the caller.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// Give up on a set-up call after this many 429 answers in a row.
const SETUP_RETRIES: u32 = 10;

/// A client for one tenant of one server.
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
    tenant: String,
}

impl Api {
    pub fn new(base: &str, tenant: &str) -> Result<Self> {
        let client = Client::builder()
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { client, base: base.trim_end_matches('/').to_owned(), tenant: tenant.to_owned() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in and returns the bearer token.
    pub async fn login(&self, email: &str, password: &str) -> Result<String> {
        let body = json!({ "email": email, "password": password });
        let session = self
            .setup_call("login", StatusCode::OK, || {
                self.client.post(self.url("/api/v1/users/login")).header("X-Tenant-Id", &self.tenant).json(&body)
            })
            .await
            .with_context(|| format!("login as {email} in tenant {}", self.tenant))?;
        token_of(&session)
    }

    /// Registers a customer and returns its bearer token.
    pub async fn register(&self, email: &str, password: &str, first_name: &str) -> Result<String> {
        let body = json!({ "email": email, "password": password, "first_name": first_name });
        let session = self
            .setup_call("register", StatusCode::CREATED, || {
                self.client.post(self.url("/api/v1/users/register")).header("X-Tenant-Id", &self.tenant).json(&body)
            })
            .await
            .with_context(|| format!("register {email} in tenant {}", self.tenant))?;
        token_of(&session)
    }

    /// Creates a book (admin token) and returns its `book_id` as the server wrote it.
    pub async fn create_book(&self, token: &str, isbn: &str, stock: u32) -> Result<Value> {
        let body = json!({
            "isbn": isbn,
            "title": format!("Load test book {isbn}"),
            "author": "Bench Loadgen",
            "category": "Benchmarks",
            "price": "19.90",
            "stock_quantity": stock,
            "publication_year": 2020,
        });
        let book = self
            .setup_call("create book", StatusCode::CREATED, || {
                self.client.post(self.url("/api/v1/books")).bearer_auth(token).json(&body)
            })
            .await
            .with_context(|| format!("create book {isbn} with stock {stock}"))?;
        match book.get("book_id") {
            Some(id @ (Value::String(_) | Value::Number(_))) => Ok(id.clone()),
            _ => bail!("the created book has no book_id: {book}"),
        }
    }

    /// Reads a book's `stock_quantity`.
    pub async fn stock_of(&self, token: &str, book_id: &Value) -> Result<i64> {
        let path = format!("/api/v1/books/{}", path_segment(book_id));
        let book = self
            .setup_call("read book", StatusCode::OK, || self.client.get(self.url(&path)).bearer_auth(token))
            .await
            .with_context(|| format!("read back book {book_id}"))?;
        book.get("stock_quantity")
            .and_then(Value::as_i64)
            .with_context(|| format!("book {book_id} has no integer stock_quantity: {book}"))
    }

    /// `POST /api/v1/cart/add` with quantity 1.
    pub async fn add_to_cart(&self, token: &str, book_id: &Value) -> reqwest::Result<StatusCode> {
        let body = json!({ "book_id": book_id, "quantity": 1 });
        let response = self.client.post(self.url("/api/v1/cart/add")).bearer_auth(token).json(&body).send().await?;
        let status = response.status();
        response.bytes().await?;
        Ok(status)
    }

    /// `POST /api/v1/purchases/checkout` paying by card; returns the status and body.
    pub async fn checkout(&self, token: &str) -> reqwest::Result<(StatusCode, Vec<u8>)> {
        let body = json!({ "payment_method": "card" });
        let response =
            self.client.post(self.url("/api/v1/purchases/checkout")).bearer_auth(token).json(&body).send().await?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// `DELETE /api/v1/cart/clear`, so a failed checkout leaves no line behind to
    /// grow the next one.
    pub async fn clear_cart(&self, token: &str) -> reqwest::Result<StatusCode> {
        let response = self.client.delete(self.url("/api/v1/cart/clear")).bearer_auth(token).send().await?;
        let status = response.status();
        response.bytes().await?;
        Ok(status)
    }

    /// Sends a set-up request until it is not rate limited, and wants `expected`.
    async fn setup_call(
        &self,
        what: &str,
        expected: StatusCode,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<Value> {
        for _ in 0..SETUP_RETRIES {
            let response = request().send().await.with_context(|| format!("{what}: no answer from {}", self.base))?;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(retry_after(&response)).await;
                continue;
            }
            let status = response.status();
            let text = response.text().await.with_context(|| format!("{what}: reading the answer"))?;
            if status != expected {
                bail!("{what}: expected {expected}, got {status}: {text}");
            }
            return serde_json::from_str(&text).with_context(|| format!("{what}: the answer is not JSON: {text}"));
        }
        bail!("{what}: still rate limited (429) after {SETUP_RETRIES} tries")
    }
}

fn retry_after(response: &Response) -> Duration {
    let seconds = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(seconds.clamp(1, 10))
}

fn token_of(session: &Value) -> Result<String> {
    session
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the session has no token: {session}"))
}

/// A `book_id` as it goes in a path: strings without their JSON quotes.
pub fn path_segment(book_id: &Value) -> String {
    match book_id {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    }
}
