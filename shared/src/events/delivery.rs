//! What comes of one event on its way to one webhook endpoint, as Standard Webhooks has
//! it: a POST of the thin envelope with `webhook-id` (the event's id, the same on every
//! retry, so receivers drop repeats), `webhook-timestamp` (this attempt's, in Unix
//! seconds) and `webhook-signature`. The local server's outbox and production's queue
//! both keep a [`Delivery`] between attempts, and both decide what comes of it here, the
//! same way: [`Delivery::recipient`] before an attempt (or the delivery is dropped),
//! [`Next::after`] once it has ended. Carrying that out (an outbox row, an SQS message)
//! is theirs; making the attempt is the webhook client's (`crate::webhook_client`).

use super::customer::WebhookEvent;
use super::envelope::EventType;
use super::webhooks::{WebhookEndpoint, WebhookSubscription, retry_delay};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One event on its way to one endpoint, with what retrying it needs: what the local
/// outbox keeps in a row and production's queue carries as a message body (JSON). It
/// names the endpoint by id only; the URL and secret are looked up at each attempt, so
/// they never sit in a queue and an endpoint disabled meanwhile gets nothing more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The endpoint's `wh_…` id.
    pub endpoint_id: String,
    /// The event's `evt_…` id: the `webhook-id` of every attempt.
    pub event_id: String,
    #[serde(with = "event_type_name")]
    pub event_type: EventType,
    /// The thin envelope ([`WebhookEvent::webhook_body`]): the bytes signed and sent, the same
    /// on every attempt.
    pub body: String,
    /// When the first attempt was due, in milliseconds since the Unix epoch.
    pub first_attempt_at: i64,
    /// Attempts made so far.
    pub attempts: u32,
}

impl Delivery {
    /// `event` (about a conversation or a customer) for `endpoint_id`, not attempted
    /// yet, due at `now` (ms).
    pub fn new(endpoint_id: &str, event: &impl WebhookEvent, now: i64) -> Self {
        Delivery {
            endpoint_id: endpoint_id.to_string(),
            event_id: event.event_id().to_string(),
            event_type: event.event_type(),
            body: event.webhook_body(),
            first_attempt_at: now,
            attempts: 0,
        }
    }

    /// One delivery of `event` per subscription that wants its type, due at `now` (ms).
    pub fn for_subscriptions(
        subscriptions: &[WebhookSubscription],
        event: &impl WebhookEvent,
        now: i64,
    ) -> Vec<Self> {
        subscriptions
            .iter()
            .filter(|subscription| subscription.wants(event.event_type()))
            .map(|subscription| Delivery::new(&subscription.id, event, now))
            .collect()
    }

    /// Before an attempt: the endpoint to make it to, as the registry has it now, or
    /// `None` when the delivery is to be dropped unattempted: the endpoint is removed
    /// (`endpoint` is `None`), disabled, or no longer subscribed to the event's type.
    pub fn recipient<'e>(
        &self,
        endpoint: Option<&'e WebhookEndpoint>,
    ) -> Option<&'e WebhookEndpoint> {
        endpoint.filter(|endpoint| endpoint.wants(self.event_type))
    }
}

/// What comes of a delivery once an attempt has ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<'o> {
    /// Delivered: it is done with.
    Done,
    /// The endpoint answered 410 Gone: disable it; the delivery is done with. If the
    /// endpoint cannot be disabled now, the attempt counts as failed
    /// ([`Failed::after`]): the next one meets the 410 again.
    Disable,
    /// The attempt failed, for `reason` (the [`Outcome::Retry`]'s).
    Failed { reason: &'o str, then: Failed },
}

/// What a failed attempt leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    /// Another attempt, after this wait.
    RetryAfter(Duration),
    /// No other: that was the schedule's last attempt, and the delivery is a dead letter.
    Dead,
}

impl<'o> Next<'o> {
    /// After attempt number `attempt` (1 for the first) ended with `outcome`, retrying on
    /// `schedule` ([`RETRY_DELAYS`](super::webhooks::RETRY_DELAYS) but in tests).
    pub fn after(attempt: u32, outcome: &'o Outcome, schedule: &[Duration]) -> Next<'o> {
        match outcome {
            Outcome::Delivered => Next::Done,
            Outcome::Gone => Next::Disable,
            Outcome::Retry(reason) => Next::Failed {
                reason,
                then: Failed::after(attempt, schedule),
            },
        }
    }
}

impl Failed {
    /// After attempt number `attempt` (1 for the first) failed: the schedule's wait
    /// before the next one, or dead once `schedule` is used up.
    pub fn after(attempt: u32, schedule: &[Duration]) -> Failed {
        retry_delay(attempt, schedule).map_or(Failed::Dead, Failed::RetryAfter)
    }
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// The endpoint answered 410 Gone: it wants nothing more, so it is to be disabled.
    Gone,
    /// Anything else: another status, no connection, no answer in time. The reason is
    /// for logs and dead letters; it never holds the URL, which may carry a credential.
    Retry(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Delivered => f.write_str("delivered"),
            Outcome::Gone => f.write_str("answered 410 Gone"),
            Outcome::Retry(reason) => f.write_str(reason),
        }
    }
}

/// [`EventType`] by its name, as webhooks subscribe to it.
mod event_type_name {
    use super::EventType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &EventType, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<EventType, D::Error> {
        let name = String::deserialize(deserializer)?;
        EventType::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Author, ChatId, ConversationId, Email, MessageText, NewMessage};
    use crate::events::Event;
    use crate::events::webhooks::{RETRY_DELAYS, WebhookUrl};

    fn event() -> Event {
        let chat = ConversationId::Chat(ChatId::generate());
        let owner = Email::parse("ann@example.com").unwrap().user_id().clone();
        let message = NewMessage::now(
            Author::Customer,
            MessageText::parse("hello").unwrap(),
            None,
            None,
        );
        Event::message_created(Event::new_id(), &chat, &owner, &message)
    }

    fn endpoint(url: &str) -> WebhookEndpoint {
        WebhookEndpoint::new(
            WebhookUrl::parse(url).unwrap(),
            vec![EventType::MessageCreated],
        )
    }

    /// What the receiver saw of one request.

    #[test]
    fn a_delivery_goes_only_to_an_enabled_endpoint_still_subscribed_to_its_type() {
        let wanting = endpoint("https://example.com/hooks");
        let delivery = Delivery::new(&wanting.id, &event(), 1);
        assert_eq!(delivery.recipient(Some(&wanting)), Some(&wanting));

        let disabled = WebhookEndpoint {
            enabled: false,
            ..wanting.clone()
        };
        let unsubscribed = WebhookEndpoint {
            events: vec![EventType::StatusChanged, EventType::Assigned],
            ..wanting.clone()
        };
        assert_eq!(delivery.recipient(None), None, "removed");
        assert_eq!(delivery.recipient(Some(&disabled)), None);
        assert_eq!(delivery.recipient(Some(&unsubscribed)), None);
    }

    #[test]
    fn an_attempt_is_done_disables_or_waits_its_place_in_the_schedule_then_dies() {
        let schedule = [Duration::from_secs(5), Duration::from_secs(60)];
        let failed = Outcome::Retry("answered 500".into());
        assert_eq!(Next::after(1, &Outcome::Delivered, &schedule), Next::Done);
        assert_eq!(Next::after(3, &Outcome::Delivered, &schedule), Next::Done);
        assert_eq!(Next::after(1, &Outcome::Gone, &schedule), Next::Disable);
        let failed_then = |then| Next::Failed {
            reason: "answered 500",
            then,
        };
        assert_eq!(
            Next::after(1, &failed, &schedule),
            failed_then(Failed::RetryAfter(Duration::from_secs(5)))
        );
        assert_eq!(
            Next::after(2, &failed, &schedule),
            failed_then(Failed::RetryAfter(Duration::from_secs(60)))
        );
        assert_eq!(
            Next::after(3, &failed, &schedule),
            failed_then(Failed::Dead)
        );
        // Even a 410 on the last attempt disables rather than dies.
        assert_eq!(Next::after(3, &Outcome::Gone, &schedule), Next::Disable);

        // The server's schedule: eight attempts.
        assert_eq!(
            Failed::after(1, &RETRY_DELAYS),
            Failed::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            Failed::after(7, &RETRY_DELAYS),
            Failed::RetryAfter(RETRY_DELAYS[6])
        );
        assert_eq!(Failed::after(8, &RETRY_DELAYS), Failed::Dead);
    }

    #[test]
    fn a_delivery_round_trips_as_json() {
        let endpoint = endpoint("https://example.com/hooks");
        let delivery = Delivery::new(&endpoint.id, &event(), 1_700_000_000_000);
        let json = serde_json::to_value(&delivery).unwrap();
        assert_eq!(json["eventType"], "message.created");
        assert_eq!(json["endpointId"], endpoint.id.as_str());
        assert_eq!(
            serde_json::from_value::<Delivery>(json.clone()).unwrap(),
            delivery
        );
        let mut unknown = json;
        unknown["eventType"] = "message.deleted".into();
        assert!(serde_json::from_value::<Delivery>(unknown).is_err());
    }
}
