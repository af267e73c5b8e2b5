//! `bookstore up --stage dev --dynamodb-endpoint-url URL` on DynamoDB Local: the API on the
//! stage's tables (created from the `Table` model), the DynamoDB Streams consumers feeding
//! the search index, resumed from their checkpoints after a SIGKILL; what the tables hold,
//! read back with the AWS CLI. With `--endpoint-url` on moto too, the lake is moto's S3,
//! read back with the AWS CLI as well.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::crash::{checkouts_then_kill, register_buyers, stocked_books};
use crate::deploy::with_aws_env;
use crate::search_feed::{burst_then_kill, converges, create_books};
use crate::server::{Server, client, login, run, service, temp_dir};

pub(crate) struct Emulated {
    pub(crate) url: String,
    pub(crate) aws_cli: String,
    /// A stages directory whose `dev` stage has a prefix of this test's own.
    pub(crate) stages: PathBuf,
    pub(crate) prefix: String,
    pub(crate) data: PathBuf,
    /// moto's URL, when the lake is on its S3.
    moto: Option<String>,
    /// The region every call names (moto keeps one Athena result queue per region).
    region: &'static str,
}

impl Emulated {
    pub(crate) fn new(label: &str) -> Option<Self> {
        let url = service("BOOKSTORE_TEST_DYNAMODB_URL", "DynamoDB Local's URL")?;
        let aws_cli = service("BOOKSTORE_TEST_AWS_CLI", "the aws CLI from the test venv")?;
        let stages = temp_dir(&format!("{label}-stages"));
        let prefix = format!("bs{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let dev = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../stages/dev.yaml"))
            .expect("dev stage");
        let dev = dev.replace("prefix: bookstore-dev", &format!("prefix: {prefix}"));
        std::fs::write(stages.join("dev.yaml"), dev).expect("stage file");
        Some(Self { url, aws_cli, stages, prefix, data: temp_dir(label), moto: None, region: "eu-west-1" })
    }

    /// DynamoDB Local for the tables and streams, moto for the lake's S3.
    fn with_s3(label: &str) -> Option<Self> {
        let moto = service("BOOKSTORE_TEST_MOTO_URL", "a moto server's URL")?;
        let mut emulated = Self::new(label)?;
        emulated.moto = Some(moto);
        Some(emulated)
    }

    fn stage_args(&self) -> Vec<String> {
        let stages = self.stages.to_str().expect("utf-8 path").to_owned();
        let mut args = ["--stage", "dev", "--stages-dir", &stages, "--dynamodb-endpoint-url", &self.url]
            .map(str::to_owned)
            .to_vec();
        args.extend(["--region".to_owned(), self.region.to_owned()]);
        if let Some(moto) = &self.moto {
            args.extend(["--endpoint-url".to_owned(), moto.clone()]);
        }
        args
    }

    /// The stage's lake bucket on moto (whose account is always 123456789012).
    fn lake_bucket(&self) -> String {
        format!("{}-lake-123456789012", self.prefix)
    }

    /// Every line of every lake object under `prefix`, copied out of moto's S3 with the
    /// AWS CLI: key → its JSON lines.
    fn lake_objects(&self, prefix: &str) -> BTreeMap<String, Vec<Value>> {
        let moto = self.moto.as_deref().expect("a lake on moto");
        let copy = temp_dir("lake-copy");
        let mut command = Command::new(&self.aws_cli);
        with_aws_env(&mut command);
        let out = command
            .args(["s3", "sync", "--region", self.region, "--endpoint-url", moto, "--only-show-errors"])
            .arg(format!("s3://{}/{prefix}", self.lake_bucket()))
            .arg(&copy)
            .output()
            .expect("aws runs");
        assert!(out.status.success(), "aws s3 sync: {}", String::from_utf8_lossy(&out.stderr));
        let mut objects = BTreeMap::new();
        let mut pending = vec![copy.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("copy").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("object");
                let lines = text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
                let key = path.strip_prefix(&copy).expect("inside").to_string_lossy().into_owned();
                objects.insert(format!("{prefix}{key}"), lines);
            }
        }
        let _ = std::fs::remove_dir_all(copy);
        objects
    }

    pub(crate) fn add_tenant(&self, tenant: &str, admin: &str) -> String {
        let data = self.data.to_str().expect("utf-8 path").to_owned();
        let mut args = vec!["tenant", "add", tenant, "--admin-email", admin, "--data-dir", &data, "--output", "json"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        args.extend(self.stage_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let added = run(&args);
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
        let printed: Value = serde_json::from_slice(&added.stdout).expect("json output");
        printed["one_time_password"].as_str().expect("password").to_owned()
    }

    fn start(&self) -> Server {
        let args = self.stage_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::start(&self.data, &args)
    }

    /// The AWS CLI against moto, its JSON answer.
    fn moto_cli(&self, args: &[&str]) -> Value {
        let moto = self.moto.as_deref().expect("moto");
        let mut command = Command::new(&self.aws_cli);
        with_aws_env(&mut command);
        let out = command
            .args(args)
            .args(["--region", self.region, "--endpoint-url", moto, "--output", "json"])
            .output()
            .expect("aws runs");
        assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// Every query execution moto's Athena received in the stage's workgroup.
    fn athena_executions(&self) -> Vec<Value> {
        crate::athena_aws::executions_in(&self.prefix, |args| self.moto_cli(args))
    }

    /// Every item of a table, as the AWS CLI reads it (DynamoDB's own JSON).
    fn scan(&self, table: &str) -> Vec<Value> {
        let mut command = Command::new(&self.aws_cli);
        with_aws_env(&mut command);
        let out = command
            .args(["dynamodb", "scan", "--region", self.region, "--endpoint-url", &self.url, "--output", "json"])
            .args(["--table-name", &format!("{}-{table}", self.prefix)])
            .output()
            .expect("aws runs");
        assert!(out.status.success(), "aws dynamodb scan: {}", String::from_utf8_lossy(&out.stderr));
        let body: Value = serde_json::from_slice(&out.stdout).expect("scan json");
        body["Items"].as_array().expect("items").clone()
    }
}

impl Emulated {
    /// Places `tenant`'s search at a node already listening on `port` (its placement row,
    /// as `tenant add` writes it) and creates its indices there.
    pub(crate) async fn place_search(&self, tenant: &str, port: u16, url: &str) {
        use bookstore_runtime::search::placement::{self, SearchPlacement};
        let store = bookstore_runtime::aws::Connection::new(self.region, Some(self.url.clone()))
            .dynamo_store(&self.prefix)
            .await;
        let tenant_id = bookstore_runtime::domain::TenantId::parse(tenant).expect("tenant");
        let row = SearchPlacement {
            tenant_id: tenant_id.clone(),
            port,
            image: "bookstore-search:test".to_owned(),
            container: format!("{tenant}-search"),
            volume: format!("{tenant}-search-data"),
            updated_at: chrono::Utc::now(),
        };
        placement::put(&store, &row).await.expect("placement row");
        let search = bookstore_runtime::elasticsearch::ElasticsearchSearch::at(url);
        for kind in
            [bookstore_runtime::elasticsearch::IndexKind::Books, bookstore_runtime::elasticsearch::IndexKind::Purchases]
        {
            search.ensure_index(&tenant_id, kind).await.expect("indices");
        }
    }

    /// The titles of the live books in `tenant`'s index on the node at `url`, sorted.
    pub(crate) async fn indexed_titles(url: &str, tenant: &str) -> Vec<String> {
        let body: Value = reqwest::Client::new()
            .post(format!("{url}/{tenant}-books/_search"))
            .json(&json!({"size": 100, "query": {"bool": {"filter": [{"term": {"deleted": false}}]}}}))
            .send()
            .await
            .expect("search answers")
            .json()
            .await
            .expect("json");
        let mut titles: Vec<String> = body["hits"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("hits: {body}"))
            .iter()
            .filter_map(|hit| hit["_source"]["title"].as_str().map(str::to_owned))
            .collect();
        titles.sort();
        titles
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.stages);
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

pub(crate) async fn search_hits(http: &reqwest::Client, url: &str, token: &str, query: &str) -> u64 {
    let body: Value = http
        .get(format!("{url}/api/v1/books/search?q={query}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("search answers")
        .json()
        .await
        .expect("json");
    body["pagination"]["total_items"].as_u64().expect("total")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_written_on_dynamodb_becomes_searchable_through_the_streams_consumer() {
    let Some(emulated) = Emulated::new("up-ddb") else { return };
    let password = emulated.add_tenant("feed-shop", "admin@feed.example");
    let server = emulated.start();
    let http = client();
    let admin = login(&http, &server.url, "feed-shop", "admin@feed.example", &password).await;
    let created = http
        .post(format!("{}/api/v1/books", server.url))
        .bearer_auth(&admin)
        .json(&json!({"isbn": "9780307474728", "title": "Cien años de soledad", "author": "Gabriel García Márquez", "category": "Ficción", "price": "19.90", "stock_quantity": 3, "publication_year": 1967}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(30);
    while search_hits(&http, &server.url, &admin, "soledad").await == 0 {
        assert!(Instant::now() < deadline, "the Streams consumer never indexed the book");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // What DynamoDB holds, read by the AWS CLI: every key starts with its tenant (the
    // tenant registry is the one partition without one), with SPEC §4's attributes.
    let books = emulated.scan("books");
    let book = books
        .iter()
        .find(|item| item["sk"]["S"].as_str().is_some_and(|sk| sk.starts_with("BOOK#")))
        .expect("the book's item");
    for attribute in ["book_id", "isbn", "title", "author", "category", "price", "stock_quantity", "gsi1pk", "gsi2pk"] {
        assert!(book.get(attribute).is_some(), "book item without {attribute}: {book}");
    }
    assert_eq!(book["price"]["S"], "19.90", "money keeps its exact decimal");
    for table in ["books", "users", "purchases", "shopping_cart", "user_favorites", "user_wishlist", "idempotency"] {
        for item in emulated.scan(table) {
            let pk = item["pk"]["S"].as_str().expect("pk is a string");
            assert!(pk.starts_with("feed-shop#"), "{table} item whose key does not start with its tenant: {item}");
        }
    }
    for item in emulated.scan("tenants") {
        let pk = item["pk"]["S"].as_str().expect("pk");
        assert!(pk == "TENANT#feed-shop" || pk == "TENANTS", "tenants item {item}");
    }
    assert!(!emulated.scan("users").is_empty(), "the admin is stored on DynamoDB, not on this machine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_on_dynamodb_and_the_streams_consumer_resumes_from_its_checkpoints() {
    let Some(emulated) = Emulated::new("up-ddb-kill") else { return };
    let password = emulated.add_tenant("feed-shop", "admin@feed.example");
    let mut server = emulated.start();
    let http = client();
    let admin = login(&http, &server.url, "feed-shop", "admin@feed.example", &password).await;
    let ids = create_books(&http, &server.url, &admin, 20).await;

    burst_then_kill(&http, &mut server, &admin, &ids, 200).await;

    let checkpoints = emulated.data.join("dev/feeds.redb");
    assert!(checkpoints.exists(), "the consumers keep their checkpoints in the data directory");
    let restarted = emulated.start();
    let state = converges(&http, &restarted.url, &admin).await;
    assert_eq!(state.len(), 20);
    assert!(state.values().any(|(title, _)| title.contains("revisión")), "the burst changed something before the kill");
    assert_eq!(search_hits(&http, &restarted.url, &admin, "libro").await, 20, "no book is indexed twice");
}

/// `{tenant}/purchases/year=YYYY/month=MM/day=DD/batch-<20 hex>.json`.
fn is_purchase_batch_key(tenant: &str, key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    let numbered = |part: &str, name: &str, digits: usize| {
        part.strip_prefix(name)
            .and_then(|p| p.strip_prefix('='))
            .is_some_and(|n| n.len() == digits && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let file = |name: &str| {
        name.strip_prefix("batch-")
            .and_then(|n| n.strip_suffix(".json"))
            .is_some_and(|h| h.len() == 20 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    matches!(parts.as_slice(), [t, "purchases", year, month, day, name]
        if *t == tenant && numbered(year, "year", 4) && numbered(month, "month", 2) && numbered(day, "day", 2) && file(name))
}

/// The purchase ids the purchases table holds, as the AWS CLI scans it.
fn stored_purchase_ids(emulated: &Emulated) -> BTreeSet<String> {
    emulated
        .scan("purchases")
        .iter()
        .filter(|item| item["sk"]["S"].as_str().is_some_and(|sk| sk.starts_with("PURCHASE#")))
        .map(|item| item["purchase_id"]["S"].as_str().expect("purchase_id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_moto_each_purchase_lands_once_in_the_s3_lake_across_a_sigkill() {
    let Some(emulated) = Emulated::with_s3("up-s3-lake") else { return };
    let tenant = "lake-shop";
    let password = emulated.add_tenant(tenant, "admin@lake.example");
    let mut server = emulated.start();
    let http = client();
    let admin = login(&http, &server.url, tenant, "admin@lake.example", &password).await;
    let books = stocked_books(&http, &server.url, &admin, 4, 500).await;
    let buyers = register_buyers(&http, &server.url, tenant, 6).await;

    let acknowledged = checkouts_then_kill(&http, &mut server, &buyers, &books, 40).await;
    let restarted = emulated.start();
    let reply = http
        .post(format!("{}/api/v1/cart/add", restarted.url))
        .bearer_auth(&buyers[0])
        .json(&json!({"book_id": books[0], "quantity": 1}))
        .send()
        .await
        .expect("cart add");
    assert_eq!(reply.status(), 200);
    let reply = http
        .post(format!("{}/api/v1/purchases/checkout", restarted.url))
        .bearer_auth(&buyers[0])
        .json(&json!({"payment_method": "card", "shipping_address": {"name": "Alicia", "line1": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "country": "ES"}}))
        .send()
        .await
        .expect("checkout");
    assert_eq!(reply.status(), 201);

    let stored = stored_purchase_ids(&emulated);
    assert!(acknowledged.iter().all(|a| stored.contains(&a.purchase_id)), "an acknowledged purchase is stored");
    let prefix = format!("{tenant}/purchases/");
    let deadline = Instant::now() + Duration::from_secs(90);
    let objects = loop {
        let objects = emulated.lake_objects(&prefix);
        let landed: BTreeSet<String> = objects
            .values()
            .flatten()
            .map(|row| row["purchase_id"].as_str().expect("purchase_id").to_owned())
            .collect();
        if landed.is_superset(&stored) {
            break objects;
        }
        assert!(Instant::now() < deadline, "{} of {} purchases reached the S3 lake", landed.len(), stored.len());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let mut landed: Vec<String> =
        objects.values().flatten().map(|row| row["purchase_id"].as_str().expect("id").to_owned()).collect();
    landed.sort();
    let unique: Vec<String> = stored.iter().cloned().collect();
    assert_eq!(landed, unique, "each purchase exactly once in S3, none lost, none doubled, nothing else");
    assert!(objects.keys().all(|key| is_purchase_batch_key(tenant, key)), "{:?}", objects.keys());
    assert!(objects.len() <= 6, "purchases land in batches, not a file each: {} objects", objects.len());
    let columns: BTreeSet<String> =
        bookstore_runtime::lake::schema::columns(bookstore_runtime::lake::Dataset::Purchases)
            .iter()
            .map(|c| c.name.to_owned())
            .collect();
    for row in objects.values().flatten() {
        let members: BTreeSet<String> = row.as_object().expect("object").keys().cloned().collect();
        assert_eq!(members, columns, "no column outside the lake schema (no shipping address): {row}");
    }
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_emulated_aws_analytics_reach_athena_scoped_to_the_tenant_with_execution_parameters() {
    let Some(mut emulated) = Emulated::with_s3("up-athena") else { return };
    let _athena = crate::athena_aws::MOTO_ATHENA.lock().await;
    emulated.region = "eu-central-1";
    let password = emulated.add_tenant("stats-shop", "admin@stats.example");
    let other_password = emulated.add_tenant("other-shop", "admin@other.example");
    let server = emulated.start();
    let http = client();
    let admin = login(&http, &server.url, "stats-shop", "admin@stats.example", &password).await;
    let other = login(&http, &server.url, "other-shop", "admin@other.example", &other_password).await;

    let report = json!({"report": "top_books", "parameters": {"year": "2026", "category": "Poesía' OR '1'='1"}});
    let reply = http
        .post(format!("{}/analytics/stats-shop/report", server.url))
        .bearer_auth(&admin)
        .json(&report)
        .send()
        .await
        .expect("report");
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap_or_default());
    let executions = emulated.athena_executions();
    assert_eq!(executions.len(), 1, "{executions:?}");
    let sql = executions[0]["Query"].as_str().expect("query");
    let database = format!("{}_lake", emulated.prefix);
    assert!(sql.contains(&format!("\"{database}\".\"purchases\" WHERE tenant_id = 'stats-shop'")), "{sql}");
    assert!(!sql.contains("2026") && !sql.contains("Poes") && !sql.contains('$'), "no parameter in the text: {sql}");
    assert_eq!(sql.matches('?').count(), 6, "{sql}");
    assert_eq!(
        executions[0]["ExecutionParameters"],
        json!(["'2026'", "'2026'", "''", "''", "'Poesía'' OR ''1''=''1'", "'Poesía'' OR ''1''=''1'"]),
        "the values go as Athena's execution parameters, each one literal"
    );
    assert_eq!(executions[0]["QueryExecutionContext"]["Database"], database);

    // Another shop's admin is refused before anything reaches Athena.
    for (method, path) in [("GET", "/analytics/stats-shop"), ("POST", "/analytics/stats-shop/report")] {
        let request = match method {
            "GET" => http.get(format!("{}{path}", server.url)),
            _ => http.post(format!("{}{path}", server.url)).json(&report),
        };
        let reply = request.bearer_auth(&other).send().await.expect("answers");
        assert_eq!(reply.status(), 403, "{method} {path}");
    }
    assert_eq!(emulated.athena_executions().len(), 1, "a refused request sends Athena nothing");

    let reply =
        http.get(format!("{}/analytics/stats-shop", server.url)).bearer_auth(&admin).send().await.expect("dashboard");
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap_or_default());
    let executions = emulated.athena_executions();
    assert_eq!(executions.len(), 6, "the dashboard's five figures, each one query");
    assert!(executions.iter().all(|e| {
        e["Query"].as_str().is_some_and(|q| q.contains("tenant_id = 'stats-shop'") && !q.contains("other-shop"))
    }));
    drop(server);
}
