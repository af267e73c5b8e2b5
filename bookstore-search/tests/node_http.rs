//! `bookstore-search` as a process: the official Python clients (8.x and 9.x) against it,
//! its REST shapes and errors, and no acknowledged write lost to a SIGKILL.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The node binary on a free port over a data directory; killed on drop.
struct Node {
    child: Child,
    url: String,
    data_dir: PathBuf,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl Node {
    fn start(data_dir: PathBuf, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_bookstore-search"))
            .args(["--data-dir", &data_dir.to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start bookstore-search");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "bookstore-search did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Node { child, url, data_dir, port }
    }

    fn fresh() -> Self {
        let dir = std::env::temp_dir().join(format!("bookstore-search-test-{}-{}", std::process::id(), free_port()));
        Node::start(dir, free_port())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn python(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(path) => Some(path),
        Err(_) => {
            assert!(
                std::env::var_os("BOOKSTORE_TEST_REQUIRE_SERVICES").is_none(),
                "{variable} is not set but services are required"
            );
            eprintln!("skipped: set {variable} to a Python with the elasticsearch client (scripts/test does)");
            None
        }
    }
}

fn run_client(variable: &str) {
    let Some(python) = python(variable) else { return };
    let node = Node::fresh();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/es_client.py");
    let output = Command::new(python).args([script, &node.url, "shop-books"]).output().expect("run python");
    assert!(
        output.status.success(),
        "the client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn the_official_python_client_8_works_against_the_node() {
    run_client("BOOKSTORE_TEST_ES8_PYTHON");
}

#[test]
fn the_official_python_client_9_works_against_the_node() {
    run_client("BOOKSTORE_TEST_ES9_PYTHON");
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn errors_have_elasticsearchs_shape_and_every_answer_names_the_product() {
    let node = Node::fresh();
    let client = reqwest::Client::new();
    let (status, headers, body) =
        call(&client, reqwest::Method::GET, format!("{}/missing/_search", node.url), None).await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-elastic-product"], "Elasticsearch");
    assert_eq!(body["error"]["type"], "index_not_found_exception");
    assert_eq!(body["error"]["root_cause"][0]["type"], "index_not_found_exception");
    assert_eq!(body["status"], 404);

    let refused = json!({ "mappings": { "properties": { "shape": { "type": "geo_shape" } } } });
    let (status, _, body) = call(&client, reqwest::Method::PUT, format!("{}/places", node.url), Some(refused)).await;
    assert_eq!((status, body["error"]["type"].as_str()), (400, Some("mapper_parsing_exception")), "{body}");
    let unknown = json!({ "mappings": { "properties": { "t": { "type": "text", "similarity": "boolean" } } } });
    let (status, _, body) = call(&client, reqwest::Method::PUT, format!("{}/places", node.url), Some(unknown)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["reason"].as_str().is_some_and(|r| r.contains("unknown parameter [similarity]")), "{body}");
    let (status, _, _) = call(&client, reqwest::Method::HEAD, format!("{}/places", node.url), None).await;
    assert_eq!(status, 404, "a refused create leaves no index");
    let (status, _, body) = call(&client, reqwest::Method::PUT, format!("{}/Shop", node.url), Some(json!({}))).await;
    assert_eq!((status, body["error"]["type"].as_str()), (400, Some("invalid_index_name_exception")));

    // Clients pin their major version in the media type.
    for (version, expected) in [("8", 200), ("9", 200), ("7", 200), ("5", 400)] {
        let answer = client
            .get(format!("{}/", node.url))
            .header("accept", format!("application/vnd.elasticsearch+json; compatible-with={version}"))
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status().as_u16(), expected, "compatible-with={version}");
        assert_eq!(answer.headers()["x-elastic-product"], "Elasticsearch");
    }
}

#[tokio::test]
async fn bulk_answers_per_item_and_external_versions_survive_deletes() {
    let node = Node::fresh();
    let client = reqwest::Client::new();
    let mapping = json!({ "mappings": { "dynamic": "strict", "properties": { "title": { "type": "text" }, "n": { "type": "long" } } } });
    let (status, _, _) = call(&client, reqwest::Method::PUT, format!("{}/items", node.url), Some(mapping)).await;
    assert_eq!(status, 200);
    let lines = [
        json!({ "index": { "_index": "items", "_id": "a", "version": 10, "version_type": "external" } }),
        json!({ "title": "uno", "n": 1 }),
        json!({ "index": { "_index": "items", "_id": "b" } }),
        json!({ "title": "dos", "n": "not a number" }),
        json!({ "create": { "_index": "items", "_id": "c" } }),
        json!({ "title": "tres", "colour": "red" }),
        json!({ "delete": { "_index": "items", "_id": "a", "version": 11, "version_type": "external" } }),
        json!({ "index": { "_index": "nowhere", "_id": "d" } }),
        json!({ "title": "cuatro" }),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let answer = client
        .post(format!("{}/_bulk", node.url))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("bulk");
    let answer: Value = answer.json().await.expect("json");
    assert_eq!(answer["errors"], true);
    let statuses: Vec<u64> = answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i.as_object().and_then(|o| o.values().next()).and_then(|v| v["status"].as_u64()).unwrap_or(0))
        .collect();
    assert_eq!(statuses, vec![201, 400, 400, 200, 404], "{answer}");
    assert_eq!(answer["items"][2]["create"]["error"]["type"], "strict_dynamic_mapping_exception");

    // The delete's tombstone keeps version 11: an older upsert replayed later loses.
    let stale = format!("{}/items/_doc/a?version=10&version_type=external", node.url);
    let (status, _, body) = call(&client, reqwest::Method::PUT, stale, Some(json!({ "title": "uno" }))).await;
    assert_eq!((status, body["error"]["type"].as_str()), (409, Some("version_conflict_engine_exception")));
    let (status, _, _) = call(&client, reqwest::Method::GET, format!("{}/items/_doc/a", node.url), None).await;
    assert_eq!(status, 404);
    let (_, _, count) = call(&client, reqwest::Method::GET, format!("{}/items/_count", node.url), None).await;
    assert_eq!(count["count"], 0, "tombstones are not documents");
}

#[tokio::test]
async fn an_alias_swap_moves_searches_to_the_new_index_at_once() {
    let node = Node::fresh();
    let client = reqwest::Client::new();
    let mapping = json!({ "mappings": { "properties": { "title": { "type": "text" } } }, "aliases": { "books": {} } });
    call(&client, reqwest::Method::PUT, format!("{}/books-1", node.url), Some(mapping.clone())).await;
    call(
        &client,
        reqwest::Method::PUT,
        format!("{}/books/_doc/1?refresh=wait_for", node.url),
        Some(json!({ "title": "viejo" })),
    )
    .await;
    let mut second = mapping;
    second.as_object_mut().expect("object").remove("aliases");
    call(&client, reqwest::Method::PUT, format!("{}/books-2", node.url), Some(second)).await;
    call(&client, reqwest::Method::PUT, format!("{}/books-2/_doc/1", node.url), Some(json!({ "title": "nuevo" })))
        .await;
    let steal = json!({ "actions": [{ "add": { "index": "books-2", "alias": "books" } }] });
    let (status, _, refused) =
        call(&client, reqwest::Method::POST, format!("{}/_aliases", node.url), Some(steal)).await;
    assert_eq!(status, 400, "an alias names one index: moving it needs the removal too: {refused}");
    let swap = json!({ "actions": [
        { "remove": { "index": "books-1", "alias": "books" } },
        { "add": { "index": "books-2", "alias": "books" } }
    ] });
    let (status, _, _) = call(&client, reqwest::Method::POST, format!("{}/_aliases", node.url), Some(swap)).await;
    assert_eq!(status, 200);
    let (_, _, found) = call(&client, reqwest::Method::GET, format!("{}/books/_doc/1", node.url), None).await;
    assert_eq!(found["_source"]["title"], "nuevo");
    assert_eq!(found["_index"], "books-2");
}

#[tokio::test]
async fn a_sigkill_loses_no_acknowledged_write() {
    let mut node = Node::fresh();
    let client = reqwest::Client::new();
    let mapping = json!({ "mappings": { "properties": { "n": { "type": "long" } } } });
    call(&client, reqwest::Method::PUT, format!("{}/writes", node.url), Some(mapping)).await;
    let url = node.url.clone();
    let acknowledged_so_far = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = acknowledged_so_far.clone();
    let writer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut acknowledged = Vec::new();
        for n in 0..10_000u64 {
            let sent = client
                .put(format!("{url}/writes/_doc/{n}"))
                .header("content-type", "application/json")
                .body(json!({ "n": n }).to_string())
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => {
                    acknowledged.push(n);
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                _ => break,
            }
        }
        acknowledged
    });
    // Kill mid-stream: once 50 writes were acknowledged, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged_so_far.load(std::sync::atomic::Ordering::SeqCst) < 50 {
        assert!(Instant::now() < deadline, "the node acknowledged too few writes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.kill();
    let acknowledged = writer.await.expect("writer");
    assert!(acknowledged.len() > 10, "the node acknowledged only {} writes before the kill", acknowledged.len());
    let restarted = Node::start(node.data_dir.clone(), node.port);
    for n in &acknowledged {
        let (status, _, _) =
            call(&client, reqwest::Method::GET, format!("{}/writes/_doc/{n}", restarted.url), None).await;
        assert_eq!(status, 200, "acknowledged write {n} was lost");
    }
    let _ = std::fs::remove_dir_all(&node.data_dir);
}
