//! The handler on `events/realtime/webhook-deliver.json` (a `message.created` delivery
//! received for the first time, and a `conversation.status_changed` one received for the
//! third) with in-memory fakes for the endpoints, the receivers and the queue.

use super::*;
use aws_lambda_events::sqs::SqsEvent;
use std::collections::HashMap;
use std::sync::Mutex;
use supportzen_shared::events::EventType;
use supportzen_shared::events::webhooks::WebhookUrl;
use supportzen_shared::metrics::{Counter, Counters};
use supportzen_shared::store::StoreError;

const MESSAGES: &str = "wh_019aa6f0200070008000000000000001";
const STATUSES: &str = "wh_019aa6f0200070008000000000000002";

fn sample() -> Vec<SqsMessage> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/realtime/webhook-deliver.json"
    );
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event.records
}

fn endpoint(id: &str, events: &[EventType]) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.to_string(),
        ..WebhookEndpoint::new(
            WebhookUrl::parse("https://hooks.example.com/supportzen").unwrap(),
            events.to_vec(),
        )
    }
}

/// The registered endpoints, as the table holds them.
struct Registry {
    endpoints: Option<Vec<WebhookEndpoint>>,
    disabled: Mutex<Vec<String>>,
}

impl Registry {
    fn both() -> Self {
        Registry::of(vec![
            endpoint(MESSAGES, &[EventType::MessageCreated]),
            endpoint(STATUSES, &EventType::ALL),
        ])
    }

    fn of(endpoints: Vec<WebhookEndpoint>) -> Self {
        Registry {
            endpoints: Some(endpoints),
            disabled: Mutex::new(Vec::new()),
        }
    }
}

impl WebhookRegistry for Registry {
    async fn add_webhook(&self, _: &WebhookEndpoint) -> Result<(), StoreError> {
        unreachable!()
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.endpoints
            .clone()
            .ok_or_else(|| StoreError::Internal("throttled".into()))
    }

    async fn subscriptions(
        &self,
    ) -> Result<Vec<supportzen_shared::events::WebhookSubscription>, StoreError> {
        Ok(self
            .webhooks()
            .await?
            .iter()
            .map(WebhookEndpoint::subscription)
            .collect())
    }

    async fn disable_webhook(&self, id: &str) -> Result<bool, StoreError> {
        self.disabled.lock().unwrap().push(id.to_string());
        Ok(true)
    }

    async fn remove_webhook(&self, _: &str) -> Result<bool, StoreError> {
        unreachable!()
    }
}

/// The receivers: each endpoint answers as told (2xx when not told).
#[derive(Default)]
struct Receivers {
    answers: HashMap<&'static str, Outcome>,
    attempted: Mutex<Vec<Delivery>>,
}

impl Receivers {
    fn answering(answers: &[(&'static str, Outcome)]) -> Self {
        Receivers {
            answers: answers.iter().cloned().collect(),
            ..Receivers::default()
        }
    }

    fn attempted(&self) -> Vec<(String, String)> {
        let attempted = self.attempted.lock().unwrap();
        attempted
            .iter()
            .map(|d| (d.endpoint_id.clone(), d.event_id.clone()))
            .collect()
    }
}

impl Attempt for Receivers {
    async fn attempt(&self, endpoint: &WebhookEndpoint, delivery: &Delivery) -> Outcome {
        self.attempted.lock().unwrap().push(delivery.clone());
        self.answers
            .get(endpoint.id.as_str())
            .cloned()
            .unwrap_or(Outcome::Delivered)
    }
}

/// The queue's `ChangeMessageVisibility`: each receipt handle's wait.
#[derive(Default)]
struct Waits(Mutex<Vec<(String, Duration)>>);

impl Waits {
    fn set(&self) -> Vec<(String, Duration)> {
        self.0.lock().unwrap().clone()
    }
}

impl Visibility for Waits {
    async fn hide_for(&self, receipt_handle: &str, wait: Duration) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .push((receipt_handle.to_string(), wait));
        Ok(())
    }
}

fn kept(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone())
        .collect()
}

fn id(message: &SqsMessage) -> String {
    message.message_id.clone().unwrap()
}

fn handle_of(message: &SqsMessage) -> String {
    message.receipt_handle.clone().unwrap()
}

#[tokio::test]
async fn delivered_messages_are_deleted() {
    let (registry, receivers, waits) = (Registry::both(), Receivers::default(), Waits::default());
    let counters = Counters::default();
    let response = handle(&registry, &receivers, &waits, sample(), &counters).await;

    assert_eq!(kept(&response), Vec::<String>::new());
    assert_eq!(counters.get(Counter::WebhookDelivered), 2);
    assert_eq!(counters.get(Counter::WebhookFailed), 0);
    let event_ids: Vec<String> = sample()
        .iter()
        .map(|m| {
            serde_json::from_str::<Delivery>(m.body.as_deref().unwrap())
                .unwrap()
                .event_id
        })
        .collect();
    assert_eq!(
        receivers.attempted(),
        [
            (MESSAGES.to_string(), event_ids[0].clone()),
            (STATUSES.to_string(), event_ids[1].clone())
        ]
    );
    assert_eq!(waits.set(), []);
}

#[tokio::test]
async fn a_failed_attempt_waits_for_its_place_in_the_schedule() {
    let receivers = Receivers::answering(&[
        (MESSAGES, Outcome::Retry("answered 500".into())),
        (STATUSES, Outcome::Retry("no answer within 15 s".into())),
    ]);
    let (registry, waits, messages) = (Registry::both(), Waits::default(), sample());

    let response = handle(
        &registry,
        &receivers,
        &waits,
        messages.clone(),
        &Counters::default(),
    )
    .await;

    assert_eq!(kept(&response), [id(&messages[0]), id(&messages[1])]);
    // The first receipt was attempt 1 (then 5 s), the other's third (then 30 min).
    assert_eq!(
        waits.set(),
        [
            (handle_of(&messages[0]), RETRY_DELAYS[0]),
            (handle_of(&messages[1]), RETRY_DELAYS[2]),
        ]
    );
}

#[tokio::test]
async fn after_the_eighth_attempt_the_message_is_left_to_the_dead_letter_queue() {
    let mut messages = sample();
    let last = u32::try_from(RETRY_DELAYS.len() + 1).unwrap();
    messages[0]
        .attributes
        .insert("ApproximateReceiveCount".into(), last.to_string());
    messages[1]
        .attributes
        .insert("ApproximateReceiveCount".into(), (last - 1).to_string());
    let receivers = Receivers::answering(&[
        (MESSAGES, Outcome::Retry("answered 503".into())),
        (STATUSES, Outcome::Retry("answered 503".into())),
    ]);
    let (registry, waits) = (Registry::both(), Waits::default());
    let counters = Counters::default();

    let response = handle(&registry, &receivers, &waits, messages.clone(), &counters).await;

    assert_eq!(kept(&response), [id(&messages[0]), id(&messages[1])]);
    assert_eq!(counters.get(Counter::WebhookDead), 1, "the eighth failure");
    assert_eq!(counters.get(Counter::WebhookFailed), 1, "the seventh");
    assert_eq!(counters.get(Counter::WebhookDelivered), 0);
    assert_eq!(
        waits.set(),
        [(handle_of(&messages[1]), RETRY_DELAYS[6])],
        "the seventh failure waits the last wait; the eighth waits for nothing"
    );
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_deletes_the_message() {
    let receivers = Receivers::answering(&[(STATUSES, Outcome::Gone)]);
    let (registry, waits) = (Registry::both(), Waits::default());

    let response = handle(
        &registry,
        &receivers,
        &waits,
        sample(),
        &Counters::default(),
    )
    .await;

    assert_eq!(kept(&response), Vec::<String>::new());
    assert_eq!(*registry.disabled.lock().unwrap(), [STATUSES]);
    assert_eq!(waits.set(), []);
}

#[tokio::test]
async fn deliveries_to_removed_disabled_or_unsubscribed_endpoints_are_dropped() {
    let disabled = WebhookEndpoint {
        enabled: false,
        ..endpoint(MESSAGES, &[EventType::MessageCreated])
    };
    // The other endpoint no longer wants status changes; a third was never registered.
    let unsubscribed = endpoint(STATUSES, &[EventType::Assigned]);
    let registry = Registry::of(vec![disabled, unsubscribed]);
    let receivers = Receivers::default();

    let response = handle(
        &registry,
        &receivers,
        &Waits::default(),
        sample(),
        &Counters::default(),
    )
    .await;
    assert_eq!(kept(&response), Vec::<String>::new());
    assert_eq!(receivers.attempted(), []);

    let response = handle(
        &Registry::of(vec![]),
        &receivers,
        &Waits::default(),
        sample(),
        &Counters::default(),
    )
    .await;
    assert_eq!(kept(&response), Vec::<String>::new());
    assert_eq!(receivers.attempted(), []);
}

#[tokio::test]
async fn what_is_not_a_delivery_goes_to_the_dead_letter_queue_unattempted() {
    let mut messages = sample();
    messages[0].body = Some("{\"endpointId\": 7}".into());
    messages[1].body = None;
    let (receivers, waits) = (Receivers::default(), Waits::default());

    let response = handle(
        &Registry::both(),
        &receivers,
        &waits,
        messages.clone(),
        &Counters::default(),
    )
    .await;

    assert_eq!(kept(&response), [id(&messages[0]), id(&messages[1])]);
    assert_eq!(receivers.attempted(), []);
    assert_eq!(
        waits.set(),
        [],
        "kept without a wait: straight to the redrive"
    );
}

#[tokio::test]
async fn unreadable_endpoints_count_as_a_failed_attempt() {
    let registry = Registry {
        endpoints: None,
        disabled: Mutex::new(Vec::new()),
    };
    let (receivers, waits, messages) = (Receivers::default(), Waits::default(), sample());

    let response = handle(
        &registry,
        &receivers,
        &waits,
        messages.clone(),
        &Counters::default(),
    )
    .await;

    assert_eq!(kept(&response), [id(&messages[0]), id(&messages[1])]);
    assert_eq!(receivers.attempted(), []);
    assert_eq!(waits.set().len(), 2);
}
