//! DynamoDB failing: throttling, service errors, transaction conflicts, an unreachable
//! endpoint and a table deleted under a running server must reach the client as 503 with
//! `Retry-After`, never as 500.
//! DynamoDB Local cannot throttle, so a stub endpoint answers in DynamoDB's wire format.

use aws_smithy_types::retry::RetryConfig;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use supportzen_shared::Config;
use supportzen_shared::domain::ChatId;
use supportzen_shared::dynamo::{DynamoStore, client};
use supportzen_shared::http::handlers::live_chat;
use supportzen_shared::store::NoFiles;
use supportzen_tests::token;

const EMAIL: &str = "ann@example.com";
const SECRET: &str = "s3cret";

/// What the stub answers for one operation: HTTP status and JSON body.
type Answer = (u16, Value);

fn error(status: u16, kind: &str) -> Answer {
    (
        status,
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": "stub"}),
    )
}

fn known_user() -> Answer {
    (200, json!({"Item": {"secret": {"S": SECRET}}}))
}

/// Requests a stub read: operation and JSON body.
type Requests = Arc<Mutex<Vec<(String, Value)>>>;

/// A DynamoDB endpoint on loopback that answers by operation and records the operations.
async fn stub(answer: fn(&str) -> Answer) -> (String, Arc<Mutex<Vec<String>>>) {
    let (url, seen, _, _) = recording_stub(answer).await;
    (url, seen)
}

/// [`stub`], also keeping each request's body and counting the connections it accepted.
async fn recording_stub(
    answer: fn(&str) -> Answer,
) -> (String, Arc<Mutex<Vec<String>>>, Requests, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let requests: Requests = Arc::new(Mutex::new(Vec::new()));
    let (record, keep) = (seen.clone(), requests.clone());
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            accepted.fetch_add(1, Ordering::SeqCst);
            let (record, keep) = (record.clone(), keep.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let operation = request
                        .headers()
                        .get("x-amz-target")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.split('.').nth(1))
                        .unwrap_or_default()
                        .to_string();
                    record.lock().unwrap().push(operation.clone());
                    let (status, body) = answer(&operation);
                    let keep = keep.clone();
                    async move {
                        use http_body_util::BodyExt;
                        let read = request.into_body().collect().await;
                        let sent = read
                            .ok()
                            .and_then(|b| serde_json::from_slice(&b.to_bytes()).ok())
                            .unwrap_or(Value::Null);
                        keep.lock().unwrap().push((operation, sent));
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/x-amz-json-1.0")
                                .body(Full::new(Bytes::from(body.to_string())))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen, requests, connections)
}

/// A store configured as a Lambda function's (`client::lambda_config`), talking to
/// `endpoint`, retrying at most once, quickly.
fn store_at(endpoint: &str) -> DynamoStore {
    let endpoint = endpoint.to_string();
    let lambda = move |name: &str| match name {
        "AWS_REGION" => Some("us-east-1".to_string()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("local".to_string()),
        "AWS_ENDPOINT_URL_DYNAMODB" => Some(endpoint.clone()),
        _ => None,
    };
    let config = client::lambda_config(lambda).unwrap().with_retry_config(
        RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    DynamoStore::new(config.build().unwrap(), "table")
}

fn send_request() -> Request {
    let body = json!({"chat_id": ChatId::generate().as_str(), "email": EMAIL, "message": "hello"});
    lambda_http::http::Request::builder()
        .method("POST")
        .header("authorization", format!("Bearer {}", token(SECRET, EMAIL)))
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Sends a message through live-chat's handler.
async fn send_message(store: &DynamoStore) -> lambda_http::Response<Body> {
    live_chat(store, &NoFiles, &Config::default(), send_request()).await
}

/// Sends a message through the handler and asserts a retryable 503.
async fn assert_retryable(store: &DynamoStore) {
    let response = send_message(store).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(response.status(), 503, "{body}");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(body["error"]["code"], "unavailable");
}

#[tokio::test]
async fn throttling_and_service_errors_are_503_after_the_configured_retries() {
    let answers: [fn(&str) -> Answer; 5] = [
        |_| error(400, "ProvisionedThroughputExceededException"),
        |_| error(400, "ThrottlingException"),
        |_| error(400, "RequestLimitExceeded"),
        |_| error(500, "InternalServerError"),
        |_| error(503, "ServiceUnavailable"),
    ];
    for answer in answers {
        let (url, seen) = stub(answer).await;
        assert_retryable(&store_at(&url)).await;
        assert_eq!(
            *seen.lock().unwrap(),
            ["GetItem", "GetItem"],
            "retried once, as the client's retry settings say"
        );
    }
}

#[tokio::test]
async fn a_transaction_that_keeps_conflicting_is_retried_then_503() {
    let (url, seen) = stub(|operation| match operation {
        "GetItem" => known_user(),
        _ => (
            400,
            json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
                "CancellationReasons": [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}, {"Code": "None"}]
            }),
        ),
    })
    .await;
    assert_retryable(&store_at(&url)).await;
    let seen = seen.lock().unwrap();
    let writes = seen.iter().filter(|op| *op == "TransactWriteItems").count();
    assert!(
        writes > 2,
        "conflicts are retried by the store, got {seen:?}"
    );
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_503() {
    // Bind a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_retryable(&store_at(&format!("http://127.0.0.1:{port}"))).await;
}

#[tokio::test]
async fn a_dynamodb_that_accepts_but_never_answers_is_503_not_a_hang() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accept connections and hold them open without reading or answering, as a frozen
    // process's kernel would.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    // The guard only turns a hang into a failure; the store's own timeouts end the request.
    tokio::time::timeout(Duration::from_secs(60), assert_retryable(&store_at(&url)))
        .await
        .expect("the request ended");
}

#[tokio::test]
async fn a_read_dynamodb_refuses_is_a_500_and_not_retried() {
    let (url, seen) = stub(|_| error(400, "ValidationException")).await;
    let response = send_message(&store_at(&url)).await;
    assert_eq!(response.status(), 500);
    assert_eq!(*seen.lock().unwrap(), ["GetItem"], "not retried");
}

/// The store's reads and writes go over one HTTP client, so a request that reads then
/// writes opens one connection.
#[tokio::test]
async fn a_read_then_a_write_go_over_one_connection() {
    let (url, seen, _, connections) = recording_stub(|operation| match operation {
        "GetItem" => known_user(),
        _ => (200, json!({})),
    })
    .await;
    let response = send_message(&store_at(&url)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(*seen.lock().unwrap(), ["GetItem", "TransactWriteItems"]);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_table_lost_while_serving_is_503_not_500() {
    let (url, seen) = stub(|_| error(400, "ResourceNotFoundException")).await;
    assert_retryable(&store_at(&url)).await;
    assert_eq!(*seen.lock().unwrap(), ["GetItem"], "not retried");
}

#[tokio::test]
async fn a_non_retryable_error_is_a_500_that_reveals_nothing() {
    let (url, seen) = stub(|operation| match operation {
        "GetItem" => known_user(),
        _ => error(400, "ValidationException"),
    })
    .await;
    let response = send_message(&store_at(&url)).await;
    let text = String::from_utf8_lossy(response.body().as_ref()).to_string();
    assert_eq!(response.status(), 500, "{text}");
    assert!(
        !text.contains("ValidationException") && !text.contains("stub"),
        "{text}"
    );
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(
        *seen.lock().unwrap(),
        ["GetItem", "TransactWriteItems"],
        "not retried"
    );
}

/// A transaction the store sends again (its first attempt timed out or failed on the way,
/// perhaps after DynamoDB committed it) carries the same `ClientRequestToken`: DynamoDB
/// then answers the retry of a committed transaction with success rather than failing
/// it on its own conditions (its upload claims, its receipt), which would have the
/// request release the files of a message it wrote.
#[tokio::test]
async fn a_transaction_sent_again_keeps_its_client_request_token() {
    let (url, _, requests, _) = recording_stub(|operation| match operation {
        "GetItem" => known_user(),
        _ => error(500, "InternalServerError"),
    })
    .await;
    assert_retryable(&store_at(&url)).await;
    let requests = requests.lock().unwrap();
    let tokens: Vec<&str> = requests
        .iter()
        .filter(|(operation, _)| operation == "TransactWriteItems")
        .map(|(_, body)| body["ClientRequestToken"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tokens.len(), 2, "sent, then retried once");
    assert!(!tokens[0].is_empty() && tokens[0].len() <= 36, "{tokens:?}");
    assert_eq!(tokens[0], tokens[1], "the retry is the same transaction");
}
