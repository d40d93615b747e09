//! A DynamoDB endpoint on loopback that answers instantly and successfully, so the
//! harness measures the functions, not a database. Every user is provisioned with the
//! sample events' secret; every write succeeds; the ticket counter counts; every
//! conversation is the demo user's, and a read answers a full page (20 conversations, or
//! 50 messages: the sample events' page sizes).

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

/// The secret the sample events in events/ are signed with.
pub const DEMO_SECRET: &str = "demo-secret";

/// Starts the stub; returns its address.
pub async fn start() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let counter = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(request, counter.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

async fn answer(
    request: Request<Incoming>,
    counter: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('.').nth(1))
        .unwrap_or_default();
    let operation = operation.to_string();
    let sent = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let body = match operation.as_str() {
        "GetItem" => format!(r#"{{"Item":{{"secret":{{"S":"{DEMO_SECRET}"}}}}}}"#),
        "UpdateItem" => format!(
            r#"{{"Attributes":{{"value":{{"N":"{}"}}}}}}"#,
            counter.fetch_add(1, Ordering::Relaxed) + 1
        ),
        "BatchGetItem" => batch_get(&sent),
        "Query" if contains(&sent, b"IndexName") => page(20, conversation),
        "Query" => page(50, message),
        _ => "{}".to_string(),
    };
    Ok(Response::builder()
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The user (with the demo secret) and the conversation `TKT-001`, owned by them.
fn batch_get(sent: &[u8]) -> String {
    // The table is the only key of RequestItems: {"RequestItems":{"<table>":{...}}}.
    let text = String::from_utf8_lossy(sent);
    let table = text
        .split("\"RequestItems\":{\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("bench");
    format!(
        r#"{{"Responses":{{"{table}":[{{"pk":{{"S":"USER#demo@example.com"}},"secret":{{"S":"{DEMO_SECRET}"}}}},{}]}},"UnprocessedKeys":{{}}}}"#,
        conversation(1)
    )
}

fn page(count: usize, item: fn(usize) -> String) -> String {
    let items: Vec<String> = (1..=count).map(item).collect();
    format!(
        r#"{{"Items":[{}],"Count":{count},"ScannedCount":{count}}}"#,
        items.join(",")
    )
}

/// A ticket's `META` item, as the store writes it.
fn conversation(n: usize) -> String {
    format!(
        r#"{{"pk":{{"S":"CONV#TKT-{n:03}"}},"sk":{{"S":"META"}},"id":{{"S":"TKT-{n:03}"}},"kind":{{"S":"ticket"}},"owner":{{"S":"demo@example.com"}},"open":{{"BOOL":true}},"created_at":{{"N":"1764547200000"}},"last_activity_at":{{"N":"1764547200000"}},"gsi1pk":{{"S":"USER#demo@example.com"}},"gsi1sk":{{"S":"ticket#1764547200000#TKT-{n:03}"}},"last_message_id":{{"S":"msg-019aa6f0-0000-7000-8000-{n:012}"}},"last_message_author":{{"S":"customer"}},"last_message_preview":{{"S":"I was charged twice for my subscription this month."}}}}"#
    )
}

/// A message item, as the store writes it.
fn message(n: usize) -> String {
    format!(
        r#"{{"pk":{{"S":"CONV#TKT-001"}},"sk":{{"S":"MSG#msg-019aa6f0-0000-7000-8000-{n:012}"}},"id":{{"S":"msg-019aa6f0-0000-7000-8000-{n:012}"}},"author":{{"S":"customer"}},"body":{{"S":"Here is the receipt for the second charge, as you asked."}},"sent_at":{{"N":"1764547200000"}}}}"#
    )
}
