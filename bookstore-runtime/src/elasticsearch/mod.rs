//! The `SearchIndex` port on Elasticsearch's REST API (8.x, and `bookstore-search`, our
//! node that serves the same subset): per tenant a books and a purchases index behind an
//! alias, both created on first use with seed 001's mapping (`indices.rs`).
//!
//! Order-awareness without trusting Elasticsearch to remember deletes: every write is an
//! `index` with `version_type=external`, whose version is the book's version doubled, plus
//! one for a delete; a delete writes a tombstone document (`deleted: true`) instead of
//! removing the document, so a replayed older upsert still loses after `gc_deletes` has
//! passed, and a delete wins a tie. A version conflict is a change the index already has.
//! Writes ask `refresh=wait_for`, so the port's "visible on return" holds.

mod client;
mod endpoints;
mod indices;
mod queries;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};

pub use client::{FixedEndpoint, SearchEndpoints};
use client::{Http, RequestBody};
pub use endpoints::PlacedEndpoints;
pub use indices::IndexKind;

use crate::domain::{BookId, TenantId};
use crate::search::{
    AuthorFacet, IndexChange, PurchaseDocument, PurchaseResults, PurchaseSearch, SearchError, SearchIndex,
    SearchRequest, SearchResults, Suggestion,
};

/// One document write of a bulk: the positions of the changes it stands for, its id,
/// external version and source.
type Write = (Vec<usize>, String, u64, Value);

/// The books a batch of changes writes: per book the winning change.
fn book_writes(changes: Vec<IndexChange>) -> Vec<Write> {
    let mut winners: HashMap<BookId, (Vec<usize>, IndexChange)> = HashMap::new();
    for (position, change) in changes.into_iter().enumerate() {
        let entry = winners.entry(change.book_id()).or_insert_with(|| (Vec::new(), change.clone()));
        entry.0.push(position);
        if change.precedence() > entry.1.precedence() {
            entry.1 = change;
        }
    }
    winners
        .into_values()
        .map(|(positions, change)| {
            let id = change.book_id().to_string();
            (positions, id, external_version(&change), queries::book_source(&change))
        })
        .collect()
}

/// The generation of a concrete index (`shop-books-3` → 3).
fn generation_of(index: &str) -> Option<u32> {
    index.rsplit_once('-').and_then(|(_, n)| n.parse().ok())
}

/// The external version a change is written with: deletes win ties.
fn external_version(change: &IndexChange) -> u64 {
    let (version, delete) = change.precedence();
    version.saturating_mul(2).saturating_add(u64::from(delete))
}

pub struct ElasticsearchSearch {
    endpoints: Arc<dyn SearchEndpoints>,
    http: Http,
    /// Indices known to exist, so a write costs one request.
    ready: Mutex<HashSet<(TenantId, IndexKind)>>,
}

impl ElasticsearchSearch {
    pub fn new(endpoints: Arc<dyn SearchEndpoints>) -> Self {
        Self { endpoints, http: Http::new(), ready: Mutex::new(HashSet::new()) }
    }

    /// Every tenant on the node at `url`.
    pub fn at(url: impl Into<String>) -> Self {
        Self::new(Arc::new(FixedEndpoint(url.into())))
    }

    async fn endpoint(&self, tenant: &TenantId) -> Result<String, SearchError> {
        self.endpoints.endpoint(tenant).await
    }

    async fn call(
        &self,
        tenant: &TenantId,
        method: Method,
        path: &str,
        body: Option<RequestBody>,
    ) -> Result<client::Answer, SearchError> {
        let endpoint = self.endpoint(tenant).await?;
        let answer = self.http.send(method, &format!("{endpoint}/{path}"), body).await;
        if answer.is_err() {
            self.endpoints.forget(tenant);
        }
        answer
    }

    /// Creates the tenant's index and alias unless the alias exists.
    pub async fn ensure_index(&self, tenant: &TenantId, kind: IndexKind) -> Result<(), SearchError> {
        let key = (tenant.clone(), kind);
        if self.ready.lock().unwrap_or_else(|p| p.into_inner()).contains(&key) {
            return Ok(());
        }
        let alias = kind.alias(tenant);
        let exists = self.call(tenant, Method::HEAD, &alias, None).await?;
        if exists.status == 404 {
            let index = kind.generation(tenant, 1);
            let answer = self.call(tenant, Method::PUT, &index, Some(RequestBody::Json(kind.body(tenant, 1)))).await?;
            if !answer.ok() && answer.error_type() != Some("resource_already_exists_exception") {
                let endpoint = self.endpoint(tenant).await?;
                return Err(answer.into_error(&format!("creating index {index}"), &endpoint));
            }
        }
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).insert(key);
        Ok(())
    }

    fn forget_index(&self, tenant: &TenantId, kind: IndexKind) {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).remove(&(tenant.clone(), kind));
    }

    /// Sends `(position, id, version, document)` writes as one `_bulk`; answers the
    /// positions Elasticsearch refused (a version conflict is not a refusal).
    async fn bulk(&self, tenant: &TenantId, kind: IndexKind, writes: Vec<Write>) -> Result<(), SearchError> {
        self.bulk_into(tenant, kind, &kind.alias(tenant), writes, true).await
    }

    /// A `_bulk` into `target` (the alias, or a rebuild's new index); with `create`, an
    /// index missing behind the alias is created and the bulk sent once more.
    async fn bulk_into(
        &self,
        tenant: &TenantId,
        kind: IndexKind,
        target: &str,
        writes: Vec<Write>,
        create: bool,
    ) -> Result<(), SearchError> {
        if writes.is_empty() {
            return Ok(());
        }
        let alias = target;
        let mut body = String::new();
        for (_, id, version, document) in &writes {
            let action =
                json!({ "index": { "_index": alias, "_id": id, "version": version, "version_type": "external" } });
            body.push_str(&action.to_string());
            body.push('\n');
            body.push_str(&document.to_string());
            body.push('\n');
        }
        for attempt in 0..2 {
            if create {
                self.ensure_index(tenant, kind).await?;
            }
            let answer = self
                .call(tenant, Method::POST, "_bulk?refresh=wait_for", Some(RequestBody::NdJson(body.clone())))
                .await?;
            if !answer.ok() {
                let endpoint = self.endpoint(tenant).await?;
                return Err(answer.into_error(&format!("bulk into {alias}"), &endpoint));
            }
            let items = answer.body.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut failed = Vec::new();
            let mut reasons = Vec::new();
            let mut missing_index = false;
            for ((positions, id, ..), item) in writes.iter().zip(items.iter().chain(std::iter::repeat(&Value::Null))) {
                let result = item.get("index").unwrap_or(&Value::Null);
                let status = result.get("status").and_then(Value::as_u64).unwrap_or(500);
                let kind_of_error = result.pointer("/error/type").and_then(Value::as_str).unwrap_or_default();
                if (200..300).contains(&status) || kind_of_error == "version_conflict_engine_exception" {
                    continue;
                }
                missing_index |= kind_of_error == "index_not_found_exception";
                failed.extend(positions.iter().copied());
                let reason =
                    result.pointer("/error/reason").and_then(Value::as_str).unwrap_or("no answer for the item");
                reasons.push(format!("{id}: {status} {kind_of_error} {reason}"));
            }
            if missing_index && attempt == 0 && create {
                // Dropped behind our back (a clear, an operator): create it and send again.
                self.forget_index(tenant, kind);
                continue;
            }
            if failed.is_empty() {
                return Ok(());
            }
            failed.sort_unstable();
            return Err(SearchError::Refused { failed, reason: reasons.join("; ") });
        }
        Ok(())
    }

    async fn search_body(&self, tenant: &TenantId, kind: IndexKind, body: Value) -> Result<Option<Value>, SearchError> {
        let alias = kind.alias(tenant);
        let answer =
            self.call(tenant, Method::POST, &format!("{alias}/_search"), Some(RequestBody::Json(body))).await?;
        if answer.status == 404 && answer.error_type() == Some("index_not_found_exception") {
            return Ok(None);
        }
        if !answer.ok() {
            let endpoint = self.endpoint(tenant).await?;
            return Err(answer.into_error(&format!("searching {alias}"), &endpoint));
        }
        Ok(Some(answer.body))
    }

    /// The concrete indices an alias points at.
    async fn indices_behind(&self, tenant: &TenantId, kind: IndexKind) -> Result<Vec<String>, SearchError> {
        let alias = kind.alias(tenant);
        let answer = self.call(tenant, Method::GET, &format!("_alias/{alias}"), None).await?;
        if answer.status == 404 {
            return Ok(Vec::new());
        }
        if !answer.ok() {
            let endpoint = self.endpoint(tenant).await?;
            return Err(answer.into_error(&format!("reading alias {alias}"), &endpoint));
        }
        Ok(answer.body.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default())
    }
}

#[async_trait::async_trait]
impl SearchIndex for ElasticsearchSearch {
    async fn apply(&self, tenant: &TenantId, changes: Vec<IndexChange>) -> Result<(), SearchError> {
        self.bulk(tenant, IndexKind::Books, book_writes(changes)).await
    }

    async fn search(&self, tenant: &TenantId, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        match self.search_body(tenant, IndexKind::Books, queries::book_search(request)).await? {
            Some(answer) => queries::book_results(&answer, request),
            None => Ok(SearchResults { total: 0, hits: Vec::new(), categories: Vec::new() }),
        }
    }

    async fn authors(&self, tenant: &TenantId) -> Result<Vec<AuthorFacet>, SearchError> {
        match self.search_body(tenant, IndexKind::Books, queries::authors()).await? {
            Some(answer) => Ok(queries::author_facets(&answer)),
            None => Ok(Vec::new()),
        }
    }

    async fn suggest(&self, tenant: &TenantId, prefix: &str) -> Result<Vec<Suggestion>, SearchError> {
        if prefix.trim().is_empty() {
            return Ok(Vec::new());
        }
        match self.search_body(tenant, IndexKind::Books, queries::suggestions(prefix)).await? {
            Some(answer) => queries::suggestion_list(&answer),
            None => Ok(Vec::new()),
        }
    }

    async fn version_of(&self, tenant: &TenantId, book: &BookId) -> Result<Option<(u64, bool)>, SearchError> {
        let alias = IndexKind::Books.alias(tenant);
        let answer = self.call(tenant, Method::GET, &format!("{alias}/_doc/{book}"), None).await?;
        if answer.status == 404 {
            return Ok(None);
        }
        if !answer.ok() {
            let endpoint = self.endpoint(tenant).await?;
            return Err(answer.into_error(&format!("reading {alias}/{book}"), &endpoint));
        }
        let source = &answer.body["_source"];
        let version = source.get("version").and_then(Value::as_u64).unwrap_or(0);
        Ok(Some((version, source.get("deleted").and_then(Value::as_bool).unwrap_or(false))))
    }

    async fn clear(&self, tenant: &TenantId) -> Result<(), SearchError> {
        for kind in [IndexKind::Books, IndexKind::Purchases] {
            self.forget_index(tenant, kind);
            for index in self.indices_behind(tenant, kind).await? {
                let answer = self.call(tenant, Method::DELETE, &index, None).await?;
                if !answer.ok() && answer.status != 404 {
                    let endpoint = self.endpoint(tenant).await?;
                    return Err(answer.into_error(&format!("deleting {index}"), &endpoint));
                }
            }
        }
        Ok(())
    }

    /// Fills the next generation of the tenant's books index, then moves the alias to it
    /// in one `_aliases` call and drops the old generation: searches answer from the old
    /// index until the swap and from the complete new one after it. A failure leaves the
    /// old index serving and the half-built one deleted.
    async fn replace_books(
        &self,
        tenant: &TenantId,
        changes: Vec<IndexChange>,
        indexed: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<(), SearchError> {
        let kind = IndexKind::Books;
        let old = self.indices_behind(tenant, kind).await?;
        let generation = old.iter().filter_map(|i| generation_of(i)).max().unwrap_or(0) + 1;
        let next = kind.generation(tenant, generation);
        let endpoint = self.endpoint(tenant).await?;
        // A rebuild cut short may have left this generation behind.
        self.call(tenant, Method::DELETE, &next, None).await?;
        let body = kind.body(tenant, generation.max(2));
        let created = self.call(tenant, Method::PUT, &next, Some(RequestBody::Json(body))).await?;
        if !created.ok() {
            return Err(created.into_error(&format!("creating index {next}"), &endpoint));
        }
        let filled = async {
            for chunk in changes.chunks(crate::search::REBUILD_CHUNK) {
                self.bulk_into(tenant, kind, &next, book_writes(chunk.to_vec()), false).await?;
                indexed(chunk.len());
            }
            let alias = kind.alias(tenant);
            let mut actions: Vec<Value> =
                old.iter().map(|index| json!({ "remove": { "index": index, "alias": alias } })).collect();
            actions.push(json!({ "add": { "index": next, "alias": alias } }));
            let body = RequestBody::Json(json!({ "actions": actions }));
            let swapped = self.call(tenant, Method::POST, "_aliases", Some(body)).await?;
            if swapped.ok() { Ok(()) } else { Err(swapped.into_error(&format!("moving {alias} to {next}"), &endpoint)) }
        };
        if let Err(err) = filled.await {
            let _ = self.call(tenant, Method::DELETE, &next, None).await;
            return Err(err);
        }
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).insert((tenant.clone(), kind));
        for index in old {
            let dropped = self.call(tenant, Method::DELETE, &index, None).await?;
            if !dropped.ok() && dropped.status != 404 {
                return Err(dropped.into_error(&format!("deleting the replaced index {index}"), &endpoint));
            }
        }
        Ok(())
    }

    async fn apply_purchases(&self, tenant: &TenantId, purchases: Vec<PurchaseDocument>) -> Result<(), SearchError> {
        let mut newest: HashMap<String, (Vec<usize>, PurchaseDocument)> = HashMap::new();
        for (position, purchase) in purchases.into_iter().enumerate() {
            let id = purchase.purchase_id.to_string();
            let entry = newest.entry(id).or_insert_with(|| (Vec::new(), purchase.clone()));
            entry.0.push(position);
            if purchase.version > entry.1.version {
                entry.1 = purchase;
            }
        }
        let writes = newest
            .into_iter()
            .map(|(id, (positions, purchase))| {
                let version = purchase.version;
                (positions, id, version, queries::purchase_source(&purchase))
            })
            .collect();
        self.bulk(tenant, IndexKind::Purchases, writes).await
    }

    async fn search_purchases(
        &self,
        tenant: &TenantId,
        request: &PurchaseSearch,
    ) -> Result<PurchaseResults, SearchError> {
        match self.search_body(tenant, IndexKind::Purchases, queries::purchase_search(request)).await? {
            Some(answer) => queries::purchase_results(&answer),
            None => Ok(PurchaseResults { total: 0, hits: Vec::new() }),
        }
    }
}
