//! The local server's realtime socket, `GET /ws?ticket=…`: what API Gateway's WebSocket
//! API, its `$connect` authorizer and the `events-stream` fan-out do in production, in
//! one process. Events come from the store's commit ([`supportzen_shared::store::Publishing`])
//! into the [`Hub`], which every open socket listens to; each socket forwards the events
//! its subscriber may see, as the same envelope production sends.
//!
//! A client may send `{"action":"typing","conversationId":"…"}`: the other side of that
//! conversation gets a `typing` frame (at most one per sender and conversation per 2 s;
//! never stored, never a webhook), as production's `typing` route does.
//!
//! A socket is subscribed before its handshake is answered, so every event committed
//! after the client sees the handshake complete reaches it: a client that connects and
//! then reads `after=<last id it saw>` misses nothing (see README, "Realtime").

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use supportzen_shared::domain::{ConversationKey, now_millis};
use supportzen_shared::events::{
    ClientFrame, ConnectTicket, Event, Subscriber, Typing, TypingThrottle,
};
use supportzen_shared::flows;
use supportzen_shared::http::response::error_response;
use supportzen_shared::store::{AgentReader, ConnectTicketRedeemer, EventSink};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

/// The path of the realtime socket.
pub const PATH: &str = "/ws";

/// Events a slow socket may fall behind by before it is closed (code 1013, "try again
/// later"): it reconnects and catches up through the read routes instead.
const BACKLOG: usize = 1024;

/// How often an idle socket is pinged. A socket that has not answered (or sent
/// anything) since the previous ping is stale, and is closed and forgotten.
pub const PING_EVERY: Duration = Duration::from_secs(30);

/// How long one frame may take to be written to a socket. A client that stops reading
/// fills its TCP window and then every write waits: after this the socket is closed,
/// rather than left open and silent.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What the hub passes on: a committed change's event, or someone typing.
enum Signal {
    Event(Event),
    Typing(Typing),
}

/// A signal as the hub passes it on: serialized once, for every socket.
struct Published {
    signal: Signal,
    json: String,
}

/// Where committed events (and typing signals) meet the open sockets.
pub struct Hub {
    events: broadcast::Sender<Arc<Published>>,
    open: watch::Sender<usize>,
    ping_every: Duration,
    /// One typing signal per sender and conversation per interval, across all sockets.
    typing: Mutex<TypingThrottle>,
}

impl Hub {
    pub fn new() -> Self {
        Self::with_ping_interval(PING_EVERY)
    }

    /// A hub whose sockets are pinged every `ping_every` (tests use a short one).
    pub fn with_ping_interval(ping_every: Duration) -> Self {
        Hub {
            events: broadcast::channel(BACKLOG).0,
            open: watch::channel(0).0,
            ping_every,
            typing: Mutex::new(TypingThrottle::default()),
        }
    }

    /// Passes `from`'s typing in `conversation` on to the other side's sockets, if the
    /// sender may see the conversation and has not signalled it in the last 2 s. A frame
    /// that is refused or throttled is dropped without an answer, as in production.
    async fn typing<S: AgentReader>(
        &self,
        store: &S,
        from: &Subscriber,
        conversation: &ConversationKey,
    ) {
        let now = now_millis();
        let throttled = match conversation.resolve_any() {
            Some(id) => !self
                .typing
                .lock()
                .map(|mut throttle| throttle.allow(from, &id, now))
                .unwrap_or(false),
            None => true,
        };
        if throttled {
            return;
        }
        let agent = match from {
            Subscriber::Agent(agent) => Some(agent.clone()),
            Subscriber::Customer(_) => None,
        };
        match flows::typing::typing(store, from, agent, conversation, now).await {
            Ok(typing) => {
                let json = typing.to_json();
                let _ = self.events.send(Arc::new(Published {
                    signal: Signal::Typing(typing),
                    json,
                }));
            }
            Err(err) => tracing::debug!(%err, "typing frame dropped"),
        }
    }

    /// The number of open sockets, as it changes.
    pub fn open_sockets(&self) -> watch::Receiver<usize> {
        self.open.subscribe()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl EventSink for Hub {
    async fn publish(&self, event: Event) {
        let json = event.to_json();
        // No socket open is not an error: nobody is listening.
        let _ = self.events.send(Arc::new(Published {
            signal: Signal::Event(event),
            json,
        }));
    }
}

/// Answers `GET /ws?ticket=…`: redeems the ticket (401 if it is missing, used, expired
/// or forged; nothing is upgraded then) and upgrades to a WebSocket that delivers the
/// ticket's subscriber's events until either side closes it.
pub async fn accept<S: ConnectTicketRedeemer + AgentReader + Send + Sync + 'static>(
    store: &Arc<S>,
    hub: &Arc<Hub>,
    mut request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let upgrade_to_websocket = request
        .headers()
        .get(UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    let key = request.headers().get(SEC_WEBSOCKET_KEY).cloned();
    // Checked before the ticket is redeemed: a request that cannot become a socket
    // must not use it up.
    let (true, Some(key)) = (upgrade_to_websocket, key) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "not_a_websocket",
            "open this path as a WebSocket",
        );
    };
    let ticket = url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "ticket")
        .map(|(_, value)| value.into_owned());
    let Some(Ok(ticket)) = ticket.as_deref().map(ConnectTicket::parse) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "ticket is missing or malformed",
        );
    };
    let subscriber = match store.take_ticket(&ticket.digest(), now_millis()).await {
        Ok(Some(subscriber)) => subscriber,
        Ok(None) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "ticket is unknown, used or expired",
            );
        }
        Err(err) => {
            tracing::error!(%err, "could not redeem a ticket");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "try again shortly",
            );
        }
    };
    // Subscribed now, before the client learns the socket is open: see the module doc.
    let events = hub.events.subscribe();
    let upgrade = hyper::upgrade::on(&mut request);
    let hub = Arc::clone(hub);
    let store = Arc::clone(store);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                let socket =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                hub.open.send_modify(|open| *open += 1);
                tracing::info!(subscriber = subscriber.kind(), "socket opened");
                deliver(socket, &subscriber, events, &hub, &*store).await;
                hub.open.send_modify(|open| *open -= 1);
                tracing::info!(subscriber = subscriber.kind(), "socket closed");
            }
            Err(err) => tracing::debug!(%err, "upgrade failed"),
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept = derive_accept_key(key.as_bytes());
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        HeaderValue::try_from(accept).expect("base64 is a valid header"),
    );
    response
}

/// Forwards the events `subscriber` may see until the socket closes, fails, goes stale
/// or falls too far behind; passes the client's typing frames to the hub.
async fn deliver<T, S>(
    mut socket: WebSocketStream<T>,
    subscriber: &Subscriber,
    mut events: broadcast::Receiver<Arc<Published>>,
    hub: &Hub,
    store: &S,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    S: AgentReader,
{
    let mut ping = tokio::time::interval(hub.ping_every);
    ping.tick().await;
    let mut heard_since_ping = true;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(published) => {
                    if may_see(subscriber, &published.signal)
                        && !sent(&mut socket, Message::text(published.json.as_str())).await
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "socket fell behind; closing it");
                    let frame = CloseFrame {
                        code: CloseCode::Again,
                        reason: "fell behind: reconnect and catch up".into(),
                    };
                    let _ = socket.close(Some(frame)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.next() => match incoming {
                // Anything from the client proves it is there; pings are answered by
                // the protocol layer on the next write or flush.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Text(text))) => {
                    heard_since_ping = true;
                    match ClientFrame::parse(text.as_str()) {
                        Ok(ClientFrame::Typing { conversation }) => {
                            hub.typing(store, subscriber, &conversation).await;
                        }
                        Err(reason) => tracing::debug!(reason, "socket frame ignored"),
                    }
                }
                Some(Ok(_)) => {
                    heard_since_ping = true;
                    if !matches!(tokio::time::timeout(SEND_TIMEOUT, socket.flush()).await, Ok(Ok(()))) {
                        return;
                    }
                }
            },
            _ = ping.tick() => {
                if !heard_since_ping {
                    tracing::info!("socket stale: no answer to the last ping");
                    return;
                }
                heard_since_ping = false;
                if !sent(&mut socket, Message::Ping(Bytes::new())).await {
                    return;
                }
            }
        }
    }
}

/// Writes `message` within [`SEND_TIMEOUT`]; false if the socket failed or stalled.
async fn sent<T>(socket: &mut WebSocketStream<T>, message: Message) -> bool
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::info!("socket stalled: a frame was not taken within the send timeout");
            false
        }
    }
}

/// Agents see every event; a customer, their own conversations' public ones. Typing
/// reaches the other side of its conversation only.
fn may_see(subscriber: &Subscriber, signal: &Signal) -> bool {
    match (signal, subscriber) {
        (Signal::Typing(typing), _) => typing.reaches(subscriber),
        (Signal::Event(_), Subscriber::Agent(_)) => true,
        (Signal::Event(event), Subscriber::Customer(user)) => event.visible_to_customer(user),
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let (parts, body) = error_response(status, code, message, None).into_parts();
    Response::from_parts(parts, Full::new(Bytes::copy_from_slice(&body)))
}
