//! Faults DynamoDB Local never produces (it neither throttles nor expires iterators),
//! answered by a loopback endpoint that speaks DynamoDB's JSON protocol for just the
//! calls each test makes: the adapters must retry, renew, or say clearly what failed.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bookstore_runtime::aws::{Connection, DynamoStreams};
use bookstore_runtime::changes::{ChangeKind, ChangeStream};
use bookstore_runtime::store::{Key, Store, StoreError, Table};
use serde_json::{Value, json};

/// What the fake endpoint answers to one call: its status and JSON body.
type Answer = (StatusCode, Value);

/// Serves `answer(target, body, calls so far of that target)` on a free loopback port.
async fn endpoint(answer: impl Fn(&str, &Value, usize) -> Answer + Send + Sync + 'static) -> (String, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let state = (Arc::new(answer), calls.clone());
    let app = Router::new().fallback(move |headers: HeaderMap, body: String| {
        let (answer, calls) = state.clone();
        async move {
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
            let count = calls.record(&operation);
            let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let (status, reply) = answer(&operation, &request, count);
            Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.0")
                .body(axum::body::Body::from(reply.to_string()))
                .map(IntoResponse::into_response)
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

#[derive(Default)]
struct Calls(std::sync::Mutex<Vec<String>>);

impl Calls {
    /// Records a call and returns how many of that operation came before it.
    fn record(&self, operation: &str) -> usize {
        let mut calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let before = calls.iter().filter(|c| c.as_str() == operation).count();
        calls.push(operation.to_owned());
        before
    }
    fn of(&self, operation: &str) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|c| c.as_str() == operation).count()
    }
}

fn error(code: &str, message: &str) -> Answer {
    (StatusCode::BAD_REQUEST, json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": message}))
}

#[tokio::test]
async fn throttling_is_retried_then_reported_as_throttling_naming_the_table() {
    let (url, calls) = endpoint(|_, _, _| error("ProvisionedThroughputExceededException", "slow down")).await;
    let store = Connection::new("eu-west-1", Some(url)).dynamo_store("bookstore-dev").await;
    let err = store.get(Table::Books, &Key::new("t1#b1", "BOOK#1")).await.expect_err("always throttled");
    assert!(calls.of("GetItem") > 1, "the SDK retried throttling: {} calls", calls.of("GetItem"));
    let StoreError::Unavailable(message) = &err else { panic!("{err:?}") };
    assert!(message.contains("throttled") && message.contains("bookstore-dev-books"), "{message}");
}

#[tokio::test]
async fn throttling_that_ends_is_invisible_to_the_caller() {
    let (url, calls) = endpoint(|_, _, before| match before {
        0 => error("ThrottlingException", "slow down"),
        _ => (StatusCode::OK, json!({"Item": {"pk": {"S": "t1#b1"}, "sk": {"S": "BOOK#1"}, "n": {"N": "7"}}})),
    })
    .await;
    let store = Connection::new("eu-west-1", Some(url)).dynamo_store("bookstore-dev").await;
    let item = store.get(Table::Books, &Key::new("t1#b1", "BOOK#1")).await.expect("retried").expect("found");
    assert_eq!(item["n"], json!(7));
    assert_eq!(calls.of("GetItem"), 2);
}

#[tokio::test]
async fn an_expired_shard_iterator_is_renewed_from_the_checkpoint() {
    let stream_arn = "arn:aws:dynamodb:eu-west-1:000000000000:table/bookstore-dev-books/stream/2026-12-02T00:00:00.000";
    let (url, calls) = endpoint(move |operation, request, before| match operation {
        "DescribeTable" => (
            StatusCode::OK,
            json!({"Table": {"TableName": "bookstore-dev-books", "TableStatus": "ACTIVE", "LatestStreamArn": stream_arn}}),
        ),
        "GetShardIterator" => {
            assert_eq!(request["ShardIteratorType"], "AFTER_SEQUENCE_NUMBER", "{request}");
            assert_eq!(request["SequenceNumber"], "100", "renewed from the checkpoint");
            (StatusCode::OK, json!({"ShardIterator": format!("iterator-{before}")}))
        }
        "GetRecords" if request["ShardIterator"] == "iterator-0" => {
            error("ExpiredIteratorException", "Iterator expired")
        }
        "GetRecords" => (
            StatusCode::OK,
            json!({
                "Records": [{
                    "eventName": "INSERT",
                    "dynamodb": {
                        "Keys": {"pk": {"S": "t1#b1"}, "sk": {"S": "BOOK#1"}},
                        "NewImage": {"pk": {"S": "t1#b1"}, "sk": {"S": "BOOK#1"}, "n": {"N": "1"}},
                        "SequenceNumber": "101",
                        "ApproximateCreationDateTime": 1_764_633_600.0
                    }
                }],
                "NextShardIterator": "iterator-next"
            }),
        ),
        other => error("UnknownOperationException", other),
    })
    .await;
    let connection = Connection::new("eu-west-1", Some(url));
    let streams = DynamoStreams::new(&connection.sdk_config().await, "bookstore-dev", "fake", Duration::from_secs(1));
    let read = streams.read(Table::Books, "shardId-1", Some("100"), 10).await.expect("renewed and read");
    assert_eq!(read.records.len(), 1);
    assert_eq!((read.records[0].sequence.as_str(), read.records[0].kind), ("101", ChangeKind::Insert));
    assert!(!read.closed);
    assert_eq!(calls.of("GetShardIterator"), 2, "one iterator expired, one renewed");
    assert_eq!(calls.of("GetRecords"), 2);
}
