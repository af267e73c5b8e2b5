//! The real `bootstrap` (built for Amazon Linux 2023 by `bookstore package`) under a
//! Lambda Runtime API — our loopback harness, and cargo-lambda's emulator as an outside
//! peer, with the same checks: `api` on DynamoDB Local serves a customer's whole journey
//! from API Gateway HTTP API events, `books-to-search` applies a stream batch to a
//! `bookstore-search` node and reports only its poison record. Each function gets the
//! environment the rendered template gives it, its references filled in for the test.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lambda_harness::{Outcome, RuntimeApi, http_event};
use serde_json::{Value, json};

use crate::deploy::packages;
use crate::server::{run, service, temp_dir};
use crate::up_dynamodb::Emulated;

/// The bootstrap out of the packaged zip.
fn bootstrap() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let zip = std::fs::read(packages().join("bootstrap.zip")).expect("the packaged zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("archive");
        let mut entry = archive.by_name("bootstrap").expect("bootstrap in the zip");
        let path = temp_dir("bootstrap").join("bootstrap");
        let mut file = std::fs::File::create(&path).expect("extract");
        std::io::copy(&mut entry, &mut file).expect("extract");
        drop(file);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    })
}

/// The function's environment as the rendered `dev` stack declares it; a value that is a
/// reference (`Ref`, `Fn::GetAtt`, `Fn::Sub`) takes its test value from `references`.
fn rendered_environment(emulated: &Emulated, logical_id: &str, references: &[(&str, &str)]) -> Vec<(String, String)> {
    let stages = emulated.stages.to_str().expect("path");
    let out = run(&["render", "--stage", "dev", "--stages-dir", stages]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stack: Value = serde_yaml::from_slice(&out.stdout).expect("yaml");
    let variables = stack["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{logical_id} has an environment"));
    let mut environment: Vec<(String, String)> = variables
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                _ => references
                    .iter()
                    .find(|(variable, _)| variable == name)
                    .unwrap_or_else(|| panic!("{name} is a reference ({value}); give it a test value"))
                    .1
                    .to_owned(),
            };
            (name.clone(), value)
        })
        .collect();
    environment.extend(
        [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL_DYNAMODB", emulated.url.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    environment
}

/// An event from `tests/fixtures/lambda/`.
/// The api function's rendered environment, with the dev stage's literal secret and stand-ins
/// for the search host and the lake bucket.
fn api_environment(emulated: &Emulated) -> Vec<(String, String)> {
    let references = [
        ("BOOKSTORE_JWT_SECRET", "dev-secret-rotate-me-0123456789abcdef"),
        ("BOOKSTORE_SEARCH_HOST", "127.0.0.1"),
        ("BOOKSTORE_LAKE_BUCKET", "lambda-test-lake"),
    ];
    rendered_environment(emulated, "ApiFunction", &references)
}

pub(crate) fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lambda").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture json")
}

/// A function process that is killed when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const WITHIN: Duration = Duration::from_secs(30);

/// A Runtime API with the bootstrap running against it.
enum Host {
    Harness {
        api: RuntimeApi,
        _function: Running,
    },
    /// `cargo lambda watch --only-lambda-apis` on `port`, invoked with `cargo lambda invoke`.
    CargoLambda {
        binary: String,
        port: u16,
        events: PathBuf,
        _emulator: Running,
        _function: Running,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emulator {
    Harness,
    CargoLambda,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port()
}

/// Waits until something listens on the loopback `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + WITHIN;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Host {
    /// Starts the bootstrap under `emulator` with `environment`; its output goes to `log`.
    /// `None` when the emulator is not installed (and services are not required).
    fn start(emulator: Emulator, environment: &[(String, String)], log: &Path) -> Option<Host> {
        match emulator {
            Emulator::Harness => {
                let api = RuntimeApi::start("harness-function");
                let function = Running(api.spawn(bootstrap(), environment, Some(log)));
                Some(Host::Harness { api, _function: function })
            }
            Emulator::CargoLambda => {
                let binary = service("BOOKSTORE_TEST_CARGO_LAMBDA", "cargo-lambda from the test venv")?;
                let port = free_port();
                // It reads the workspace's metadata, so it runs inside it.
                let emulator = Running(
                    std::process::Command::new(&binary)
                        .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
                        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../lambdas"))
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .expect("cargo lambda watch starts"),
                );
                wait_for_port(port, "cargo lambda watch");
                let mut command = std::process::Command::new(bootstrap());
                command
                    .env_clear()
                    .envs(environment.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
                    .env("AWS_LAMBDA_FUNCTION_NAME", "_")
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512");
                let file = std::fs::File::create(log).expect("log");
                command.stdout(file.try_clone().expect("log")).stderr(file);
                let function = Running(command.spawn().expect("the bootstrap starts"));
                let events = temp_dir("cargo-lambda-events");
                Some(Host::CargoLambda { binary, port, events, _emulator: emulator, _function: function })
            }
        }
    }

    fn invoke(&self, event: &Value) -> Outcome {
        match self {
            Host::Harness { api, .. } => api.invoke(event.clone(), WITHIN).expect("an answer"),
            Host::CargoLambda { binary, port, events, .. } => {
                let file = events.join(format!("{}.json", uuid::Uuid::new_v4()));
                std::fs::write(&file, event.to_string()).expect("event file");
                let out = std::process::Command::new(binary)
                    .args(["lambda", "invoke", "-A", "127.0.0.1", "-P", &port.to_string(), "-o", "json", "--data-file"])
                    .arg(&file)
                    .arg("_")
                    .output()
                    .expect("cargo lambda invoke runs");
                if !out.status.success() {
                    return Outcome::Error(Value::String(String::from_utf8_lossy(&out.stderr).into_owned()));
                }
                Outcome::Response(serde_json::from_slice(&out.stdout).expect("a JSON answer"))
            }
        }
    }
}

/// One HTTP request through the function: its status and JSON body.
fn call(host: &Host, method: &str, path: &str, tenant_or_token: Auth<'_>, body: Option<Value>) -> (u16, Value) {
    let header;
    let headers: Vec<(&str, &str)> = match tenant_or_token {
        Auth::Tenant(tenant) => vec![("x-tenant-id", tenant)],
        Auth::Token(token) => {
            header = format!("Bearer {token}");
            vec![("authorization", header.as_str())]
        }
    };
    let answer = host.invoke(&http_event(method, path, &headers, body.as_ref())).response();
    let status = u16::try_from(answer["statusCode"].as_u64().expect("statusCode")).expect("status");
    let text = answer["body"].as_str().unwrap_or_default();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(text).expect("a JSON body") };
    (status, body)
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Tenant(&'a str),
    Token(&'a str),
}

fn login(host: &Host, tenant: &str, email: &str, password: &str) -> String {
    let credentials = json!({"email": email, "password": password});
    let (status, body) = call(host, "POST", "/api/v1/users/login", Auth::Tenant(tenant), Some(credentials));
    assert_eq!(status, 200, "login {email}: {body}");
    body["token"].as_str().expect("token").to_owned()
}

/// Register → login → add to cart → checkout → list purchases, and bad input answered
/// with 4xx envelopes; the log holds the tenant's business metrics.
fn customer_journey(emulator: Emulator) {
    let Some(emulated) = Emulated::new("lambda-api") else { return };
    let admin_password = emulated.add_tenant("lambda-shop", "admin@lambda.example");
    let environment = api_environment(&emulated);
    assert!(environment.iter().any(|(k, v)| k == "BOOKSTORE_FUNCTION" && v == "api"), "{environment:?}");
    let log = emulated.data.join("api.log");
    let Some(host) = Host::start(emulator, &environment, &log) else { return };

    let health = host.invoke(&fixture("http-api-get-health.json")).response();
    assert_eq!(health["statusCode"], 200, "{health}");
    assert_eq!(health["headers"]["x-request-id"], "Cx3Vxj2XliAEMbA=", "API Gateway's request id is ours: {health}");

    let admin = login(&host, "lambda-shop", "admin@lambda.example", &admin_password);
    let new_book = json!({
        "isbn": "9780307474728", "title": "Cien años de soledad", "author": "Gabriel García Márquez",
        "category": "Ficción", "price": "19.90", "stock_quantity": 3, "publication_year": 1967});
    let (status, book) = call(&host, "POST", "/api/v1/books", Auth::Token(&admin), Some(new_book));
    assert_eq!(status, 201, "{book}");
    let book_id = book["book_id"].as_str().expect("id").to_owned();

    let registration = json!({"email": "reader@lambda.example", "password": "a long enough password",
        "first_name": "Ana", "last_name": "Reader"});
    let (status, session) =
        call(&host, "POST", "/api/v1/users/register", Auth::Tenant("lambda-shop"), Some(registration));
    assert_eq!(status, 201, "{session}");
    let token = login(&host, "lambda-shop", "reader@lambda.example", "a long enough password");
    let line = json!({"book_id": book_id, "quantity": 2});
    let (status, cart) = call(&host, "POST", "/api/v1/cart/add", Auth::Token(&token), Some(line));
    assert!(status == 200 || status == 201, "{status} {cart}");
    let (status, purchase) = call(&host, "POST", "/api/v1/purchases/checkout", Auth::Token(&token), Some(json!({})));
    assert_eq!(status, 201, "{purchase}");
    assert_eq!(purchase["total_amount"], "48.16", "2 x 19.90 plus the dev stage tax of 21%: {purchase}");
    let (status, purchases) = call(&host, "GET", "/api/v1/purchases", Auth::Token(&token), None);
    assert_eq!(status, 200, "{purchases}");
    assert_eq!(purchases["data"][0]["purchase_id"], purchase["purchase_id"], "{purchases}");

    // Bad input: enveloped 4xx answers, never a 5xx.
    let bad_line = json!({"book_id": "not-a-uuid", "quantity": 1});
    let (status, body) = call(&host, "POST", "/api/v1/cart/add", Auth::Token(&token), Some(bad_line));
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    let (status, body) = call(&host, "GET", "/api/v1/purchases", Auth::Token("not.a.token"), None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = call(&host, "GET", "/api/v1/nowhere", Auth::Tenant("lambda-shop"), None);
    assert_eq!(status, 404, "{body}");

    // The log: JSON lines, the business metrics as Embedded Metric Format for the tenant.
    let logged = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<Value> = logged.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let metric = |name: &str| {
        lines.iter().any(|l| l["Tenant"] == "lambda-shop" && l.get(name).is_some() && l["_aws"].is_object())
    };
    for name in ["Registrations", "Logins", "Purchases", "Revenue"] {
        assert!(metric(name), "no {name} metric in:\n{logged}");
    }
}

#[test]
fn the_api_bootstrap_serves_a_customer_from_registration_to_purchases_on_dynamodb() {
    customer_journey(Emulator::Harness);
}

#[test]
fn the_api_bootstrap_serves_the_same_journey_under_cargo_lambdas_emulator() {
    customer_journey(Emulator::CargoLambda);
}

/// A login as API Gateway sends it from `source_ip`: the status and the answer's headers.
fn login_from(host: &Host, source_ip: &str, email: &str, password: &str) -> (u16, Value) {
    let credentials = json!({"email": email, "password": password});
    let mut event = http_event("POST", "/api/v1/users/login", &[("x-tenant-id", "ip-shop")], Some(&credentials));
    event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
    let answer = host.invoke(&event).response();
    (u16::try_from(answer["statusCode"].as_u64().expect("statusCode")).expect("status"), answer["headers"].clone())
}

/// The dev stage's 10 failed sign-ins per account and 5 minutes, counted in the stage's
/// `rate_limits` table by API Gateway's source IP: the guesser is slowed, a customer
/// from another address signs in.
#[test]
fn the_api_bootstrap_slows_a_password_guesser_by_api_gateways_source_ip() {
    let Some(emulated) = Emulated::new("lambda-ip") else { return };
    emulated.add_tenant("ip-shop", "admin@ip.example");
    let environment = api_environment(&emulated);
    let Some(host) = Host::start(Emulator::Harness, &environment, &emulated.data.join("api.log")) else { return };
    let registration = json!({"email": "carla@ip.example", "password": "carla-password", "first_name": "Carla"});
    let (status, body) = call(&host, "POST", "/api/v1/users/register", Auth::Tenant("ip-shop"), Some(registration));
    assert_eq!(status, 201, "{body}");

    let mut answered = Vec::new();
    for n in 0..25 {
        let (status, headers) = login_from(&host, "203.0.113.7", "admin@ip.example", &format!("guess-{n}"));
        if status == 429 {
            let wait: u64 = headers["retry-after"].as_str().expect("Retry-After").parse().expect("seconds");
            assert!((1..=300).contains(&wait), "{wait}");
        }
        answered.push(status);
    }
    // At most 20 checked even when a window ends among them.
    let slowed = answered.iter().filter(|status| **status == 429).count();
    assert!(slowed >= 5 && answered.iter().all(|s| *s == 401 || *s == 429), "{answered:?}");
    let (status, _) = login_from(&host, "198.51.100.20", "carla@ip.example", "carla-password");
    assert_eq!(status, 200, "another customer from another address signs in");
}

#[test]
fn an_api_bootstrap_without_its_configuration_reports_an_init_error_naming_it() {
    let Some(emulated) = Emulated::new("lambda-init") else { return };
    let mut environment = rendered_environment(
        &emulated,
        "ApiFunction",
        &[("BOOKSTORE_JWT_SECRET", "x"), ("BOOKSTORE_SEARCH_HOST", "127.0.0.1"), ("BOOKSTORE_LAKE_BUCKET", "b")],
    );
    environment.retain(|(name, _)| name != "BOOKSTORE_TAX_RATE");
    let api = RuntimeApi::start("init-error");
    let _function = Running(api.spawn(bootstrap(), &environment, None));
    let answer = api.invoke(fixture("http-api-get-health.json"), WITHIN);
    let Err(lambda_harness::NoAnswer::InitError(error)) = answer else { panic!("{answer:?}") };
    assert!(error["errorMessage"].as_str().unwrap_or_default().contains("BOOKSTORE_TAX_RATE"), "{error}");
}

#[test]
fn the_books_to_search_bootstrap_reports_exactly_the_poison_record_and_applies_the_rest() {
    poison_batch(Emulator::Harness);
}

#[test]
fn the_books_to_search_bootstrap_does_the_same_under_cargo_lambdas_emulator() {
    poison_batch(Emulator::CargoLambda);
}

/// A stream batch with INSERT, MODIFY, REMOVE and a poison record.
fn poison_batch(emulator: Emulator) {
    let Some(emulated) = Emulated::new("lambda-search") else { return };
    let Some(node) = service("BOOKSTORE_TEST_SEARCH_BINARY", "the bookstore-search binary") else { return };
    let tenant = "fixture-shop";
    emulated.add_tenant(tenant, "admin@fixture.example");
    let port = free_port();
    let data = temp_dir("lambda-search-node");
    let mut node = Running(
        std::process::Command::new(node)
            .args(["--data-dir", data.to_str().expect("path"), "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the search node starts"),
    );
    wait_for_port(port, "the search node");
    let url = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    runtime.block_on(emulated.place_search(tenant, port, &url));

    let environment =
        rendered_environment(&emulated, "BooksToSearchFunction", &[("BOOKSTORE_SEARCH_HOST", "127.0.0.1")]);
    let log = emulated.data.join("books-to-search.log");
    let Some(host) = Host::start(emulator, &environment, &log) else { return };
    let batch = fixture("books-stream-batch.json");
    let poison = batch["Records"][3]["dynamodb"]["SequenceNumber"].clone();
    let started = Instant::now();
    let answer = host.invoke(&batch);
    let Outcome::Response(response) = answer else {
        panic!("{answer:?}; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
    };
    assert_eq!(response, json!({"batchItemFailures": [{"itemIdentifier": poison}]}), "in {:?}", started.elapsed());

    let titles = runtime.block_on(Emulated::indexed_titles(&url, tenant));
    assert_eq!(titles, ["Cien años de soledad", "Orgullo y prejuicio"], "inserted and modified, not removed");
    let _ = node.0.kill();
}

#[test]
fn the_tenant_admin_bootstrap_runs_admin_commands_against_the_docker_api() {
    let Some(emulated) = Emulated::new("lambda-admin") else { return };
    let Some(docker_host) = service("BOOKSTORE_TEST_DOCKER_HOST", "a Docker engine's DOCKER_HOST") else { return };
    emulated.add_tenant("admin-shop", "admin@admin-shop.example");
    let mut environment =
        rendered_environment(&emulated, "TenantAdminFunction", &[("BOOKSTORE_SEARCH_HOST", "127.0.0.1")]);
    environment.push(("DOCKER_HOST".to_owned(), docker_host));
    let log = emulated.data.join("tenant-admin.log");
    let Some(host) = Host::start(Emulator::Harness, &environment, &log) else { return };
    let shown = host.invoke(&json!({"action": "show", "tenant": "admin-shop"}));
    let Outcome::Response(reports) = shown else {
        panic!("{shown:?}; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
    };
    assert_eq!(reports[0]["tenant"], "admin-shop", "{reports}");
    let refused = host.invoke(&json!({"action": "show", "tenant": "Not A Tenant"}));
    assert!(matches!(refused, Outcome::Error(_)), "a malformed command is an error: {refused:?}");
}

#[test]
fn the_api_bootstrap_reads_its_jwt_secret_from_ssm_at_cold_start_and_names_a_missing_one() {
    let Some(emulated) = Emulated::new("lambda-ssm") else { return };
    let Some(moto) = service("BOOKSTORE_TEST_MOTO_URL", "a moto server's URL") else { return };
    let password = emulated.add_tenant("ssm-shop", "admin@ssm-shop.example");
    let parameter = format!("/{}/jwt-secret", emulated.prefix);
    let mut put = std::process::Command::new(&emulated.aws_cli);
    crate::deploy::with_aws_env(&mut put)
        .args(["ssm", "put-parameter", "--type", "SecureString", "--name", &parameter])
        .args(["--value", "a-secret-kept-in-ssm-0123456789abcdef", "--region", "eu-west-1", "--endpoint-url", &moto]);
    let out = put.output().expect("aws runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let references =
        [("BOOKSTORE_JWT_SECRET", "unused"), ("BOOKSTORE_SEARCH_HOST", "127.0.0.1"), ("BOOKSTORE_LAKE_BUCKET", "b")];
    let with_secret_in = |name: &str| {
        let mut environment = rendered_environment(&emulated, "ApiFunction", &references);
        environment.retain(|(variable, _)| variable != "BOOKSTORE_JWT_SECRET");
        environment.push(("BOOKSTORE_JWT_SECRET_SSM".to_owned(), name.to_owned()));
        environment.push(("AWS_ENDPOINT_URL_SSM".to_owned(), moto.clone()));
        environment
    };

    let log = emulated.data.join("api-ssm.log");
    let Some(host) = Host::start(Emulator::Harness, &with_secret_in(&parameter), &log) else { return };
    let token = login(&host, "ssm-shop", "admin@ssm-shop.example", &password);
    let check = json!({"token": token});
    let (status, body) = call(&host, "POST", "/api/v1/users/validate-token", Auth::Tenant("ssm-shop"), Some(check));
    assert_eq!(status, 200, "{body}");
    drop(host);

    let api = RuntimeApi::start("ssm-missing");
    let _function = Running(api.spawn(bootstrap(), &with_secret_in("/nowhere/jwt-secret"), None));
    let answer = api.invoke(fixture("http-api-get-health.json"), WITHIN);
    let Err(lambda_harness::NoAnswer::InitError(error)) = answer else { panic!("{answer:?}") };
    assert!(error["errorMessage"].as_str().unwrap_or_default().contains("/nowhere/jwt-secret"), "{error}");
}
