//! The handler on `events/realtime/events-stream.json` (a customer's message, an agent's
//! note, a snooze and an assignment on demo's `TKT-001`, then a connection item) with
//! in-memory fakes for the store, the sockets and the queue.

use super::*;
use aws_lambda_events::dynamodb::Event as StreamEvent;
use std::collections::HashSet;
use std::sync::Mutex;
use supportzen_shared::domain::{Email, TicketId};
use supportzen_shared::events::webhooks::WebhookUrl;
use supportzen_shared::events::{EventType, Subscriber};

const NOW: i64 = 1_795_341_900_000;

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
    /// Listed connections, with the audience each is listed under.
    listed: Mutex<Vec<(Audience, String)>>,
    webhooks: Vec<WebhookEndpoint>,
    /// Whether owner reads fail (the table throttling).
    owners_fail: bool,
    owner_reads: Mutex<usize>,
}

impl Store {
    fn with_connections(connections: &[(Audience, &str)]) -> Self {
        let listed = connections
            .iter()
            .map(|(audience, id)| (audience.clone(), id.to_string()))
            .collect();
        Store {
            listed: Mutex::new(listed),
            ..Store::default()
        }
    }

    fn listed(&self) -> Vec<String> {
        let listed = self.listed.lock().unwrap();
        listed.iter().map(|(_, id)| id.clone()).collect()
    }
}

impl ConnectionReader for Store {
    async fn connections(&self, audience: &Audience, _now: i64) -> Result<Vec<String>, StoreError> {
        let listed = self.listed.lock().unwrap();
        Ok(listed
            .iter()
            .filter(|(under, _)| under == audience)
            .map(|(_, id)| id.clone())
            .collect())
    }
}

impl ConnectionWriter for Store {
    async fn put_connection(&self, _: &str, _: &Subscriber, _: i64) -> Result<(), StoreError> {
        unreachable!("the stream consumer lists no connection")
    }

    async fn remove_connection(&self, id: &str, audience: &Audience) -> Result<(), StoreError> {
        let mut listed = self.listed.lock().unwrap();
        listed.retain(|(under, listed)| !(under == audience && listed == id));
        Ok(())
    }
}

impl WebhookRegistry for Store {
    async fn add_webhook(&self, _: &WebhookEndpoint) -> Result<(), StoreError> {
        unreachable!()
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        Ok(self.webhooks.clone())
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
        if self.gone.contains(connection) {
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

    let response = handle(&store, &sockets, &queue, sample(), NOW).await;

    assert_eq!(failures(&response), Vec::<Option<String>>::new());
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
    handle(&store, &sockets, &queue, sample(), NOW).await;

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

    let response = handle(&store, &sockets, &Queued::default(), sample(), NOW).await;

    assert_eq!(failures(&response), Vec::<Option<String>>::new());
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

    handle(&store, &sockets, &queue, sample(), NOW).await;

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
async fn a_failed_post_retries_from_its_record_with_the_same_event_ids() {
    let connections = [
        (Audience::Agents, "agent-conn"),
        (Audience::Customer(demo()), "demo-conn"),
    ];
    let store = Store::with_connections(&connections);
    let sockets = Sockets {
        failing: HashSet::from(["demo-conn"]),
        ..Sockets::default()
    };

    let response = handle(&store, &sockets, &Queued::default(), sample(), NOW).await;

    assert_eq!(failures(&response), [sequence_number(0)]);
    assert_eq!(
        sockets.types("agent-conn"),
        ["message.created"],
        "the other connections got their try; nothing after the failed record was sent"
    );
    // Lambda hands the batch over again from that record: the same events, the same ids.
    let first = sockets.received("agent-conn");
    let store = Store::with_connections(&connections);
    let sockets = Sockets::default();
    let response = handle(&store, &sockets, &Queued::default(), sample(), NOW).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sockets.received("agent-conn")[0], first[0]);
}

#[tokio::test]
async fn store_and_queue_failures_retry_from_the_record_that_met_them() {
    let store = Store {
        owners_fail: true,
        ..Store::with_connections(&[(Audience::Agents, "agent-conn")])
    };
    let sockets = Sockets::default();
    let response = handle(&store, &sockets, &Queued::default(), sample(), NOW).await;
    assert_eq!(failures(&response), [sequence_number(0)]);
    assert!(sockets.posted.lock().unwrap().is_empty());

    let store = Store {
        webhooks: vec![WebhookEndpoint::new(
            WebhookUrl::parse("https://hooks.example.com/s").unwrap(),
            vec![EventType::StatusChanged],
        )],
        ..Store::with_connections(&[(Audience::Agents, "agent-conn")])
    };
    let queue = Queued {
        fail: true,
        ..Queued::default()
    };
    let response = handle(&store, &sockets, &queue, sample(), NOW).await;
    assert_eq!(
        failures(&response),
        [sequence_number(2)],
        "the status change"
    );
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

    let response = handle(&store, &sockets, &Queued::default(), records, NOW).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        sockets.types("agent-conn"),
        ["conversation.status_changed", "conversation.assigned"]
    );
}
