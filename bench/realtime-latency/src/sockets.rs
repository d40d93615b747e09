//! The benchmark's realtime sockets: each is read by its own task, which notes the
//! instant every `message.created` frame arrives (before parsing it) and counts it, so
//! the run knows when everything it expects has arrived.

use futures_util::StreamExt;
use reqwest::Url;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Whose socket it is, which decides the events it should get.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Customer number `n`'s: their own chat's public events.
    Customer(usize),
    /// An agent's: every event.
    Agent,
}

/// One `message.created` frame, as it arrived.
pub struct Delivery {
    pub message_id: String,
    pub at: Instant,
}

/// What one socket received until the run stopped it.
pub struct SocketLog {
    pub listener: Listener,
    pub deliveries: Vec<Delivery>,
    /// Frames that were not a `message.created` with a message id.
    pub other_frames: usize,
    /// Why the socket ended before the run stopped it (closed by the server, an error).
    pub ended_early: Option<String>,
}

/// Opens the socket at `ws_base` + `/ws?ticket=…`. Once this returns, the handshake
/// has completed, and the server delivers every event committed from then on.
pub async fn open(ws_base: &Url, ticket: &str) -> Result<Stream, String> {
    let mut url = ws_base
        .join("/ws")
        .map_err(|err| format!("--url cannot take the path /ws: {err}"))?;
    url.query_pairs_mut().append_pair("ticket", ticket);
    let (stream, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|err| format!("the socket did not open: {err}"))?;
    Ok(stream)
}

/// Reads `stream` until `stop` turns true or the socket ends, adding one to `received`
/// per `message.created` frame.
pub fn read(
    mut stream: Stream,
    listener: Listener,
    received: Arc<watch::Sender<usize>>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<SocketLog> {
    tokio::spawn(async move {
        let mut log = SocketLog {
            listener,
            deliveries: Vec::new(),
            other_frames: 0,
            ended_early: None,
        };
        loop {
            let frame = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                frame = stream.next() => frame,
            };
            let at = Instant::now();
            match frame {
                Some(Ok(Message::Text(text))) => match message_created(&text) {
                    Some(message_id) => {
                        log.deliveries.push(Delivery { message_id, at });
                        received.send_modify(|n| *n += 1);
                    }
                    None => log.other_frames += 1,
                },
                Some(Ok(Message::Close(frame))) => {
                    log.ended_early = Some(match frame {
                        Some(frame) => {
                            format!("closed by the server: {} {}", frame.code, frame.reason)
                        }
                        None => "closed by the server".to_string(),
                    });
                    return log;
                }
                // Pings are answered by the protocol layer as the socket is read.
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    log.ended_early = Some(format!("failed: {err}"));
                    return log;
                }
                None => {
                    log.ended_early = Some("ended without a close frame".to_string());
                    return log;
                }
            }
        }
        let _ = stream.close(None).await;
        log
    })
}

/// The message id of a `message.created` envelope; `None` for any other frame.
fn message_created(text: &str) -> Option<String> {
    let event: Value = serde_json::from_str(text).ok()?;
    if event["type"] != "message.created" {
        return None;
    }
    event
        .pointer("/data/messageId")
        .and_then(Value::as_str)
        .map(str::to_string)
}
