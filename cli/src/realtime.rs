//! The local server's realtime socket, `GET /ws?ticket=…`: what API Gateway's WebSocket
//! API, its `$connect` authorizer and the `events-stream` fan-out do in production, in
//! one process. Events come from the store's commit (the SQLite store's event journal,
//! see [`crate::relay`]; [`supportzen_shared::store::Publishing`] on DynamoDB) into the
//! [`Hub`], which hands each one to the sockets of its audience only: every agent's
//! socket, and the sockets of the conversation's customer when the event is public.
//! Each socket has its own inbox; a socket whose subscriber may not see an event is not
//! woken for it. The socket forwards what it is handed, as the same envelope production
//! sends.
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
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use supportzen_shared::domain::{ConversationKey, UserId, now_millis};
use supportzen_shared::events::{
    ClientFrame, ConnectTicket, Event, Subscriber, Typing, TypingThrottle, Visibility,
};
use supportzen_shared::flows;
use supportzen_shared::http::response::error_response;
use supportzen_shared::store::{AgentReader, ConnectTicketRedeemer, EventSink};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

/// The path of the realtime socket.
pub const PATH: &str = "/ws";

/// Events a slow socket may fall behind by (of those it should get) before it is closed
/// (code 1013, "try again later"): it reconnects and catches up through the read routes
/// instead.
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

/// Who gets a signal: the agents' sockets, and one customer's.
#[derive(Debug, PartialEq, Eq)]
struct Audience<'a> {
    agents: bool,
    customer: Option<&'a UserId>,
}

impl Signal {
    /// Agents see every event; a customer, their own conversations' public ones. Typing
    /// reaches the other side of its conversation only: the agents for the customer's,
    /// that customer for an agent's. (The same rules as [`Event::visible_to_customer`]
    /// and [`Typing::reaches`]; the tests hold them together.)
    fn audience(&self) -> Audience<'_> {
        match self {
            Signal::Event(event) => Audience {
                agents: true,
                customer: (event.visibility == Visibility::Public).then_some(&event.owner),
            },
            Signal::Typing(typing) if typing.for_customer() => Audience {
                agents: false,
                customer: Some(&typing.owner),
            },
            Signal::Typing(_) => Audience {
                agents: true,
                customer: None,
            },
        }
    }
}

/// Which group of sockets a socket is in.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Group {
    Agents,
    Customer(UserId),
}

impl Group {
    fn of(subscriber: &Subscriber) -> Self {
        match subscriber {
            Subscriber::Agent(_) => Group::Agents,
            Subscriber::Customer(user) => Group::Customer(user.clone()),
        }
    }
}

/// One socket's inbox, as the hub holds it.
struct Route {
    inbox: mpsc::Sender<Arc<Published>>,
    /// Set when the inbox was full: the socket fell [`BACKLOG`] events behind.
    behind: Arc<AtomicBool>,
}

/// The open sockets' inboxes, by audience.
#[derive(Default)]
struct Routes {
    next_id: u64,
    agents: HashMap<u64, Route>,
    customers: HashMap<UserId, HashMap<u64, Route>>,
}

impl Routes {
    fn group_mut(&mut self, group: &Group) -> Option<&mut HashMap<u64, Route>> {
        match group {
            Group::Agents => Some(&mut self.agents),
            Group::Customer(user) => self.customers.get_mut(user),
        }
    }

    fn remove(&mut self, group: &Group, id: u64) {
        if let Some(routes) = self.group_mut(group) {
            routes.remove(&id);
        }
        if let Group::Customer(user) = group
            && self.customers.get(user).is_some_and(HashMap::is_empty)
        {
            self.customers.remove(user);
        }
    }

    /// Hands `published` to every inbox in `group`. An inbox that is full is marked
    /// behind and dropped (its socket closes once it reads that); one whose socket has
    /// gone is dropped. Never waits.
    fn hand(&mut self, group: &Group, published: &Arc<Published>) {
        let Some(routes) = self.group_mut(group) else {
            return;
        };
        let mut gone = Vec::new();
        for (&id, route) in routes.iter() {
            match route.inbox.try_send(Arc::clone(published)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    route.behind.store(true, Ordering::Release);
                    gone.push(id);
                }
                Err(TrySendError::Closed(_)) => gone.push(id),
            }
        }
        for id in gone {
            self.remove(group, id);
        }
    }
}

/// Where committed events (and typing signals) meet the open sockets.
pub struct Hub {
    routes: Mutex<Routes>,
    open: watch::Sender<usize>,
    ping_every: Duration,
    /// One typing signal per sender and conversation per interval, across all sockets.
    typing: Mutex<TypingThrottle>,
}

/// A socket's place in the hub: its inbox, until this is dropped.
struct Subscription {
    hub: Arc<Hub>,
    group: Group,
    id: u64,
    inbox: mpsc::Receiver<Arc<Published>>,
    behind: Arc<AtomicBool>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.routes().remove(&self.group, self.id);
    }
}

impl Hub {
    pub fn new() -> Self {
        Self::with_ping_interval(PING_EVERY)
    }

    /// A hub whose sockets are pinged every `ping_every` (tests use a short one).
    pub fn with_ping_interval(ping_every: Duration) -> Self {
        Hub {
            routes: Mutex::new(Routes::default()),
            open: watch::channel(0).0,
            ping_every,
            typing: Mutex::new(TypingThrottle::default()),
        }
    }

    /// The routes, even if a thread panicked holding them: every change to them is
    /// complete before it can panic (none does).
    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new inbox for `subscriber`'s socket: it gets every signal passed on from now
    /// that its subscriber may see, until the subscription is dropped.
    fn subscribe(self: &Arc<Self>, subscriber: &Subscriber) -> Subscription {
        let (sender, inbox) = mpsc::channel(BACKLOG);
        let behind = Arc::new(AtomicBool::new(false));
        let group = Group::of(subscriber);
        let mut routes = self.routes();
        let id = routes.next_id;
        routes.next_id += 1;
        let route = Route {
            inbox: sender,
            behind: Arc::clone(&behind),
        };
        match &group {
            Group::Agents => routes.agents.insert(id, route),
            Group::Customer(user) => routes
                .customers
                .entry(user.clone())
                .or_default()
                .insert(id, route),
        };
        drop(routes);
        Subscription {
            hub: Arc::clone(self),
            group,
            id,
            inbox,
            behind,
        }
    }

    /// Hands `signal` to the inboxes of its audience. The lock is held while it is
    /// handed out (never across an await), so every socket gets signals in one order.
    fn pass_on(&self, signal: Signal, json: String) {
        let published = Arc::new(Published { signal, json });
        let audience = published.signal.audience();
        let mut routes = self.routes();
        if audience.agents {
            routes.hand(&Group::Agents, &published);
        }
        if let Some(user) = audience.customer {
            routes.hand(&Group::Customer(user.clone()), &published);
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
                self.pass_on(Signal::Typing(typing), json);
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

impl Hub {
    /// Hands `event` to the sockets that may see it, now (it never waits): what a
    /// journaling store's commit calls (`crate::relay`).
    pub fn publish_now(&self, event: Event) {
        let json = event.to_json();
        // No socket open is not an error: nobody is listening.
        self.pass_on(Signal::Event(event), json);
    }
}

impl EventSink for Hub {
    async fn publish(&self, event: Event) {
        self.publish_now(event);
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
    // If the upgrade fails, dropping the subscription forgets it.
    let subscription = hub.subscribe(&subscriber);
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
                deliver(socket, &subscriber, subscription, &hub, &*store).await;
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

/// Forwards the events its subscription is handed until the socket closes, fails, goes
/// stale or falls too far behind; passes the client's typing frames to the hub.
async fn deliver<T, S>(
    mut socket: WebSocketStream<T>,
    subscriber: &Subscriber,
    mut subscription: Subscription,
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
            handed = subscription.inbox.recv() => {
                // The hub drops a subscription's route only when its inbox overflowed
                // (or the socket is gone, which ends this loop first).
                let published = match handed {
                    Some(published) if !subscription.behind.load(Ordering::Acquire) => published,
                    _ => {
                        tracing::warn!("socket fell behind; closing it");
                        let frame = CloseFrame {
                            code: CloseCode::Again,
                            reason: "fell behind: reconnect and catch up".into(),
                        };
                        let _ = socket.close(Some(frame)).await;
                        return;
                    }
                };
                if !sent(&mut socket, Message::text(published.json.as_str())).await {
                    return;
                }
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

fn refuse(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let (parts, body) = error_response(status, code, message, None).into_parts();
    Response::from_parts(parts, Full::new(Bytes::copy_from_slice(&body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use supportzen_shared::domain::{Agent, AgentId, ChatId, ConversationId, DisplayName, Email};
    use supportzen_shared::events::EventType;

    fn user(email: &str) -> UserId {
        Email::parse(email).unwrap().user_id().clone()
    }

    fn agent(id: &str) -> Agent {
        Agent {
            id: AgentId::parse(id).unwrap(),
            name: DisplayName::parse("Sam").unwrap(),
        }
    }

    /// An event named `id` in a conversation of `owner`'s.
    fn event(id: &str, owner: &UserId, visibility: Visibility) -> Event {
        Event {
            id: id.to_string(),
            kind: EventType::MessageCreated,
            conversation: ConversationId::Chat(ChatId::generate()),
            owner: owner.clone(),
            occurred_at: 1,
            visibility,
            message_id: None,
            data: json!({}),
        }
    }

    /// `from` typing in a conversation of `owner`'s.
    fn typing(owner: &UserId, from: Subscriber) -> Typing {
        Typing {
            conversation: ConversationId::Chat(ChatId::generate()),
            owner: owner.clone(),
            agent: match &from {
                Subscriber::Agent(agent) => Some(agent.clone()),
                Subscriber::Customer(_) => None,
            },
            from,
            occurred_at: 1,
        }
    }

    /// Every frame waiting in `subscription`'s inbox, in order, without waiting.
    fn drain(subscription: &mut Subscription) -> Vec<String> {
        let mut frames = Vec::new();
        while let Ok(published) = subscription.inbox.try_recv() {
            frames.push(published.json.clone());
        }
        frames
    }

    fn routes(hub: &Hub) -> (usize, usize) {
        let routes = hub.routes();
        let customers = routes.customers.values().map(HashMap::len).sum();
        (routes.agents.len(), customers)
    }

    #[tokio::test]
    async fn each_signal_reaches_exactly_the_sockets_that_may_see_it() {
        let hub = Arc::new(Hub::new());
        let (ann, bob, cy) = (
            user("ann@example.com"),
            user("bob@example.com"),
            user("cy@example.com"),
        );
        let sam = Subscriber::Agent(agent("agent-7"));
        let mut ann_phone = hub.subscribe(&Subscriber::Customer(ann.clone()));
        let mut ann_laptop = hub.subscribe(&Subscriber::Customer(ann.clone()));
        let mut bob_socket = hub.subscribe(&Subscriber::Customer(bob.clone()));
        let mut sam_socket = hub.subscribe(&sam);
        let mut kim_socket = hub.subscribe(&Subscriber::Agent(agent("agent-8")));

        hub.publish(event("ann-public", &ann, Visibility::Public))
            .await;
        hub.publish(event("ann-note", &ann, Visibility::Agents))
            .await;
        hub.publish(event("bob-public", &bob, Visibility::Public))
            .await;
        // Nobody of Cy's is listening: the agents still get it.
        hub.publish(event("cy-public", &cy, Visibility::Public))
            .await;
        let ann_types = typing(&ann, Subscriber::Customer(ann.clone()));
        let sam_types_to_ann = typing(&ann, sam.clone());
        let sam_types_to_bob = typing(&bob, sam.clone());
        for signal in [&ann_types, &sam_types_to_ann, &sam_types_to_bob] {
            hub.pass_on(Signal::Typing(signal.clone()), signal.to_json());
        }

        let ids = |frames: Vec<String>| -> Vec<String> {
            frames
                .iter()
                .map(|frame| {
                    let value: serde_json::Value = serde_json::from_str(frame).unwrap();
                    match value["type"].as_str().unwrap() {
                        "typing" => format!("typing:{}", value["conversationId"].as_str().unwrap()),
                        _ => value["id"].as_str().unwrap().to_string(),
                    }
                })
                .collect()
        };
        let typing_in = |signal: &Typing| format!("typing:{}", signal.conversation.key());
        let ann_gets = vec!["ann-public".to_string(), typing_in(&sam_types_to_ann)];
        assert_eq!(ids(drain(&mut ann_phone)), ann_gets);
        assert_eq!(ids(drain(&mut ann_laptop)), ann_gets);
        assert_eq!(
            ids(drain(&mut bob_socket)),
            vec!["bob-public".to_string(), typing_in(&sam_types_to_bob)]
        );
        let agents_get = vec![
            "ann-public".to_string(),
            "ann-note".to_string(),
            "bob-public".to_string(),
            "cy-public".to_string(),
            typing_in(&ann_types),
        ];
        assert_eq!(ids(drain(&mut sam_socket)), agents_get);
        assert_eq!(ids(drain(&mut kim_socket)), agents_get);
    }

    /// Routing by audience keeps the rules the shared types state, for every kind of
    /// signal and subscriber.
    #[test]
    fn the_audience_is_who_may_see_the_signal() {
        let (ann, bob) = (user("ann@example.com"), user("bob@example.com"));
        let subscribers = [
            Subscriber::Customer(ann.clone()),
            Subscriber::Customer(bob.clone()),
            Subscriber::Agent(agent("agent-7")),
            Subscriber::Agent(agent("agent-8")),
        ];
        let mut signals = Vec::new();
        for owner in [&ann, &bob] {
            for visibility in [Visibility::Public, Visibility::Agents] {
                signals.push(Signal::Event(event("e", owner, visibility)));
            }
            for from in &subscribers {
                signals.push(Signal::Typing(typing(owner, from.clone())));
            }
        }
        for signal in &signals {
            let audience = signal.audience();
            for subscriber in &subscribers {
                let may_see = match (signal, subscriber) {
                    (Signal::Typing(typing), _) => typing.reaches(subscriber),
                    (Signal::Event(_), Subscriber::Agent(_)) => true,
                    (Signal::Event(event), Subscriber::Customer(user)) => {
                        event.visible_to_customer(user)
                    }
                };
                let routed = match subscriber {
                    Subscriber::Agent(_) => audience.agents,
                    Subscriber::Customer(user) => audience.customer == Some(user),
                };
                assert_eq!(routed, may_see, "{subscriber:?} and {audience:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_disconnected_socket_is_forgotten_and_the_others_still_receive() {
        let hub = Arc::new(Hub::new());
        let ann = user("ann@example.com");
        let gone = hub.subscribe(&Subscriber::Customer(ann.clone()));
        let mut staying = hub.subscribe(&Subscriber::Customer(ann.clone()));
        let gone_agent = hub.subscribe(&Subscriber::Agent(agent("agent-7")));
        assert_eq!(routes(&hub), (1, 2));
        drop(gone);
        drop(gone_agent);
        assert_eq!(routes(&hub), (0, 1));
        hub.publish(event("after", &ann, Visibility::Public)).await;
        assert_eq!(drain(&mut staying).len(), 1);
        drop(staying);
        assert_eq!(routes(&hub), (0, 0));
        assert!(hub.routes().customers.is_empty(), "no empty group is kept");
    }

    /// A socket that does not take its events is dropped once BACKLOG are waiting for
    /// it, and marked behind; the others keep getting theirs.
    #[tokio::test]
    async fn a_socket_that_falls_behind_is_dropped_without_holding_up_the_others() {
        let hub = Arc::new(Hub::new());
        let ann = user("ann@example.com");
        let slow = hub.subscribe(&Subscriber::Customer(ann.clone()));
        let mut quick = hub.subscribe(&Subscriber::Customer(ann.clone()));
        let mut received = 0;
        for n in 0..=BACKLOG {
            hub.publish(event(&format!("e{n}"), &ann, Visibility::Public))
                .await;
            received += drain(&mut quick).len();
        }
        assert_eq!(received, BACKLOG + 1);
        assert!(slow.behind.load(Ordering::Acquire));
        assert!(!quick.behind.load(Ordering::Acquire));
        assert_eq!(routes(&hub), (0, 1));
    }
}
