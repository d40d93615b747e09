//! Webhooks from `supportzen serve`, on both stores: every delivery verifies with the
//! Standard Webhooks project's own Python library; a receiver that fails, or is down for
//! a while, still gets each event exactly once, under one `webhook-id`; a 410 disables
//! its endpoint; a delivery whose endpoint was removed, disabled or unsubscribed since is
//! dropped unattempted; retries that run out leave a dead letter; and deliveries pending
//! when a server stops go out from the next server on the same outbox file.
//!
//! Retries here wait milliseconds, not the server's 24-hour schedule. Nothing sleeps: the
//! tests wait for requests at the receiver and for the worker's reports of its attempts.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use supportzen::webhooks::Attempted;
use supportzen_shared::domain::{
    Author, ChatId, ConversationId, MessageText, NewMessage, Scope, now_millis,
};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::events::delivery::{Delivery, Outcome};
use supportzen_shared::events::{Event, EventType, WebhookEndpoint, WebhookUrl};
use supportzen_sqlite::Outbox;
use supportzen_tests::*;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";

/// How long any one thing may take before the test fails (it is not waited for).
const PATIENCE: Duration = Duration::from_secs(30);

/// Retries a few milliseconds apart.
static FAST: [Duration; 5] = [Duration::from_millis(5); 5];

/// Enough retries to outlast a receiver that is down for a few attempts, ~3.5 s in all.
static PATIENT: [Duration; 12] = [
    Duration::from_millis(10),
    Duration::from_millis(10),
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(1000),
];

/// One retry, a second later.
static ONE_SECOND: [Duration; 1] = [Duration::from_secs(1)];

/// A server delivering webhooks with `schedule` from an in-memory outbox, which is
/// returned too for inspection, on a fresh store with Ann provisioned; and Ann's token.
async fn desk<S: TestStore>(schedule: &'static [Duration]) -> (TestApp<S>, Outbox, String) {
    let outbox = Outbox::open(":memory:").unwrap();
    let app = TestApp::spawn_with_webhooks(S::fresh().await, outbox.clone(), schedule).await;
    app.provision(ANN, ANN_SECRET).await;
    (app, outbox, token(ANN_SECRET, ANN))
}

/// Registers an endpoint for `events` at `url`, as `supportzen webhooks add` does.
async fn register<S: TestStore>(
    app: &TestApp<S>,
    url: &str,
    events: &[EventType],
) -> WebhookEndpoint {
    let endpoint = WebhookEndpoint::new(WebhookUrl::parse(url).unwrap(), events.to_vec());
    app.store.add_webhook(&endpoint).await.unwrap();
    endpoint
}

/// Ann opens a chat (a `message.created` event); returns its id.
async fn open_chat<S: TestStore>(app: &TestApp<S>, ann: &str, text: &str) -> String {
    let opened = app
        .post(LIVE_CREATE, Some(ann), &create_body(ANN, text))
        .await;
    opened.ok()["chatId"].as_str().unwrap().to_string()
}

/// Ann writes in her chat (another `message.created`).
async fn ann_says<S: TestStore>(app: &TestApp<S>, ann: &str, chat: &str, text: &str) {
    app.post(
        LIVE_CHAT,
        Some(ann),
        &json!({"chat_id": chat, "email": ANN, "message": text}),
    )
    .await
    .ok();
}

/// The worker's reports of its attempts, from its start.
fn reports<S>(app: &mut TestApp<S>) -> broadcast::Receiver<Attempted> {
    app.webhooks
        .as_mut()
        .expect("a server with webhooks")
        .attempts()
}

/// The next attempt the worker reports.
async fn next_attempt(attempts: &mut broadcast::Receiver<Attempted>) -> Attempted {
    tokio::time::timeout(PATIENCE, attempts.recv())
        .await
        .expect("the worker attempts a delivery")
        .expect("the worker's reports keep up")
}

/// Waits until `outbox` holds `count` pending deliveries.
async fn until_queued(outbox: &Outbox, count: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while outbox.pending().await.unwrap().len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} deliveries queued"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(outbox.pending().await.unwrap().len(), count);
}

/// Waits until the worker reports `count` deliveries that succeeded, and returns every
/// attempt it reported up to then.
async fn until_delivered(
    attempts: &mut broadcast::Receiver<Attempted>,
    count: usize,
) -> Vec<Attempted> {
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|a: &&Attempted| a.outcome == Outcome::Delivered)
        .count()
        < count
    {
        seen.push(next_attempt(attempts).await);
    }
    seen
}

/// How a test receiver answers one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Answer {
    Status(u16),
    /// Never: the request hangs until the sender gives up.
    Hang,
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) id: String,
    timestamp: String,
    signature: String,
    content_type: String,
    pub(crate) body: String,
    answer: Answer,
}

/// A webhook receiver in the test: records every request and answers as its script
/// says, then 204 once the script is used up.
pub(crate) struct Receiver {
    pub(crate) url: String,
    requests: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub(crate) async fn start(script: &[Answer]) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), script)
    }

    fn on(listener: TcpListener, script: &[Answer]) -> Self {
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let (sent, requests) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(VecDeque::from(script.to_vec())));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (sent, script) = (sent.clone(), Arc::clone(&script));
                let service = service_fn(move |request: Request<Incoming>| {
                    let (sent, script) = (sent.clone(), Arc::clone(&script));
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let header = |name: &str| {
                            parts
                                .headers
                                .get(name)
                                .map_or(String::new(), |v| v.to_str().unwrap().to_string())
                        };
                        let answer = script
                            .lock()
                            .unwrap()
                            .pop_front()
                            .unwrap_or(Answer::Status(204));
                        let _ = sent.send(Received {
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            content_type: header("content-type"),
                            body: String::from_utf8(body.to_vec()).unwrap(),
                            answer,
                        });
                        let status = match answer {
                            Answer::Status(status) => status,
                            Answer::Hang => std::future::pending().await,
                        };
                        let response = Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::new()));
                        Ok::<_, Infallible>(response.unwrap())
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Receiver { url, requests }
    }

    /// The next request it gets.
    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(PATIENCE, self.requests.recv())
            .await
            .expect("a delivery arrives")
            .expect("the receiver runs")
    }

    /// The requests it got and nobody has looked at yet.
    fn unseen(&mut self) -> Vec<Received> {
        std::iter::from_fn(|| self.requests.try_recv().ok()).collect()
    }
}

/// Asserts that `received` carries a valid signature by `endpoint`'s secret.
pub(crate) fn assert_signed(endpoint: &WebhookEndpoint, received: &Received) {
    let timestamp: i64 = received.timestamp.parse().unwrap();
    assert_eq!(
        received.signature,
        endpoint
            .secret
            .sign(&received.id, timestamp, &received.body)
    );
    assert_eq!(received.content_type, "application/json");
}

/// The Python receiver (tests/standardwebhooks/receiver.py), killed when dropped.
struct PythonReceiver {
    child: Child,
    port: u16,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl PythonReceiver {
    fn start(secret: &str) -> Self {
        // The project's own environment (scripts/venv, which ./scripts/test runs), never a
        // global install.
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
        let available = Command::new(python)
            .args(["-c", "import standardwebhooks"])
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            available,
            "this test needs the standardwebhooks package in the project's .venv/: \
             run scripts/venv (./scripts/test does)"
        );
        let mut child = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/standardwebhooks/receiver.py"
            ))
            .env("WEBHOOK_SECRET", secret)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (sent, mut lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sent
                    .send(serde_json::from_str::<Value>(&line).unwrap())
                    .is_err()
                {
                    return;
                }
            }
        });
        let first = lines.blocking_recv().expect("the receiver starts");
        let port = first["listening"]
            .as_u64()
            .expect("it says where it listens") as u16;
        PythonReceiver { child, port, lines }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/webhooks", self.port)
    }

    /// Its report on the next request.
    async fn next(&mut self) -> Value {
        tokio::time::timeout(PATIENCE, self.lines.recv())
            .await
            .expect("the receiver reports a request")
            .expect("the receiver runs")
    }
}

impl Drop for PythonReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn every_delivery_verifies_with_the_standardwebhooks_library<S: TestStore>() {
    let (mut app, _outbox, ann) = desk::<S>(&FAST).await;
    let mut attempts = reports(&mut app);
    // The secret is the endpoint's; the URL is the receiver's, once it has a port.
    let mut endpoint = WebhookEndpoint::new(
        WebhookUrl::parse("http://127.0.0.1/").unwrap(),
        EventType::ALL.to_vec(),
    );
    let mut receiver =
        tokio::task::block_in_place(|| PythonReceiver::start(&endpoint.secret.expose()));
    endpoint.url = WebhookUrl::parse(&receiver.url()).unwrap();
    app.store.add_webhook(&endpoint).await.unwrap();

    // The verifier does verify: a body signed with another secret is refused.
    let other = WebhookEndpoint::new(endpoint.url.clone(), EventType::ALL.to_vec());
    let forged = r#"{"id":"evt_forged"}"#;
    let now = now_millis() / 1000;
    let refused = reqwest::Client::new()
        .post(receiver.url())
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", now.to_string())
        .header(
            "webhook-signature",
            other.secret.sign("evt_forged", now, forged),
        )
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(receiver.next().await["verified"], false);

    // Each kind of event, once.
    let chat = open_chat(&app, &ann, "My invoice is wrong").await;
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let assign = agent_path(Endpoint::AgentAssign, &chat);
    app.agent_post(&assign, &agent, &json!({"assignee": "agent-7"}))
        .await
        .ok();
    let status = agent_path(Endpoint::AgentStatus, &chat);
    app.agent_post(&status, &agent, &json!({"status": "solved"}))
        .await
        .ok();
    let page = app
        .agent_get(&agent_path(Endpoint::AgentMessages, &chat), &agent)
        .await;
    let first = page.ok()["messages"][0]["messageId"].clone();
    let read = agent_path(Endpoint::AgentRead, &chat);
    app.agent_post(&read, &agent, &json!({"up_to": first}))
        .await
        .ok();
    // Ann rates it; the comment is free text, which webhooks never carry.
    let rating = agent_path(Endpoint::ConversationRating, &chat);
    let body = json!({"email": ANN, "rating": 5, "comment": "The invoice is right now"});
    app.post(&rating, Some(&ann), &body).await.ok();

    let mut types = HashSet::new();
    for _ in 0..5 {
        let report = receiver.next().await;
        assert_eq!(report["verified"], true, "{report}");
        let payload = &report["payload"];
        assert_eq!(payload["id"], report["id"]);
        assert_eq!(payload["conversationId"], chat.as_str());
        assert_eq!(payload["data"]["customer"]["email"], ANN);
        assert!(!payload.to_string().contains("invoice"), "thin: {payload}");
        let data = &payload["data"];
        match payload["type"].as_str().unwrap() {
            "message.created" => {
                assert_eq!(
                    (&data["author"], &data["internal"]),
                    (&json!("customer"), &json!(false))
                )
            }
            "conversation.assigned" => assert_eq!(data["assignee"]["id"], "agent-7"),
            "conversation.status_changed" => assert_eq!(data["status"], "solved"),
            "conversation.read" => {
                assert_eq!((&data["reader"], &data["upTo"]), (&json!("agents"), &first))
            }
            "conversation.rated" => {
                assert_eq!(data["rating"], 5);
                assert!(
                    data["ratedAt"].is_i64() && data.get("comment").is_none(),
                    "{data}"
                );
            }
            other => panic!("unexpected event type {other}"),
        }
        types.insert(payload["type"].as_str().unwrap().to_string());
    }
    // Every type the API produces: customer.erased comes from `supportzen users erase`
    // (cli/tests/cli/commands.rs has an endpoint receive it, signed).
    let expected: HashSet<String> = EventType::ALL
        .iter()
        .filter(|k| **k != EventType::CustomerErased)
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(types, expected);
    let seen = until_delivered(&mut attempts, 5).await;
    assert!(
        seen.iter().all(|a| a.outcome == Outcome::Delivered),
        "{seen:?}"
    );
}

async fn a_receiver_that_fails_three_times_then_succeeds_gets_each_event_once<S: TestStore>() {
    let (mut app, outbox, ann) = desk::<S>(&FAST).await;
    let mut attempts = reports(&mut app);
    let failing = [
        Answer::Status(500),
        Answer::Status(503),
        Answer::Status(500),
    ];
    let mut receiver = Receiver::start(&failing).await;
    let endpoint = register(&app, &receiver.url, &[EventType::MessageCreated]).await;

    open_chat(&app, &ann, "hello").await;
    let seen = until_delivered(&mut attempts, 1).await;

    let requests: Vec<Received> = receiver.unseen();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert_eq!(seen.len(), 4, "{seen:?}");
    let answers: Vec<Answer> = requests.iter().map(|r| r.answer).collect();
    assert_eq!(
        answers,
        [failing.to_vec(), vec![Answer::Status(204)]].concat()
    );
    for request in &requests {
        assert_eq!(
            request.id, requests[0].id,
            "one webhook-id on every attempt"
        );
        assert_eq!(request.body, requests[0].body);
        assert_signed(&endpoint, request);
    }
    let numbers: Vec<u32> = seen.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert!(outbox.pending().await.unwrap().is_empty());

    // The next event: delivered at once, once.
    open_chat(&app, &ann, "again").await;
    until_delivered(&mut attempts, 1).await;
    let requests = receiver.unseen();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_ne!(requests[0].id, seen[0].event_id);
    assert!(outbox.pending().await.unwrap().is_empty());
    assert!(outbox.dead().await.unwrap().is_empty());
}

async fn nothing_is_lost_while_the_receiver_is_down<S: TestStore>() {
    let (mut app, outbox, ann) = desk::<S>(&PATIENT).await;
    let mut attempts = reports(&mut app);
    // A port with nobody listening: connections are refused.
    let reserved = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = reserved.local_addr().unwrap();
    drop(reserved);
    let url = format!("http://{address}/webhooks");
    let endpoint = register(&app, &url, &[EventType::MessageCreated]).await;

    let chat = open_chat(&app, &ann, "one").await;
    ann_says(&app, &ann, &chat, "two").await;
    ann_says(&app, &ann, &chat, "three").await;
    // Each was on disk before its request was answered: in the outbox on DynamoDB, in
    // the store's event journal on SQLite, whose relay then queues it in the outbox.
    until_queued(&outbox, 3).await;
    // Down until each event has been refused twice.
    let mut refused: HashMap<String, u32> = HashMap::new();
    while refused.len() < 3 || refused.values().any(|&n| n < 2) {
        let attempt = next_attempt(&mut attempts).await;
        let Outcome::Retry(reason) = &attempt.outcome else {
            panic!("nobody is listening yet: {attempt:?}");
        };
        assert_eq!(reason, "could not connect: connection refused");
        *refused.entry(attempt.event_id).or_default() += 1;
    }

    let mut receiver = Receiver::on(TcpListener::bind(address).await.unwrap(), &[]);
    let mut delivered = HashSet::new();
    while delivered.len() < 3 {
        let request = receiver.next().await;
        assert_signed(&endpoint, &request);
        assert!(delivered.insert(request.id.clone()), "{request:?} twice");
    }
    let ids: HashSet<String> = refused.into_keys().collect();
    assert_eq!(delivered, ids);
    until_delivered(&mut attempts, 3).await;
    assert!(outbox.pending().await.unwrap().is_empty());
    assert!(outbox.dead().await.unwrap().is_empty());
    assert!(receiver.unseen().is_empty());
}

async fn gone_disables_the_endpoint_and_stops_its_deliveries<S: TestStore>() {
    let (mut app, outbox, ann) = desk::<S>(&FAST).await;
    let mut attempts = reports(&mut app);
    let mut gone = Receiver::start(&[Answer::Status(410)]).await;
    let mut kept = Receiver::start(&[]).await;
    let gone_endpoint = register(&app, &gone.url, &[EventType::MessageCreated]).await;
    let kept_endpoint = register(&app, &kept.url, &[EventType::MessageCreated]).await;
    // A delivery the gone endpoint still had coming, due much later.
    let later = NewMessage::now(
        Author::Customer,
        MessageText::parse("later").unwrap(),
        None,
        None,
    );
    let chat = ConversationId::Chat(ChatId::generate());
    let event = Event::message_created(Event::new_id(), &chat, &user(ANN), &later);
    let far = now_millis() + 3_600_000;
    outbox
        .enqueue(vec![Delivery::new(&gone_endpoint.id, &event, far)], far)
        .await
        .unwrap();

    let chat = open_chat(&app, &ann, "hello").await;
    let mut outcomes = HashMap::new();
    while outcomes.len() < 2 {
        let attempt = next_attempt(&mut attempts).await;
        outcomes.insert(attempt.endpoint_id, attempt.outcome);
    }
    assert_eq!(outcomes[&gone_endpoint.id], Outcome::Gone);
    assert_eq!(outcomes[&kept_endpoint.id], Outcome::Delivered);
    let enabled: HashMap<String, bool> = app
        .store
        .webhooks()
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.enabled))
        .collect();
    assert!(!enabled[&gone_endpoint.id]);
    assert!(enabled[&kept_endpoint.id]);
    // What it had coming is dropped, and new events are not queued for it.
    assert!(outbox.pending().await.unwrap().is_empty());
    ann_says(&app, &ann, &chat, "still there?").await;
    let pending: Vec<String> = outbox
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.delivery.endpoint_id)
        .collect();
    assert!(!pending.contains(&gone_endpoint.id), "{pending:?}");
    until_delivered(&mut attempts, 1).await;
    assert_eq!(gone.unseen().len(), 1);
    assert_eq!(kept.unseen().len(), 2);
}

async fn deliveries_to_removed_disabled_or_unsubscribed_endpoints_are_dropped<S: TestStore>() {
    let (mut app, outbox, ann) = desk::<S>(&FAST).await;
    let mut attempts = reports(&mut app);
    let mut unsubscribed_at = Receiver::start(&[]).await;
    let mut disabled_at = Receiver::start(&[]).await;
    let mut removed_at = Receiver::start(&[]).await;
    let mut kept = Receiver::start(&[]).await;
    let unsubscribed = register(&app, &unsubscribed_at.url, &[EventType::StatusChanged]).await;
    let disabled = register(&app, &disabled_at.url, &[EventType::MessageCreated]).await;
    let removed = register(&app, &removed_at.url, &[EventType::MessageCreated]).await;
    let kept_endpoint = register(&app, &kept.url, &[EventType::MessageCreated]).await;
    assert!(app.store.disable_webhook(&disabled.id).await.unwrap());
    assert!(app.store.remove_webhook(&removed.id).await.unwrap());
    // Deliveries each of them had coming from before it changed, due now.
    let earlier = NewMessage::now(
        Author::Customer,
        MessageText::parse("earlier").unwrap(),
        None,
        None,
    );
    let chat = ConversationId::Chat(ChatId::generate());
    let event = Event::message_created(Event::new_id(), &chat, &user(ANN), &earlier);
    let now = now_millis();
    let stale: Vec<Delivery> = [&unsubscribed, &disabled, &removed]
        .iter()
        .map(|endpoint| Delivery::new(&endpoint.id, &event, now))
        .collect();
    assert_eq!(outbox.enqueue(stale, now).await.unwrap(), 3);

    // A new event wakes the worker, which claims them with it (or after them).
    let chat = open_chat(&app, &ann, "hello").await;
    until_delivered(&mut attempts, 1).await;
    // The worker takes the next batch only once the last one is settled, drops included.
    ann_says(&app, &ann, &chat, "anyone?").await;
    let seen = until_delivered(&mut attempts, 1).await;

    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].endpoint_id, kept_endpoint.id);
    assert!(outbox.pending().await.unwrap().is_empty());
    assert!(outbox.dead().await.unwrap().is_empty());
    assert_eq!(kept.unseen().len(), 2);
    assert!(unsubscribed_at.unseen().is_empty());
    assert!(disabled_at.unseen().is_empty());
    assert!(removed_at.unseen().is_empty());
}

async fn retries_that_run_out_leave_a_dead_letter<S: TestStore>() {
    let (mut app, outbox, ann) = desk::<S>(&FAST).await;
    let mut attempts = reports(&mut app);
    let mut receiver = Receiver::start(&[Answer::Status(500); 6]).await;
    let endpoint = register(&app, &receiver.url, &[EventType::MessageCreated]).await;

    open_chat(&app, &ann, "hello").await;
    for number in 1..=6 {
        let attempt = next_attempt(&mut attempts).await;
        assert_eq!(attempt.attempt, number);
        assert_eq!(
            attempt.outcome,
            Outcome::Retry("answered 500 Internal Server Error".into())
        );
    }
    let dead = outbox.dead().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].delivery.endpoint_id, endpoint.id);
    assert_eq!(dead[0].delivery.attempts, 6);
    assert_eq!(dead[0].last_error, "answered 500 Internal Server Error");
    assert!(outbox.pending().await.unwrap().is_empty());
    assert_eq!(receiver.unseen().len(), 6);
}

async fn a_dead_letter_redriven_goes_out_again_under_its_webhook_id<S: TestStore>() {
    let (mut app, outbox, ann) = desk::<S>(&FAST).await;
    let mut attempts = reports(&mut app);
    // Down for the six attempts the schedule allows, then back.
    let mut receiver = Receiver::start(&[Answer::Status(503); 6]).await;
    let endpoint = register(&app, &receiver.url, &[EventType::MessageCreated]).await;
    let chat = open_chat(&app, &ann, "hello").await;
    for _ in 1..=6 {
        next_attempt(&mut attempts).await;
    }
    assert_eq!(outbox.dead().await.unwrap().len(), 1);
    let failed = receiver.unseen();
    assert_eq!(failed.len(), 6);

    // What `supportzen ops redrive-webhooks` does to the local outbox.
    assert_eq!(outbox.redrive(now_millis()).await.unwrap(), 1);
    assert!(outbox.dead().await.unwrap().is_empty());
    assert_eq!(outbox.redrive(now_millis()).await.unwrap(), 0);
    // The worker finds it at its next look at the outbox; a new event is one.
    ann_says(&app, &ann, &chat, "anyone?").await;
    let seen = until_delivered(&mut attempts, 2).await;
    assert_eq!(seen.len(), 2, "each once: {seen:?}");
    let delivered = receiver.unseen();
    assert_eq!(delivered.len(), 2);
    let again = delivered
        .iter()
        .find(|received| received.id == failed[0].id)
        .expect("the redriven delivery keeps its webhook-id");
    assert_eq!(again.answer, Answer::Status(204));
    assert_eq!(again.body, failed[0].body);
    assert_signed(&endpoint, again);
    assert!(outbox.pending().await.unwrap().is_empty());
}

async fn deliveries_pending_when_the_server_stops_go_out_from_the_next_one<S: TestStore>() {
    let store = S::fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let path = path.to_str().unwrap();
    let mut hanging = Receiver::start(&[Answer::Hang]).await;
    let mut failing = Receiver::start(&[Answer::Status(500)]).await;

    let mut first =
        TestApp::spawn_with_webhooks(store.clone(), Outbox::open(path).unwrap(), &ONE_SECOND).await;
    first.provision(ANN, ANN_SECRET).await;
    let ann = token(ANN_SECRET, ANN);
    let mut attempts = reports(&mut first);
    let hung = register(&first, &hanging.url, &[EventType::MessageCreated]).await;
    let failed = register(&first, &failing.url, &[EventType::MessageCreated]).await;
    open_chat(&first, &ann, "hello").await;
    // One attempt under way (the receiver holds it), one failed and waiting to retry.
    let held = hanging.next().await;
    let attempt = next_attempt(&mut attempts).await;
    assert_eq!(attempt.endpoint_id, failed.id);
    assert!(matches!(attempt.outcome, Outcome::Retry(_)), "{attempt:?}");
    first.webhooks.take().unwrap().stop().await;
    drop(first);

    let waiting: HashMap<String, u32> = Outbox::open(path)
        .unwrap()
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.delivery.endpoint_id, p.delivery.attempts))
        .collect();
    // The held attempt was abandoned, not counted; the failed one was.
    assert_eq!(
        waiting,
        HashMap::from([(hung.id.clone(), 0), (failed.id.clone(), 1)])
    );

    let mut second = TestApp::spawn_with_webhooks(store, Outbox::open(path).unwrap(), &FAST).await;
    let mut attempts = reports(&mut second);
    let seen = until_delivered(&mut attempts, 2).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    let numbers: HashMap<String, u32> = seen
        .into_iter()
        .map(|a| (a.endpoint_id, a.attempt))
        .collect();
    assert_eq!(
        numbers,
        HashMap::from([(hung.id.clone(), 1), (failed.id.clone(), 2)])
    );
    let again = hanging.next().await;
    assert_eq!(
        (again.id.as_str(), again.answer),
        (held.id.as_str(), Answer::Status(204))
    );
    assert_signed(&hung, &again);
    let retried: Vec<Received> = failing.unseen();
    assert_eq!(retried.len(), 2);
    assert_eq!(retried[0].id, retried[1].id);
    assert_eq!(retried[1].answer, Answer::Status(204));
    assert!(
        Outbox::open(path)
            .unwrap()
            .pending()
            .await
            .unwrap()
            .is_empty()
    );
}

for_each_store!(
    every_delivery_verifies_with_the_standardwebhooks_library,
    a_receiver_that_fails_three_times_then_succeeds_gets_each_event_once,
    nothing_is_lost_while_the_receiver_is_down,
    gone_disables_the_endpoint_and_stops_its_deliveries,
    deliveries_to_removed_disabled_or_unsubscribed_endpoints_are_dropped,
    retries_that_run_out_leave_a_dead_letter,
    a_dead_letter_redriven_goes_out_again_under_its_webhook_id,
    deliveries_pending_when_the_server_stops_go_out_from_the_next_one,
);
