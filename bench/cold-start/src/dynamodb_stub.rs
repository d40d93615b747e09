//! A DynamoDB endpoint on loopback that answers instantly and successfully, so the
//! harness measures the functions, not a database. Every user is provisioned with the
//! sample events' secret; every write succeeds; the ticket counter counts.

use http_body_util::Full;
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
    let body = match operation {
        "GetItem" => format!(r#"{{"Item":{{"secret":{{"S":"{DEMO_SECRET}"}}}}}}"#),
        "UpdateItem" => format!(
            r#"{{"Attributes":{{"value":{{"N":"{}"}}}}}}"#,
            counter.fetch_add(1, Ordering::Relaxed) + 1
        ),
        _ => "{}".to_string(),
    };
    Ok(Response::builder()
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response"))
}
