//! The REST routes, Elasticsearch's shapes: every answer carries
//! `X-Elastic-Product: Elasticsearch` (official clients refuse answers without it) and
//! JSON bodies; requests may use `application/json` or the versioned
//! `application/vnd.elasticsearch+json; compatible-with=7|8|9` media types.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::error::EsError;
use crate::index::{VersionType, WriteAction, WriteOp, WriteOutcome};
use crate::node::{AliasAction, Node};
use crate::search;

/// The Elasticsearch version the node answers as.
pub const COMPATIBLE_VERSION: &str = "8.17.0";

type Params = Query<HashMap<String, String>>;
type Answer = Result<Response, EsError>;

impl IntoResponse for EsError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

fn ok(status: StatusCode, body: Value) -> Answer {
    Ok((status, axum::Json(body)).into_response())
}

/// Runs storage work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, EsError> + Send + 'static) -> Result<T, EsError> {
    tokio::task::spawn_blocking(work).await.map_err(EsError::internal)?
}

fn json_body(bytes: &Bytes) -> Result<Value, EsError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        EsError::bad_request("x_content_parse_exception", format!("Failed to parse request body: {err}"))
    })
}

/// Refuses media types that name a major version the node does not speak.
fn check_media_types(headers: &HeaderMap) -> Result<(), EsError> {
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) else { continue };
        if let Some(version) = value.split(';').find_map(|part| part.trim().strip_prefix("compatible-with="))
            && !matches!(version.trim(), "7" | "8" | "9")
        {
            return Err(EsError::bad_request(
                "media_type_header_exception",
                format!(
                    "Invalid media-type value on headers [{name}]: compatible-with={version} is not supported (7, 8 or 9)"
                ),
            ));
        }
    }
    Ok(())
}

async fn product_header(request: Request, next: Next) -> Response {
    let head = request.method() == Method::HEAD;
    let mut response = match check_media_types(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    };
    response.headers_mut().insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    if head {
        *response.body_mut() = axum::body::Body::empty();
    }
    response
}

pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/", get(info).head(info))
        .route("/_cluster/health", get(health))
        .route("/_cluster/health/{index}", get(health))
        .route("/_bulk", post(bulk).put(bulk))
        .route("/_refresh", post(refresh_all).get(refresh_all))
        .route("/_aliases", post(update_aliases))
        .route("/_alias/{alias}", get(get_alias))
        .route("/_mapping", get(all_mappings))
        .route("/_cat/indices", get(cat_indices))
        .route("/{index}", get(get_index).head(index_exists).put(create_index).delete(delete_index))
        .route("/{index}/_mapping", get(get_mapping))
        .route("/{index}/_doc", post(index_auto_id))
        .route("/{index}/_doc/{id}", get(get_doc).head(get_doc).put(index_doc).post(index_doc).delete(delete_doc))
        .route("/{index}/_create/{id}", put(create_doc).post(create_doc))
        .route("/{index}/_bulk", post(bulk_into).put(bulk_into))
        .route("/{index}/_search", get(search_index).post(search_index))
        .route("/{index}/_count", get(count_index).post(count_index))
        .route("/{index}/_refresh", post(refresh_index).get(refresh_index))
        .fallback(unknown_route)
        .layer(axum::extract::DefaultBodyLimit::max(100 * 1024 * 1024))
        .layer(middleware::from_fn(product_header))
        .with_state(node)
}

use axum::routing::put;

async fn unknown_route(method: Method, uri: axum::http::Uri) -> Response {
    EsError::bad_request(
        "illegal_argument_exception",
        format!("no handler found for uri [{}] and method [{method}]", uri.path()),
    )
    .into_response()
}

async fn info(State(node): State<Arc<Node>>) -> Answer {
    ok(
        StatusCode::OK,
        json!({
            "name": node.name,
            "cluster_name": "bookstore-search",
            "cluster_uuid": node.cluster_uuid,
            "version": {
                "number": COMPATIBLE_VERSION,
                "build_flavor": "default",
                "build_type": "tar",
                "build_hash": env!("CARGO_PKG_VERSION"),
                "build_date": "2026-01-01T00:00:00.000Z",
                "build_snapshot": false,
                "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0"
            },
            "tagline": "You Know, for Search"
        }),
    )
}

async fn health(State(node): State<Arc<Node>>) -> Answer {
    let shards = node.indices().len();
    ok(
        StatusCode::OK,
        json!({
            "cluster_name": "bookstore-search",
            "status": "green",
            "timed_out": false,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": shards,
            "active_shards": shards,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
            "unassigned_primary_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0
        }),
    )
}

async fn create_index(State(node): State<Arc<Node>>, Path(name): Path<String>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let created = blocking(move || node.create(&name, &body).map(|index| index.name.clone())).await?;
    ok(StatusCode::OK, json!({ "acknowledged": true, "shards_acknowledged": true, "index": created }))
}

async fn index_exists(State(node): State<Arc<Node>>, Path(name): Path<String>) -> Response {
    let found = name.split(',').all(|one| node.index(one).is_ok());
    if found { StatusCode::OK.into_response() } else { StatusCode::NOT_FOUND.into_response() }
}

fn describe(node: &Node, name: &str) -> Result<Value, EsError> {
    let index = node.index(name)?;
    let aliases: serde_json::Map<String, Value> =
        node.aliases_of(&index.name).into_iter().map(|a| (a, json!({}))).collect();
    let mut settings = index.settings.clone();
    settings["uuid"] = json!(index.uuid);
    settings["creation_date"] = json!(index.creation_date.to_string());
    settings["provided_name"] = json!(index.name);
    settings["number_of_shards"] = json!("1");
    settings["number_of_replicas"] = json!("0");
    Ok(
        json!({ index.name.clone(): { "aliases": aliases, "mappings": index.mapping.declared, "settings": { "index": settings } } }),
    )
}

async fn get_index(State(node): State<Arc<Node>>, Path(name): Path<String>) -> Answer {
    ok(StatusCode::OK, describe(&node, &name)?)
}

async fn delete_index(State(node): State<Arc<Node>>, Path(names): Path<String>) -> Answer {
    blocking(move || {
        let names: Vec<String> = names.split(',').map(str::to_owned).collect();
        for name in &names {
            node.index(name)?;
        }
        for name in &names {
            let index = node.index(name)?;
            node.delete(&index.name)?;
        }
        Ok(())
    })
    .await?;
    ok(StatusCode::OK, json!({ "acknowledged": true }))
}

async fn get_mapping(State(node): State<Arc<Node>>, Path(names): Path<String>) -> Answer {
    let mut out = serde_json::Map::new();
    for name in names.split(',') {
        let index = node.index(name)?;
        out.insert(index.name.clone(), json!({ "mappings": index.mapping.declared }));
    }
    ok(StatusCode::OK, Value::Object(out))
}

async fn all_mappings(State(node): State<Arc<Node>>) -> Answer {
    let out: serde_json::Map<String, Value> =
        node.indices().iter().map(|i| (i.name.clone(), json!({ "mappings": i.mapping.declared }))).collect();
    ok(StatusCode::OK, Value::Object(out))
}

async fn cat_indices(State(node): State<Arc<Node>>) -> Answer {
    let rows = blocking(move || {
        node.indices()
            .iter()
            .map(|index| {
                let docs = index.live_count()?;
                let bytes = index.disk_bytes();
                Ok(json!({
                    "health": "green", "status": "open", "index": index.name, "uuid": index.uuid,
                    "pri": "1", "rep": "0", "docs.count": docs.to_string(), "docs.deleted": "0",
                    "store.size": bytes.to_string(), "pri.store.size": bytes.to_string()
                }))
            })
            .collect::<Result<Vec<_>, EsError>>()
    })
    .await?;
    ok(StatusCode::OK, Value::Array(rows))
}

fn version_params(params: &HashMap<String, String>) -> Result<(Option<u64>, VersionType), EsError> {
    let version = match params.get("version") {
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| EsError::illegal_argument(format!("[version] must be a number, not [{text}]")))?,
        ),
        None => None,
    };
    Ok((version, VersionType::parse(params.get("version_type").map(String::as_str))?))
}

async fn write_single(node: Arc<Node>, name: String, op: WriteOp) -> Answer {
    let (index_name, outcome) = blocking(move || {
        let index = node.index(&name)?;
        let outcome = index.write(vec![op]).pop().unwrap_or_else(|| Err(EsError::internal("no outcome")))?;
        Ok((index.name.clone(), outcome))
    })
    .await?;
    let mut body = outcome.body(&index_name);
    if let Some(map) = body.as_object_mut() {
        map.remove("status");
    }
    ok(outcome.status, body)
}

async fn index_doc(
    State(node): State<Arc<Node>>,
    Path((name, id)): Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Answer {
    let source = json_body(&body)?;
    let (version, version_type) = version_params(&params)?;
    let create_only = params.get("op_type").is_some_and(|op| op == "create");
    let op = WriteOp { id: Some(id), action: WriteAction::Index { source, create_only }, version, version_type };
    write_single(node, name, op).await
}

async fn index_auto_id(State(node): State<Arc<Node>>, Path(name): Path<String>, params: Params, body: Bytes) -> Answer {
    let source = json_body(&body)?;
    let (version, version_type) = version_params(&params)?;
    let op = WriteOp { id: None, action: WriteAction::Index { source, create_only: true }, version, version_type };
    write_single(node, name, op).await
}

async fn create_doc(
    State(node): State<Arc<Node>>,
    Path((name, id)): Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Answer {
    let source = json_body(&body)?;
    let (version, version_type) = version_params(&params)?;
    let op = WriteOp { id: Some(id), action: WriteAction::Index { source, create_only: true }, version, version_type };
    write_single(node, name, op).await
}

async fn delete_doc(State(node): State<Arc<Node>>, Path((name, id)): Path<(String, String)>, params: Params) -> Answer {
    let (version, version_type) = version_params(&params)?;
    let op = WriteOp { id: Some(id), action: WriteAction::Delete, version, version_type };
    write_single(node, name, op).await
}

async fn get_doc(State(node): State<Arc<Node>>, Path((name, id)): Path<(String, String)>) -> Answer {
    let (index_name, found) = blocking(move || {
        let index = node.index(&name)?;
        let found = index.get(&id)?;
        Ok((index.name.clone(), found.map(|f| (id.clone(), f)).ok_or(id)))
    })
    .await?;
    match found {
        Ok((id, doc)) => ok(
            StatusCode::OK,
            json!({ "_index": index_name, "_id": id, "_version": doc.version, "_seq_no": doc.seq_no, "_primary_term": 1, "found": true, "_source": doc.source }),
        ),
        Err(id) => ok(StatusCode::NOT_FOUND, json!({ "_index": index_name, "_id": id, "found": false })),
    }
}

async fn bulk(State(node): State<Arc<Node>>, params: Params, body: Bytes) -> Answer {
    run_bulk(node, None, params, body).await
}

async fn bulk_into(State(node): State<Arc<Node>>, Path(name): Path<String>, params: Params, body: Bytes) -> Answer {
    run_bulk(node, Some(name), params, body).await
}

/// One action of a `_bulk` body, or why it cannot run.
struct BulkItem {
    action: &'static str,
    index: String,
    id: Option<String>,
    op: Result<WriteOp, EsError>,
}

fn parse_bulk(
    body: &[u8],
    default_index: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<Vec<BulkItem>, EsError> {
    let text = std::str::from_utf8(body).map_err(|_| EsError::illegal_argument("the bulk body is not UTF-8"))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut items = Vec::new();
    while let Some(line) = lines.next() {
        let header: Value = serde_json::from_str(line).map_err(|err| {
            EsError::illegal_argument(format!("Malformed action/metadata line [{}]: {err}", items.len() + 1))
        })?;
        let (action, meta) =
            header.as_object().filter(|m| m.len() == 1).and_then(|m| m.iter().next()).ok_or_else(|| {
                EsError::illegal_argument(format!(
                    "Malformed action/metadata line [{}], expected one action",
                    items.len() + 1
                ))
            })?;
        let action: &'static str = match action.as_str() {
            "index" => "index",
            "create" => "create",
            "delete" => "delete",
            "update" => "update",
            other => {
                return Err(EsError::illegal_argument(format!(
                    "Malformed action/metadata line [{}], expected one of [create, delete, index, update] but found [{other}]",
                    items.len() + 1
                )));
            }
        };
        let meta = meta.as_object().cloned().unwrap_or_default();
        let index =
            meta.get("_index").and_then(Value::as_str).or(default_index).map(str::to_owned).ok_or_else(|| {
                EsError::new(
                    StatusCode::BAD_REQUEST,
                    "action_request_validation_exception",
                    "Validation Failed: 1: index is missing;",
                )
            })?;
        let id = meta.get("_id").and_then(crate::document::as_text);
        let version = meta.get("version").or_else(|| meta.get("_version")).and_then(Value::as_u64);
        let version_type = meta
            .get("version_type")
            .or_else(|| meta.get("_version_type"))
            .and_then(Value::as_str)
            .or(params.get("version_type").map(String::as_str));
        let version_type = VersionType::parse(version_type);
        let op = match action {
            "delete" => version_type.map(|version_type| WriteOp {
                id: id.clone(),
                action: WriteAction::Delete,
                version,
                version_type,
            }),
            _ => {
                let source_line = lines.next().ok_or_else(|| {
                    EsError::illegal_argument("The bulk request must be terminated by a newline [\\n]")
                })?;
                if action == "update" {
                    Err(EsError::illegal_argument(
                        "bulk [update] is not supported by this node: send [index] with the whole document",
                    ))
                } else {
                    match serde_json::from_str::<Value>(source_line) {
                        Ok(source) => version_type.map(|version_type| WriteOp {
                            id: id.clone(),
                            action: WriteAction::Index { source, create_only: action == "create" },
                            version,
                            version_type,
                        }),
                        Err(err) => Err(EsError::mapper_parsing(format!("failed to parse: {err}"))),
                    }
                }
            }
        };
        items.push(BulkItem { action, index, id, op });
    }
    Ok(items)
}

async fn run_bulk(node: Arc<Node>, default_index: Option<String>, params: Params, body: Bytes) -> Answer {
    let started = Instant::now();
    let items = parse_bulk(&body, default_index.as_deref(), &params)?;
    let answers = blocking(move || {
        // Each index gets its ops in request order, in one commit.
        let mut per_index: Vec<(String, Vec<(usize, WriteOp)>)> = Vec::new();
        let mut answers: Vec<Option<Result<(String, WriteOutcome), EsError>>> =
            (0..items.len()).map(|_| None).collect();
        let mut shapes = Vec::with_capacity(items.len());
        for (position, item) in items.into_iter().enumerate() {
            shapes.push((item.action, item.index.clone(), item.id.clone()));
            match item.op {
                Err(err) => answers[position] = Some(Err(err)),
                Ok(op) => match per_index.iter_mut().find(|(name, _)| *name == item.index) {
                    Some((_, ops)) => ops.push((position, op)),
                    None => per_index.push((item.index, vec![(position, op)])),
                },
            }
        }
        for (name, ops) in per_index {
            match node.index(&name) {
                Err(err) => {
                    for (position, _) in ops {
                        answers[position] = Some(Err(err.clone()));
                    }
                }
                Ok(index) => {
                    let positions: Vec<usize> = ops.iter().map(|(p, _)| *p).collect();
                    let outcomes = index.write(ops.into_iter().map(|(_, op)| op).collect());
                    for (position, outcome) in positions.into_iter().zip(outcomes) {
                        answers[position] = Some(outcome.map(|o| (index.name.clone(), o)));
                    }
                }
            }
        }
        Ok(shapes.into_iter().zip(answers).collect::<Vec<_>>())
    })
    .await?;
    let mut errors = false;
    let items: Vec<Value> = answers
        .into_iter()
        .map(|((action, index, id), answer)| {
            let body = match answer {
                Some(Ok((index_name, outcome))) => outcome.body(&index_name),
                Some(Err(err)) => {
                    errors = true;
                    json!({ "_index": index, "_id": id, "status": err.status.as_u16(), "error": err.cause() })
                }
                None => json!({ "_index": index, "_id": id, "status": 500 }),
            };
            json!({ action: body })
        })
        .collect();
    ok(StatusCode::OK, json!({ "took": started.elapsed().as_millis() as u64, "errors": errors, "items": items }))
}

async fn search_index(State(node): State<Arc<Node>>, Path(name): Path<String>, params: Params, body: Bytes) -> Answer {
    let started = Instant::now();
    let mut body = json_body(&body)?;
    for key in ["from", "size"] {
        if let Some(value) = params.get(key) {
            let n: u64 = value
                .parse()
                .map_err(|_| EsError::illegal_argument(format!("[{key}] must be a number, not [{value}]")))?;
            body[key] = json!(n);
        }
    }
    let answer = blocking(move || search::search(node.index(&name)?.as_ref(), &body, started)).await?;
    ok(StatusCode::OK, answer)
}

async fn count_index(State(node): State<Arc<Node>>, Path(name): Path<String>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let answer = blocking(move || search::count(node.index(&name)?.as_ref(), &body)).await?;
    ok(StatusCode::OK, answer)
}

fn refreshed(count: usize) -> Answer {
    ok(StatusCode::OK, json!({ "_shards": { "total": count, "successful": count, "failed": 0 } }))
}

/// Every acknowledged write is already searchable: a refresh only checks the index exists.
async fn refresh_index(State(node): State<Arc<Node>>, Path(names): Path<String>) -> Answer {
    let names: Vec<&str> = names.split(',').collect();
    for name in &names {
        node.index(name)?;
    }
    refreshed(names.len())
}

async fn refresh_all(State(node): State<Arc<Node>>) -> Answer {
    refreshed(node.indices().len())
}

async fn update_aliases(State(node): State<Arc<Node>>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let actions = body
        .get("actions")
        .and_then(Value::as_array)
        .ok_or_else(|| EsError::parsing("[aliases] requires [actions]"))?;
    let mut parsed = Vec::new();
    for action in actions {
        let (kind, spec) = action
            .as_object()
            .and_then(|m| m.iter().next())
            .ok_or_else(|| EsError::parsing("an alias action must be {\"add\"|\"remove\": {...}}"))?;
        let field = |key: &str| {
            spec.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| EsError::parsing(format!("[{kind}] requires [{key}]")))
        };
        let (index, alias) = (field("index")?, field("alias")?);
        parsed.push(match kind.as_str() {
            "add" => AliasAction::Add { index, alias },
            "remove" => AliasAction::Remove { index, alias },
            other => return Err(EsError::parsing(format!("unknown alias action [{other}]"))),
        });
    }
    blocking(move || node.update_aliases(parsed)).await?;
    ok(StatusCode::OK, json!({ "acknowledged": true, "errors": false }))
}

async fn get_alias(State(node): State<Arc<Node>>, Path(alias): Path<String>) -> Answer {
    let index = node.index(&alias).map_err(|_| {
        EsError::new(StatusCode::NOT_FOUND, "aliases_not_found_exception", format!("alias [{alias}] missing"))
    })?;
    if index.name == alias {
        return Err(EsError::new(
            StatusCode::NOT_FOUND,
            "aliases_not_found_exception",
            format!("alias [{alias}] missing"),
        ));
    }
    ok(StatusCode::OK, json!({ index.name.clone(): { "aliases": { alias: {} } } }))
}
