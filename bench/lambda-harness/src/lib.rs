//! A loopback Lambda Runtime API (`/2018-06-01/runtime/…`): the endpoints a custom runtime
//! polls and answers on, with the headers the Rust runtime requires. [`RuntimeApi::spawn`]
//! starts a real `bootstrap` with `AWS_LAMBDA_RUNTIME_API` pointing here; [`RuntimeApi::invoke`]
//! queues an event and waits for the function's answer, as the Lambda service does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

/// What a function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `/response`: the function's result.
    Response(Value),
    /// `/error`: the error it reported (`errorType`, `errorMessage`).
    Error(Value),
}

impl Outcome {
    /// The response, or a panic naming the error.
    pub fn response(self) -> Value {
        match self {
            Outcome::Response(value) => value,
            Outcome::Error(error) => panic!("the function failed: {error}"),
        }
    }
}

/// Why an invocation got no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum NoAnswer {
    /// The function reported `/init/error` before serving.
    InitError(Value),
    TimedOut(Duration),
}

type Waiters = Mutex<HashMap<String, mpsc::Sender<Outcome>>>;

struct Shared {
    events: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<(String, Value)>>,
    waiters: Waiters,
    init_error: Mutex<Option<Value>>,
    function_arn: String,
    /// The deadline each invocation is given.
    timeout: Duration,
}

/// The Runtime API on a loopback port, served from its own thread.
pub struct RuntimeApi {
    address: SocketAddr,
    queue: tokio::sync::mpsc::UnboundedSender<(String, Value)>,
    shared: Arc<Shared>,
    function_name: String,
    _server: std::thread::JoinHandle<()>,
}

impl RuntimeApi {
    /// Listens on a free loopback port for the function `function_name`.
    pub fn start(function_name: &str) -> Self {
        let (queue, events) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(events),
            waiters: Mutex::default(),
            init_error: Mutex::default(),
            function_arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"),
            timeout: Duration::from_secs(30),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port for the Runtime API");
        let address = listener.local_addr().expect("its address");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let router = routes(shared.clone());
        let server = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, router).await.expect("Runtime API server");
            });
        });
        Self { address, queue, shared, function_name: function_name.to_owned(), _server: server }
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` carries it.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Starts `bootstrap` as Lambda does, with `environment` added to the variables Lambda
    /// sets itself; its output goes to `log` when given.
    pub fn spawn(&self, bootstrap: &Path, environment: &[(String, String)], log: Option<&Path>) -> Child {
        let mut command = Command::new(bootstrap);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", self.function_name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "harness")
            .envs(environment.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        match log.map(std::fs::File::create) {
            Some(Ok(file)) => {
                let copy = file.try_clone().expect("log file");
                command.stdout(copy).stderr(file);
            }
            _ => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        command.spawn().unwrap_or_else(|err| panic!("cannot start {}: {err}", bootstrap.display()))
    }

    /// Queues `event` and waits up to `within` for the function's answer.
    pub fn invoke(&self, event: Value, within: Duration) -> Result<Outcome, NoAnswer> {
        let id = uuid::Uuid::new_v4().to_string();
        let (answered, answer) = mpsc::channel();
        self.shared.waiters.lock().expect("waiters").insert(id.clone(), answered);
        self.queue.send((id.clone(), event)).expect("the server runs");
        let deadline = Instant::now() + within;
        loop {
            match answer.recv_timeout(Duration::from_millis(20)) {
                Ok(outcome) => return Ok(outcome),
                Err(mpsc::RecvTimeoutError::Disconnected) => unreachable!("the waiter is kept until answered"),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(error) = self.init_error() {
                return Err(NoAnswer::InitError(error));
            }
            if Instant::now() > deadline {
                self.shared.waiters.lock().expect("waiters").remove(&id);
                return Err(NoAnswer::TimedOut(within));
            }
        }
    }

    /// What the function posted to `/init/error`, if it did.
    pub fn init_error(&self) -> Option<Value> {
        self.shared.init_error.lock().expect("init error").clone()
    }
}

fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared)
}

/// Long-polls for the next event, with the headers a runtime reads.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let Some((id, event)) = shared.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + shared.timeout;
    let mut headers = HeaderMap::new();
    let mut header = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    header("lambda-runtime-aws-request-id", id);
    header("lambda-runtime-deadline-ms", deadline.as_millis().to_string());
    header("lambda-runtime-invoked-function-arn", shared.function_arn.clone());
    header("lambda-runtime-trace-id", format!("Root=1-{:08x}-{}", deadline.as_secs(), uuid::Uuid::new_v4().simple()));
    header("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, event.to_string()).into_response()
}

fn answer(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiters.lock().expect("waiters").remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn parsed(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, Outcome::Response(parsed(&body)))
}

async fn error(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, Outcome::Error(parsed(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *shared.init_error.lock().expect("init error") = Some(parsed(&body));
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API (payload 2.0) event for one request.
pub fn http_event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut header_map = serde_json::Map::new();
    for (name, value) in headers {
        header_map.insert(name.to_ascii_lowercase(), Value::String((*value).to_owned()));
    }
    if body.is_some() {
        header_map.insert("content-type".to_owned(), Value::String("application/json".to_owned()));
    }
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "harness",
            "domainName": "harness.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "harness",
            "http": { "method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "harness" },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "07/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1_796_644_800_000_u64,
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false,
    })
}
