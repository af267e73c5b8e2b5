//! `bookstore tenant add|list|show|remove` on an AWS stage (its tables on DynamoDB Local)
//! against a real Docker engine: one healthy `bookstore-search` container per tenant with
//! its volume, isolation between tenants, remove/add keeping documents, purge, repair after
//! a SIGKILL, and clear failures (bad ids, a name Bookstore does not own, a port in use, a
//! refused client certificate) that the next add repairs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{Value, json};

use crate::deploy::with_aws_env;
use crate::server::{Server, bookstore, client, login, service, temp_dir};
use crate::up_dynamodb::search_hits;

struct DockerStage {
    docker_host: String,
    stages: PathBuf,
    dynamodb: String,
    /// Tenant ids of this run end with it, so runs never share containers.
    suffix: String,
}

impl DockerStage {
    fn new() -> Option<Self> {
        let docker_host = service("BOOKSTORE_TEST_DOCKER_HOST", "a Docker engine's socket")?;
        let image = service("BOOKSTORE_TEST_SEARCH_IMAGE", "the imported bookstore-search image")?;
        let dynamodb = service("BOOKSTORE_TEST_DYNAMODB_URL", "DynamoDB Local's URL")?;
        let stages = temp_dir("docker-stages");
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let dev =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../stages/dev.yaml")).expect("dev");
        let dev = dev
            .replace("prefix: bookstore-dev", &format!("prefix: bsdocker{suffix}"))
            .replace("  volume_gb: 20\n", &format!("  volume_gb: 20\n  image: {image}\n  networking: host\n"));
        std::fs::write(stages.join("dev.yaml"), dev).expect("stage file");
        Some(Self { docker_host, stages, dynamodb, suffix })
    }

    fn tenant(&self, name: &str) -> String {
        format!("{name}-{}", self.suffix)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = bookstore();
        with_aws_env(&mut command);
        command
            .args(["tenant"])
            .args(args)
            .args(["--stage", "dev", "--stages-dir", self.stages.to_str().expect("utf-8")])
            .args(["--dynamodb-endpoint-url", &self.dynamodb, "--region", "eu-west-1"])
            .env("DOCKER_HOST", &self.docker_host);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("bookstore runs")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let out = self.run(&all);
        assert!(out.status.success(), "bookstore tenant {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("json")
    }

    fn add(&self, tenant: &str) -> Value {
        self.json(&["add", tenant, "--admin-email", "jefa@tienda.example"])
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").arg("-H").arg(&self.docker_host).args(args).output().expect("docker runs")
    }

    fn exists(&self, kind: &str, name: &str) -> bool {
        self.docker(&[kind, "inspect", name]).status.success()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn node_call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("node answers");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn port_of(added: &Value) -> u16 {
    added["search"]["port"].as_u64().expect("port") as u16
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_gets_its_own_healthy_container_that_keeps_its_documents() {
    let Some(stage) = DockerStage::new() else { return };
    let (a, b) = (stage.tenant("a"), stage.tenant("b"));

    let started = Instant::now();
    let added_a = stage.add(&a);
    eprintln!("tenant add {a} → healthy in {:?}", started.elapsed());
    assert_eq!(added_a["search"]["health"], "healthy", "{added_a}");
    assert!(added_a["one_time_password"].is_string());
    let added_b = stage.add(&b);
    assert_eq!(added_b["search"]["health"], "healthy");
    let (port_a, port_b) = (port_of(&added_a), port_of(&added_b));
    assert_ne!(port_a, port_b, "each tenant its own port");
    assert!(stage.exists("volume", &format!("{a}-search-data")) && stage.exists("volume", &format!("{b}-search-data")));

    // A's books live in a's container only.
    let book = json!({ "book_id": "b1", "title": "Cien años de soledad", "deleted": false, "version": 1 });
    let put = format!("http://127.0.0.1:{port_a}/{a}-books/_doc/b1?refresh=wait_for");
    assert_eq!(node_call(reqwest::Method::PUT, put, Some(book)).await.0, 201);
    let query = json!({ "query": { "match": { "title": "soledad" } } });
    let (_, found) =
        node_call(reqwest::Method::POST, format!("http://127.0.0.1:{port_a}/{a}-books/_search"), Some(query.clone()))
            .await;
    assert_eq!(found["hits"]["total"]["value"], 1, "{found}");
    let (status, _) =
        node_call(reqwest::Method::POST, format!("http://127.0.0.1:{port_b}/{a}-books/_search"), Some(query.clone()))
            .await;
    assert_eq!(status, 404, "b's node has no index of a");
    let (_, in_b) =
        node_call(reqwest::Method::POST, format!("http://127.0.0.1:{port_b}/{b}-books/_search"), Some(query)).await;
    assert_eq!(in_b["hits"]["total"]["value"], 0);

    // list and show report container, health, port, documents and disk.
    let listed = stage.json(&["list"]);
    let row = listed.as_array().expect("rows").iter().find(|r| r["tenant"] == a.as_str()).expect("a listed").clone();
    assert_eq!(row["search"]["documents"], 1, "{row}");
    assert!(row["search"]["disk_bytes"].as_u64().is_some_and(|bytes| bytes > 0), "{row}");
    let text = stage.run(&["list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("{a}-search")));
    assert_eq!(stage.json(&["show", &a])[0]["search"]["port"], port_a);

    // Removed, then added again: the volume kept its documents.
    let refused = stage.run(&["remove", &a]);
    assert!(!refused.status.success() && stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert!(stage.run(&["remove", &a, "--yes"]).status.success());
    assert!(!stage.exists("container", &format!("{a}-search")));
    assert!(stage.exists("volume", &format!("{a}-search-data")));
    let again = stage.add(&a);
    assert_eq!((again["search"]["health"].as_str(), port_of(&again)), (Some("healthy"), port_a));
    assert!(again["one_time_password"].is_null(), "an existing tenant gets no new admin");
    let (status, doc) =
        node_call(reqwest::Method::GET, format!("http://127.0.0.1:{port_a}/{a}-books/_doc/b1"), None).await;
    assert_eq!((status, doc["_source"]["title"].as_str()), (200, Some("Cien años de soledad")));

    // A SIGKILL of the container loses no acknowledged document; add repairs it.
    for n in 0..20 {
        let url = format!("http://127.0.0.1:{port_a}/{a}-books/_doc/k{n}");
        let doc = json!({ "book_id": format!("k{n}"), "title": format!("Libro {n}"), "deleted": false, "version": 1 });
        assert_eq!(node_call(reqwest::Method::PUT, url, Some(doc)).await.0, 201);
    }
    assert!(stage.docker(&["kill", "--signal", "KILL", &format!("{a}-search")]).status.success());
    let repaired = stage.add(&a);
    assert_eq!(repaired["search"]["health"], "healthy");
    let (_, count) = node_call(reqwest::Method::GET, format!("http://127.0.0.1:{port_a}/{a}-books/_count"), None).await;
    assert_eq!(count["count"], 21, "every acknowledged document survived");

    // Purge leaves neither container nor volume.
    assert!(stage.run(&["remove", &b, "--purge", "--yes"]).status.success());
    assert!(!stage.exists("container", &format!("{b}-search")));
    assert!(!stage.exists("volume", &format!("{b}-search-data")));
    assert!(stage.run(&["remove", &a, "--purge", "--yes"]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_foreign_names_busy_ports_and_refused_certificates_fail_clearly_and_are_repaired() {
    let Some(stage) = DockerStage::new() else { return };
    for bad in ["", "ABC", "../x", &"a".repeat(200)] {
        let out = stage.run(&["add", bad, "--admin-email", "jefa@tienda.example"]);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(stderr(&out).contains("<tenant>"), "{bad:?}: {}", stderr(&out));
    }

    // A container of that name that Bookstore did not create is not touched.
    let taken = stage.tenant("taken");
    let image = std::env::var("BOOKSTORE_TEST_SEARCH_IMAGE").expect("image");
    assert!(
        stage.docker(&["create", "--name", &format!("{taken}-search"), &image, "/bookstore-search"]).status.success()
    );
    let out = stage.run(&["add", &taken, "--admin-email", "jefa@tienda.example"]);
    assert!(!out.status.success() && stderr(&out).contains("does not manage"), "{}", stderr(&out));
    stage.docker(&["rm", "-f", &format!("{taken}-search")]);

    // A host port in use: the node cannot listen, the add fails with the container's logs.
    // The highest tenant port nothing listens on, held by this test.
    let busy = (9250..=9299)
        .rev()
        .find_map(|port| std::net::TcpListener::bind(("0.0.0.0", port)).ok())
        .expect("a free tenant port to hold");
    let held = busy.local_addr().expect("address").port().to_string();
    let c = stage.tenant("c");
    let out = stage.run(&["add", &c, "--admin-email", "jefa@tienda.example", "--port", &held]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not become healthy") && stderr(&out).contains(&held), "{}", stderr(&out));
    let out = stage.run(&["add", &c, "--admin-email", "jefa@tienda.example", "--port", "9400"]);
    assert_eq!(out.status.code(), Some(2), "a port outside the range is a usage error");
    drop(busy);
    let repaired = stage.json(&["add", &c, "--admin-email", "jefa@tienda.example"]);
    assert_eq!(repaired["search"]["health"], "healthy", "the next add repairs");
    assert_eq!(port_of(&repaired).to_string(), held, "on the port its placement recorded");
    assert!(stage.run(&["remove", &c, "--purge", "--yes"]).status.success());

    // A Docker API that refuses our client certificate: a clear error, nothing created.
    let (Some(tls_host), Some(bad_certs)) = (
        service("BOOKSTORE_TEST_DOCKER_TLS_HOST", "dockerd's TLS address"),
        service("BOOKSTORE_TEST_DOCKER_TLS_BAD", "a refused client certificate"),
    ) else {
        return;
    };
    let d = stage.tenant("d");
    let out = stage
        .command(&["add", &d, "--admin-email", "jefa@tienda.example"])
        .env("DOCKER_HOST", &tls_host)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &bad_certs)
        .output()
        .expect("bookstore runs");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&tls_host.replace("tcp://", "")) || stderr(&out).contains(&tls_host),
        "{}",
        stderr(&out)
    );
    assert!(!stage.exists("container", &format!("{d}-search")));
    let good_certs = service("BOOKSTORE_TEST_DOCKER_TLS_GOOD", "an accepted client certificate").expect("good certs");
    let out = stage
        .command(&["add", &d, "--admin-email", "jefa@tienda.example", "--output", "json"])
        .env("DOCKER_HOST", &tls_host)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &good_certs)
        .env("BOOKSTORE_SEARCH_ADDRESS", "127.0.0.1")
        .output()
        .expect("bookstore runs");
    assert!(out.status.success(), "over TLS with the right certificate: {}", stderr(&out));
    assert!(stage.run(&["remove", &d, "--purge", "--yes"]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_each_tenants_search_from_its_own_container() {
    let Some(stage) = DockerStage::new() else { return };
    let (a, b) = (stage.tenant("shopa"), stage.tenant("shopb"));
    let added_a = stage.add(&a);
    let added_b = stage.add(&b);
    let password = |added: &Value| added["one_time_password"].as_str().expect("password").to_owned();
    let data = temp_dir("up-containers");
    let stages = stage.stages.to_str().expect("utf-8").to_owned();
    let args = ["--stage", "dev", "--stages-dir", &stages, "--dynamodb-endpoint-url", &stage.dynamodb];
    let server = Server::start(&data, &[&args[..], &["--region", "eu-west-1", "--search", "containers"]].concat());
    let http = client();
    let admin_a = login(&http, &server.url, &a, "jefa@tienda.example", &password(&added_a)).await;
    let admin_b = login(&http, &server.url, &b, "jefa@tienda.example", &password(&added_b)).await;
    let created = http
        .post(format!("{}/api/v1/books", server.url))
        .bearer_auth(&admin_a)
        .json(&json!({"isbn": "9780307474728", "title": "Cien años de soledad", "author": "Gabriel García Márquez",
                      "category": "Ficción", "price": "19.90", "stock_quantity": 3, "publication_year": 1967}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while search_hits(&http, &server.url, &admin_a, "solidad").await == 0 {
        assert!(Instant::now() < deadline, "the book never reached a's container");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(search_hits(&http, &server.url, &admin_b, "soledad").await, 0, "b's token sees none of a's books");

    // A reindex fills a new generation and swaps the alias: search never answers empty.
    let watching = {
        let (http, url, token) = (http.clone(), server.url.clone(), admin_a.clone());
        tokio::spawn(async move {
            let mut empty = 0;
            for _ in 0..200 {
                if search_hits(&http, &url, &token, "soledad").await == 0 {
                    empty += 1;
                }
            }
            empty
        })
    };
    let mut reindex = bookstore();
    with_aws_env(&mut reindex);
    let reindexed = reindex
        .args(["reindex", "--tenant", &a])
        .args(args)
        .args(["--region", "eu-west-1"])
        .env("DOCKER_HOST", &stage.docker_host)
        .output()
        .expect("reindex runs");
    assert!(reindexed.status.success(), "reindex: {}", stderr(&reindexed));
    assert!(String::from_utf8_lossy(&reindexed.stdout).contains("reindexed 1 books"));
    assert_eq!(watching.await.expect("watcher"), 0, "search answered empty during the reindex");
    let (_, alias) =
        node_call(reqwest::Method::GET, format!("http://127.0.0.1:{}/_alias/{a}-books", port_of(&added_a)), None).await;
    assert!(alias.get(format!("{a}-books-2")).is_some(), "the alias moved to the new generation: {alias}");
    let count = |port: u16, tenant: String| async move {
        http_count(&format!("http://127.0.0.1:{port}/{tenant}-books/_count")).await
    };
    assert_eq!(count(port_of(&added_a), a.clone()).await, 1, "the book is in a's container");
    assert_eq!(count(port_of(&added_b), b.clone()).await, 0, "and not in b's");
    drop(server);
    for tenant in [&a, &b] {
        assert!(stage.run(&["remove", tenant, "--purge", "--yes"]).status.success());
    }
    let _ = std::fs::remove_dir_all(data);
}

async fn http_count(url: &str) -> u64 {
    let (_, body) = node_call(reqwest::Method::GET, url.to_owned(), None).await;
    body["count"].as_u64().expect("count")
}
