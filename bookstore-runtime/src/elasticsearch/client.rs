//! HTTP to a tenant's Elasticsearch endpoint: JSON in and out, Elasticsearch's error
//! shape read into a `SearchError` that names the endpoint.

use serde_json::Value;

use crate::domain::TenantId;
use crate::search::SearchError;

/// Where a tenant's search node answers.
#[async_trait::async_trait]
pub trait SearchEndpoints: Send + Sync + 'static {
    /// The base URL of the tenant's node (`http://10.0.1.5:9201`).
    async fn endpoint(&self, tenant: &TenantId) -> Result<String, SearchError>;
    /// Called after the endpoint failed to answer: a cached address may be stale.
    fn forget(&self, _tenant: &TenantId) {}
}

/// Every tenant on one node (tests, a shared cluster, `bookstore up`).
pub struct FixedEndpoint(pub String);

#[async_trait::async_trait]
impl SearchEndpoints for FixedEndpoint {
    async fn endpoint(&self, _tenant: &TenantId) -> Result<String, SearchError> {
        Ok(self.0.trim_end_matches('/').to_owned())
    }
}

/// An answer: its status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Elasticsearch's error `type`, if the answer is an error.
    pub fn error_type(&self) -> Option<&str> {
        self.body.pointer("/error/type").and_then(Value::as_str)
    }

    pub fn into_error(self, what: &str, endpoint: &str) -> SearchError {
        let reason = self.body.pointer("/error/reason").and_then(Value::as_str).unwrap_or("no reason given");
        SearchError::Unavailable(format!(
            "{what} at {endpoint}: {} {} ({reason})",
            self.status,
            self.error_type().unwrap_or("error")
        ))
    }
}

pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self { client }
    }

    /// Sends a request; `ndjson` bodies go as `application/x-ndjson`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<RequestBody>,
    ) -> Result<Answer, SearchError> {
        let mut request = self.client.request(method, url).header("accept", "application/json");
        request = match body {
            None => request,
            Some(RequestBody::Json(value)) => {
                request.header("content-type", "application/json").body(value.to_string())
            }
            Some(RequestBody::NdJson(text)) => request.header("content-type", "application/x-ndjson").body(text),
        };
        let response = request
            .send()
            .await
            .map_err(|err| SearchError::Unavailable(format!("search endpoint {url} did not answer: {err}")))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| SearchError::Unavailable(format!("search endpoint {url} broke off its answer: {err}")))?;
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok(Answer { status, body })
    }
}

pub enum RequestBody {
    Json(Value),
    NdJson(String),
}
