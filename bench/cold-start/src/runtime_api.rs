//! A minimal Lambda Runtime API, enough for `lambda_runtime`: hands out events on
//! `GET /2018-06-01/runtime/invocation/next` and reports every response, error and init
//! error to the harness with the instant it arrived.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

/// What the function did, and when the emulator saw it.
#[derive(Debug)]
pub enum Note {
    /// The function asked for its next event (the first time: init is over).
    NextRequested(Instant),
    /// The function answered an invocation.
    Response(Instant, String),
    /// The function reported an invocation or init error.
    Error(String),
}

/// One emulator, serving one function process.
pub struct RuntimeApi {
    pub address: SocketAddr,
    events: mpsc::UnboundedSender<String>,
    pub notes: mpsc::UnboundedReceiver<Note>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (events, pending) = mpsc::unbounded_channel::<String>();
        let (notify, notes) = mpsc::unbounded_channel::<Note>();
        let pending = Arc::new(Mutex::new(pending));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (pending, notify) = (pending.clone(), notify.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request| handle(request, pending.clone(), notify.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            address,
            events,
            notes,
        })
    }

    /// Queues an event for the function's next `GET /next`.
    pub fn invoke(&self, event: String) {
        let _ = self.events.send(event);
    }

    pub async fn next_note(&mut self) -> Option<Note> {
        self.notes.recv().await
    }
}

async fn handle(
    request: Request<Incoming>,
    pending: Arc<Mutex<mpsc::UnboundedReceiver<String>>>,
    notify: mpsc::UnboundedSender<Note>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        let _ = notify.send(Note::NextRequested(Instant::now()));
        let event = pending.lock().await.recv().await.unwrap_or_default();
        let response = Response::builder()
            .header(
                "lambda-runtime-aws-request-id",
                "00000000-0000-0000-0000-000000000000",
            )
            .header("lambda-runtime-deadline-ms", "99999999999999")
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0",
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event)))
            .expect("a valid response");
        return Ok(response);
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let note = if path.ends_with("/response") {
        Note::Response(Instant::now(), body)
    } else {
        Note::Error(format!("{method} {path}: {body}"))
    };
    let _ = notify.send(note);
    Ok(Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .expect("a valid response"))
}
