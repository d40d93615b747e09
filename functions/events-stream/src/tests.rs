//! The handler on `events/realtime/events-stream.json` (a customer's message, an agent's
//! note, a snooze and an assignment on demo's `TKT-001`, then a connection item) with
//! in-memory fakes for the store, the sockets and the queue.

use super::*;
use aws_lambda_events::dynamodb::Event as StreamEvent;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use supportzen_shared::domain::{Email, TicketId};
use supportzen_shared::events::webhooks::WebhookUrl;
use supportzen_shared::events::{EventType, Subscriber, WebhookEndpoint};
use supportzen_shared::metrics::{Counter, Counters};
use supportzen_shared::store::{CONNECTION_LIFETIME_MS, GONE_GRACE_MS, gone_cutoff};

const NOW: i64 = 1_795_341_900_000;

/// When the fakes' connections connected, unless a test says otherwise: an hour ago.
const AN_HOUR_AGO: i64 = NOW - 3600 * 1000;

fn demo() -> UserId {
    Email::parse("demo@example.com").unwrap().user_id().clone()
}

fn other() -> UserId {
    Email::parse("other@example.com").unwrap().user_id().clone()
}

fn ticket() -> ConversationId {
    ConversationId::Ticket(TicketId::parse("TKT-001").unwrap())
}

fn sample() -> Vec<EventRecord> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/realtime/events-stream.json"
    );
    let event: StreamEvent = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event.records
}

/// The table, as far as the handler sees it.
#[derive(Default)]
struct Store {
    /// Listed connections: the audience each is listed under, its id, and when its item
    /// expires (its connection's time plus the two hours, as `$connect` lists it).
    listed: Mutex<Vec<(Audience, String, i64)>>,
    webhooks: Vec<WebhookEndpoint>,
    /// Whether owner reads fail (the table throttling).
    owners_fail: bool,
    owner_reads: Mutex<usize>,
}

impl Store {
    /// `connections`, each connected an hour ago.
    fn with_connections(connections: &[(Audience, &str)]) -> Self {
        let at: Vec<_> = connections
            .iter()
            .map(|(audience, id)| (audience.clone(), *id, AN_HOUR_AGO))
            .collect();
        Store::connected_at(&at)
    }

    /// `connections`, each connected at the time (ms) given.
    fn connected_at(connections: &[(Audience, &str, i64)]) -> Self {
        let listed = connections
            .iter()
            .map(|(audience, id, at)| {
                (
                    audience.clone(),
                    id.to_string(),
                    at + CONNECTION_LIFETIME_MS,
                )
            })
            .collect();
        Store {
            listed: Mutex::new(listed),
            ..Store::default()
        }
    }

    fn listed(&self) -> Vec<String> {
        let listed = self.listed.lock().unwrap();
        listed.iter().map(|(_, id, _)| id.clone()).collect()
    }
}

impl ConnectionReader for Store {
    async fn connections(&self, audience: &Audience, _now: i64) -> Result<Vec<String>, StoreError> {
        let listed = self.listed.lock().unwrap();
        Ok(listed
            .iter()
            .filter(|(under, _, _)| under == audience)
            .map(|(_, id, _)| id.clone())
            .collect())
    }
}

impl ConnectionWriter for Store {
    async fn put_connection(&self, _: &str, _: &Subscriber, _: i64) -> Result<(), StoreError> {
        unreachable!("the stream consumer lists no connection")
    }

    async fn remove_connection(&self, _: &str, _: &Audience) -> Result<(), StoreError> {
        unreachable!("only $disconnect unlists a connection whatever its age")
    }

    /// As the DynamoDB store's conditional delete: only an item below the cutoff.
    async fn remove_gone_connection(
        &self,
        id: &str,
        audience: &Audience,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut listed = self.listed.lock().unwrap();
        let before = listed.len();
        listed.retain(|(under, listed, expires_at)| {
            !(under == audience && listed == id && *expires_at < gone_cutoff(now))
        });
        Ok(listed.len() < before)
    }
}

impl WebhookRegistry for Store {
    async fn add_webhook(&self, _: &WebhookEndpoint) -> Result<(), StoreError> {
        unreachable!()
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        unreachable!("the stream consumer reads subscriptions, never URLs or secrets")
    }

    async fn subscriptions(
        &self,
    ) -> Result<Vec<supportzen_shared::events::WebhookSubscription>, StoreError> {
        Ok(self
            .webhooks
            .iter()
            .map(WebhookEndpoint::subscription)
            .collect())
    }

    async fn disable_webhook(&self, _: &str) -> Result<bool, StoreError> {
        unreachable!()
    }

    async fn remove_webhook(&self, _: &str) -> Result<bool, StoreError> {
        unreachable!()
    }
}

impl Owners for Store {
    async fn owner(&self, conversation: &ConversationId) -> Result<Option<UserId>, StoreError> {
        *self.owner_reads.lock().unwrap() += 1;
        if self.owners_fail {
            return Err(StoreError::Internal("throttled".into()));
        }
        Ok((conversation == &ticket()).then(demo))
    }
}

/// API Gateway's `@connections`: what each connection was sent.
#[derive(Default)]
struct Sockets {
    gone: HashSet<&'static str>,
    failing: HashSet<&'static str>,
    posted: Mutex<Vec<(String, serde_json::Value)>>,
    /// How many posts were answered 410 Gone.
    gone_answers: AtomicUsize,
    /// Posts under way, and the most there ever were at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Sockets {
    /// The event types and ids `connection` was sent, in order.
    fn received(&self, connection: &str) -> Vec<(String, String)> {
        let posted = self.posted.lock().unwrap();
        posted
            .iter()
            .filter(|(id, _)| id == connection)
            .map(|(_, envelope)| {
                let text = |name: &str| envelope[name].as_str().unwrap().to_string();
                (text("type"), text("id"))
            })
            .collect()
    }

    fn types(&self, connection: &str) -> Vec<String> {
        self.received(connection)
            .into_iter()
            .map(|(kind, _)| kind)
            .collect()
    }
}

impl Poster for Sockets {
    async fn post(&self, connection: &str, data: &str) -> Posted {
        let now_in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight
            .fetch_max(now_in_flight, Ordering::SeqCst);
        // A round trip: every other post that may start, starts meanwhile.
        tokio::task::yield_now().await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.gone.contains(connection) {
            self.gone_answers.fetch_add(1, Ordering::SeqCst);
            return Posted::Gone;
        }
        if self.failing.contains(connection) {
            return Posted::Failed("LimitExceededException".into());
        }
        let envelope = serde_json::from_str(data).unwrap();
        self.posted
            .lock()
            .unwrap()
            .push((connection.to_string(), envelope));
        Posted::Sent
    }
}

#[derive(Default)]
struct Queued {
    fail: bool,
    bodies: Mutex<Vec<Delivery>>,
}

impl Queue for Queued {
    async fn send(&self, bodies: Vec<String>) -> Result<(), String> {
        if self.fail {
            return Err("AWS.SimpleQueueService.NonExistentQueue".into());
        }
        let mut queued = self.bodies.lock().unwrap();
        queued.extend(
            bodies
                .iter()
                .map(|body| serde_json::from_str(body).unwrap()),
        );
        Ok(())
    }
}

fn failures(response: &DynamoDbEventResponse) -> Vec<Option<String>> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone())
        .collect()
}

fn sequence_number(record: usize) -> Option<String> {
    sample()[record].change.sequence_number.clone()
}

#[tokio::test]
async fn a_customer_gets_their_public_events_and_agents_get_everything() {
    let store = Store::with_connections(&[
        (Audience::Agents, "agent-conn"),
        (Audience::Customer(demo()), "demo-conn"),
        (Audience::Customer(other()), "other-conn"),
    ]);
    let (sockets, queue) = (Sockets::default(), Queued::default());
    let counters = Counters::default();

    let response = handle(&store, &sockets, &queue, sample(), NOW, &counters).await;

    assert_eq!(failures(&response), Vec::<Option<String>>::new());
    // The business counters agree with what the sockets saw: the agents see every
    // message, notes included.
    let messages = sockets
        .types("agent-conn")
        .iter()
        .filter(|kind| *kind == "message.created")
        .count();
    assert!(messages > 0);
    assert_eq!(counters.get(Counter::MessagesWritten), messages as u64);
    assert_eq!(
        counters.get(Counter::SocketPosts),
        sockets.posted.lock().unwrap().len() as u64
    );
    assert_eq!(counters.get(Counter::SocketGone), 0);
    assert_eq!(
        sockets.types("agent-conn"),
        [
            "message.created",
            "message.created",
            "conversation.status_changed",
            "conversation.assigned"
        ],
        "agents get notes and assignments"
    );
    assert_eq!(
        sockets.types("demo-conn"),
        ["message.created", "conversation.status_changed"],
        "the customer gets their message and the status change, not the note or the assignment"
    );
    assert_eq!(sockets.types("other-conn"), Vec::<String>::new());
    // The customer's copy is the agents' copy: one envelope per event.
    let agents = sockets.received("agent-conn");
    let demo_got = sockets.received("demo-conn");
    assert_eq!(demo_got, [agents[0].clone(), agents[2].clone()]);
    // The message's owner was read once for the two messages of TKT-001.
    assert_eq!(*store.owner_reads.lock().unwrap(), 1);
}

#[tokio::test]
async fn the_envelope_is_the_message_as_the_read_routes_show_it() {
    let store = Store::with_connections(&[(Audience::Customer(demo()), "demo-conn")]);
    let (sockets, queue) = (Sockets::default(), Queued::default());
    handle(
        &store,
        &sockets,
        &queue,
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;

    let posted = sockets.posted.lock().unwrap();
    let (_, message) = &posted[0];
    assert_eq!(message["conversationId"], "TKT-001");
    assert_eq!(message["occurredAt"], 1_795_341_600_000i64);
    assert_eq!(
        message["data"]["messageId"],
        "msg-019aa6f0-1000-7000-8000-000000000001"
    );
    assert_eq!(message["data"]["clientMessageId"], "ios-7781");
    let (_, status) = &posted[1];
    assert_eq!(status["data"]["status"], "pending");
    assert_eq!(status["data"]["snoozedUntil"], 1_795_428_000_000i64);
    assert_eq!(
        status["data"]["lastMessageId"], "msg-019aa6f0-1000-7000-8000-000000000001",
        "the catch-up cursor"
    );
}

#[tokio::test]
async fn a_stale_connection_is_unlisted_and_only_it() {
    let store = Store::with_connections(&[
        (Audience::Agents, "agent-conn"),
        (Audience::Agents, "stale-conn"),
        (Audience::Customer(demo()), "demo-conn"),
        (Audience::Customer(other()), "stale-conn-2"),
    ]);
    let sockets = Sockets {
        gone: HashSet::from(["stale-conn", "stale-conn-2"]),
        ..Sockets::default()
    };

    let counters = Counters::default();
    let response = handle(
        &store,
        &sockets,
        &Queued::default(),
        sample(),
        NOW,
        &counters,
    )
    .await;

    assert_eq!(failures(&response), Vec::<Option<String>>::new());
    let gone = sockets.gone_answers.load(Ordering::SeqCst);
    assert!(gone > 0);
    assert_eq!(counters.get(Counter::SocketGone), gone as u64);
    assert_eq!(
        store.listed(),
        ["agent-conn", "demo-conn", "stale-conn-2"],
        "the agents' stale connection is unlisted; other's, never posted to, stays"
    );
    assert_eq!(sockets.types("agent-conn").len(), 4);
    assert_eq!(sockets.types("demo-conn").len(), 2);
}

#[tokio::test]
async fn each_wanting_endpoint_gets_one_queued_delivery_per_event() {
    let url = WebhookUrl::parse("https://hooks.example.com/supportzen").unwrap();
    let messages = WebhookEndpoint::new(url.clone(), vec![EventType::MessageCreated]);
    let statuses = WebhookEndpoint::new(
        url.clone(),
        vec![EventType::StatusChanged, EventType::Assigned],
    );
    let disabled = WebhookEndpoint {
        enabled: false,
        ..WebhookEndpoint::new(url, EventType::ALL.to_vec())
    };
    let store = Store {
        webhooks: vec![messages.clone(), statuses.clone(), disabled],
        ..Store::with_connections(&[(Audience::Agents, "agent-conn")])
    };
    let (sockets, queue) = (Sockets::default(), Queued::default());

    handle(
        &store,
        &sockets,
        &queue,
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;

    let queued = queue.bodies.lock().unwrap();
    let sent: Vec<(&str, &str)> = queued
        .iter()
        .map(|d| (d.endpoint_id.as_str(), d.event_type.as_str()))
        .collect();
    assert_eq!(
        sent,
        [
            (messages.id.as_str(), "message.created"),
            (messages.id.as_str(), "message.created"),
            (statuses.id.as_str(), "conversation.status_changed"),
            (statuses.id.as_str(), "conversation.assigned"),
        ]
    );
    // A delivery's webhook-id is the event's id, as the sockets saw it; its body is thin.
    let socket_ids: Vec<String> = sockets
        .received("agent-conn")
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let queued_ids: Vec<&str> = queued.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(queued_ids, socket_ids);
    assert!(
        !queued[0].body.contains("has not arrived"),
        "{}",
        queued[0].body
    );
    let thin: serde_json::Value = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!(thin["data"]["customer"]["email"], "demo@example.com");
}

#[tokio::test]
async fn a_connection_answering_gone_while_it_opens_stays_listed() {
    // Listed by `$connect` a moment ago, its handshake not over: API Gateway answers 410.
    let opening = NOW - 1_000;
    let store = Store::connected_at(&[
        (Audience::Agents, "opening-conn", opening),
        (Audience::Agents, "grace-ends-conn", NOW - GONE_GRACE_MS),
        (Audience::Agents, "old-conn", NOW - GONE_GRACE_MS - 1),
    ]);
    let sockets = Sockets {
        gone: HashSet::from(["opening-conn", "grace-ends-conn", "old-conn"]),
        ..Sockets::default()
    };

    let response = handle(
        &store,
        &sockets,
        &Queued::default(),
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;

    assert_eq!(failures(&response), Vec::<Option<String>>::new());
    assert_eq!(
        store.listed(),
        ["opening-conn", "grace-ends-conn"],
        "only the one connected more than the grace period ago is unlisted"
    );
    // Once its handshake is over, the next event reaches it.
    let sockets = Sockets::default();
    handle(
        &store,
        &sockets,
        &Queued::default(),
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;
    assert_eq!(sockets.types("opening-conn").len(), 4);
}

#[tokio::test]
async fn a_failed_post_fails_nothing_and_every_webhook_is_queued() {
    let store = Store {
        webhooks: vec![WebhookEndpoint::new(
            WebhookUrl::parse("https://hooks.example.com/s").unwrap(),
            EventType::ALL.to_vec(),
        )],
        ..Store::with_connections(&[
            (Audience::Agents, "agent-conn"),
            (Audience::Customer(demo()), "demo-conn"),
        ])
    };
    let sockets = Sockets {
        failing: HashSet::from(["demo-conn"]),
        ..Sockets::default()
    };
    let queue = Queued::default();

    let response = handle(
        &store,
        &sockets,
        &queue,
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;

    assert_eq!(
        failures(&response),
        Vec::<Option<String>>::new(),
        "no retry: the other connections would get each event again"
    );
    assert_eq!(sockets.types("agent-conn").len(), 4);
    assert!(sockets.types("demo-conn").is_empty());
    assert_eq!(
        store.listed(),
        ["agent-conn", "demo-conn"],
        "not gone: kept"
    );
    let queued = queue.bodies.lock().unwrap();
    assert_eq!(
        queued.len(),
        4,
        "every event's webhook, whatever the sockets did"
    );
}

#[tokio::test]
async fn store_and_queue_failures_retry_from_the_record_that_met_them() {
    let store = Store {
        owners_fail: true,
        ..Store::with_connections(&[(Audience::Agents, "agent-conn")])
    };
    let sockets = Sockets::default();
    let response = handle(
        &store,
        &sockets,
        &Queued::default(),
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;
    assert_eq!(failures(&response), [sequence_number(0)]);
    assert!(sockets.posted.lock().unwrap().is_empty());

    let endpoint = WebhookEndpoint::new(
        WebhookUrl::parse("https://hooks.example.com/s").unwrap(),
        vec![EventType::StatusChanged],
    );
    let connections = [(Audience::Agents, "agent-conn")];
    let store = Store {
        webhooks: vec![endpoint.clone()],
        ..Store::with_connections(&connections)
    };
    let queue = Queued {
        fail: true,
        ..Queued::default()
    };
    let response = handle(
        &store,
        &sockets,
        &queue,
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;
    assert_eq!(
        failures(&response),
        [sequence_number(2)],
        "the status change"
    );
    // Its webhook is queued before its posts: a record whose queue send failed was
    // posted to nobody, so its retry posts it once.
    assert_eq!(
        sockets.types("agent-conn"),
        ["message.created", "message.created"]
    );
    let first = sockets.received("agent-conn");

    // Lambda hands the batch over again from that record: the same events, the same ids.
    let store = Store {
        webhooks: vec![endpoint],
        ..Store::with_connections(&connections)
    };
    let sockets = Sockets::default();
    let queue = Queued::default();
    let response = handle(
        &store,
        &sockets,
        &queue,
        sample(),
        NOW,
        &Counters::default(),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sockets.received("agent-conn")[..2], first[..]);
    assert_eq!(queue.bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_record_is_posted_only_once_all_its_events_are_queued() {
    // The assignment's record, as if the conversation had also been snoozed by that
    // write: one record, a status change and then an assignment.
    let mut record = sample().remove(3);
    record.change.old_image.insert(
        "status".into(),
        serde_dynamo::AttributeValue::S("open".into()),
    );
    let store = Store {
        webhooks: vec![WebhookEndpoint::new(
            WebhookUrl::parse("https://hooks.example.com/s").unwrap(),
            vec![EventType::Assigned],
        )],
        ..Store::with_connections(&[(Audience::Agents, "agent-conn")])
    };
    let sockets = Sockets::default();
    let failing = Queued {
        fail: true,
        ..Queued::default()
    };

    let response = handle(
        &store,
        &sockets,
        &failing,
        vec![record.clone()],
        NOW,
        &Counters::default(),
    )
    .await;

    assert_eq!(failures(&response), [record.change.sequence_number.clone()]);
    assert!(
        sockets.posted.lock().unwrap().is_empty(),
        "not even the status change, which has no webhook: the retry posts it"
    );
    let response = handle(
        &store,
        &sockets,
        &Queued::default(),
        vec![record],
        NOW,
        &Counters::default(),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        sockets.types("agent-conn"),
        ["conversation.status_changed", "conversation.assigned"]
    );
}

#[tokio::test]
async fn posts_go_out_at_most_post_concurrency_at_a_time() {
    let ids: Vec<String> = (0..POST_CONCURRENCY + 8)
        .map(|n| format!("agent-conn-{n}"))
        .collect();
    let connections: Vec<(Audience, &str)> = ids
        .iter()
        .map(|id| (Audience::Agents, id.as_str()))
        .collect();
    let store = Store::with_connections(&connections);
    let sockets = Sockets::default();

    let mut records = sample();
    records.truncate(1);
    handle(
        &store,
        &sockets,
        &Queued::default(),
        records,
        NOW,
        &Counters::default(),
    )
    .await;

    for id in &ids {
        assert_eq!(sockets.types(id), ["message.created"], "{id}");
    }
    assert_eq!(
        sockets.most_in_flight.load(Ordering::SeqCst),
        POST_CONCURRENCY
    );
}

/// PostToConnection takes at most 131,072 bytes of data (the `Data` shape's length in
/// API Gateway's Management API model; the WebSocket quotas' 128 KB message payload).
#[test]
fn the_largest_envelope_fits_one_post() {
    use supportzen_shared::domain::{
        Agent, AgentId, Attachment, AttachmentId, Author, ClientMessageId, ContentType,
        DEFAULT_MAX_ATTACHMENTS_PER_MESSAGE, DisplayName, FileName, ImageUrl, MAX_AGENT_ID_CHARS,
        MAX_CLIENT_MESSAGE_ID_CHARS, MAX_FILE_NAME_CHARS, MAX_IMAGE_URL_CHARS, MAX_MESSAGE_CHARS,
        MAX_NAME_CHARS, MessageId, MessageText, NewMessage,
    };
    // Characters JSON spells longest: a control character takes six bytes (`\u0001`),
    // a character outside the BMP four.
    let control = "\u{1}";
    let wide = "\u{1F600}";
    let url_head = "https://hooks.example.com/";
    let message = NewMessage {
        id: MessageId::generate(),
        author: Author::Agent,
        text: MessageText::parse(&control.repeat(MAX_MESSAGE_CHARS)).unwrap(),
        image_url: Some(
            ImageUrl::parse(&format!(
                "{url_head}{}",
                control.repeat(MAX_IMAGE_URL_CHARS - url_head.len())
            ))
            .unwrap(),
        ),
        client_message_id: Some(
            ClientMessageId::parse(&wide.repeat(MAX_CLIENT_MESSAGE_ID_CHARS)).unwrap(),
        ),
        sent_at: NOW,
        agent: Some(Agent {
            id: AgentId::parse(&wide.repeat(MAX_AGENT_ID_CHARS)).unwrap(),
            name: DisplayName::parse(&control.repeat(MAX_NAME_CHARS)).unwrap(),
        }),
        internal: false,
        // As many files as a message may carry: events name them by id only.
        attachments: (0..DEFAULT_MAX_ATTACHMENTS_PER_MESSAGE)
            .map(|_| {
                let id = AttachmentId::generate();
                Attachment {
                    key: format!("uploads/agent/0123456789abcdef/{id}"),
                    id,
                    name: FileName::parse(&wide.repeat(MAX_FILE_NAME_CHARS)).unwrap(),
                    content_type: ContentType::Png,
                    size: 1,
                }
            })
            .collect(),
    };
    let event = Event::message_created(Event::new_id(), &ticket(), &demo(), &message);

    let bytes = event.to_json().len();
    assert!(
        bytes > 6 * MAX_MESSAGE_CHARS,
        "{bytes}: the worst case was built"
    );
    assert!(bytes <= 131_072, "{bytes} bytes");
}

#[tokio::test]
async fn a_record_that_makes_no_event_is_passed_over() {
    let mut records = sample();
    // A message whose body is blank: no retry will ever make it an event.
    records[0]
        .change
        .new_image
        .insert("body".into(), serde_dynamo::AttributeValue::S(" ".into()));
    records[1].event_name = "UPSERT".into();
    let store = Store::with_connections(&[(Audience::Agents, "agent-conn")]);
    let sockets = Sockets::default();

    let response = handle(
        &store,
        &sockets,
        &Queued::default(),
        records,
        NOW,
        &Counters::default(),
    )
    .await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        sockets.types("agent-conn"),
        ["conversation.status_changed", "conversation.assigned"]
    );
}
