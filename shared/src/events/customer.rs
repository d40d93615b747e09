//! Events about a customer rather than one of their conversations: today only
//! `customer.erased`, sent to webhooks (never to sockets: its customer has no
//! conversation left to watch) once `supportzen users erase` removed what the store held
//! about them, so that a receiver can erase its own copy. Its envelope has no
//! `conversationId`; its `data` names the customer by email (what the receiver already
//! knows them by), with the counts of what was removed and when: no other personal data.

use super::envelope::EventType;
use crate::domain::UserId;
use serde_json::{Value, json};

/// What webhooks need of an event, whatever it is about: its id (the `webhook-id` of
/// every attempt), its type (what endpoints subscribe to) and the body signed and sent.
pub trait WebhookEvent {
    fn event_id(&self) -> &str;
    fn event_type(&self) -> EventType;
    /// The envelope a webhook carries.
    fn webhook_body(&self) -> String;
}

/// One change to a customer as a whole.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerEvent {
    /// `evt_<…>`, as a conversation event's.
    pub id: String,
    pub kind: EventType,
    pub customer: UserId,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: i64,
    /// The type's own fields, besides `customer`.
    pub data: Value,
}

impl CustomerEvent {
    /// `customer` was erased at `occurred_at` (ms); `counts` is what the erasure removed
    /// (an object of numbers and flags, as `supportzen users erase` prints it: never a
    /// name, a key or a text).
    pub fn erased(customer: &UserId, counts: Value, occurred_at: i64) -> Self {
        CustomerEvent {
            id: super::Event::new_id(),
            kind: EventType::CustomerErased,
            customer: customer.clone(),
            occurred_at,
            data: json!({ "erased": counts }),
        }
    }

    /// `{id, type, occurredAt, data: {customer: {email}, …}}`.
    pub fn to_webhook_json(&self) -> String {
        let mut data = self.data.clone();
        data["customer"] = json!({ "email": self.customer.as_str() });
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "occurredAt": self.occurred_at,
            "data": data,
        })
        .to_string()
    }
}

impl WebhookEvent for CustomerEvent {
    fn event_id(&self) -> &str {
        &self.id
    }

    fn event_type(&self) -> EventType {
        self.kind
    }

    fn webhook_body(&self) -> String {
        self.to_webhook_json()
    }
}

impl WebhookEvent for super::Event {
    fn event_id(&self) -> &str {
        &self.id
    }

    fn event_type(&self) -> EventType {
        self.kind
    }

    fn webhook_body(&self) -> String {
        self.to_webhook_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    #[test]
    fn the_erased_event_names_the_customer_by_email_and_no_conversation() {
        let ann = Email::parse("Ann@Example.com").unwrap().user_id().clone();
        let event = CustomerEvent::erased(&ann, json!({"conversations": 2, "files": 1}), 42);
        let body: Value = serde_json::from_str(&event.webhook_body()).unwrap();
        assert_eq!(body["type"], "customer.erased");
        assert_eq!(body["id"], event.id.as_str());
        assert!(event.id.starts_with("evt_"));
        assert_eq!(body["occurredAt"], 42);
        assert_eq!(body["data"]["customer"]["email"], "ann@example.com");
        assert_eq!(body["data"]["erased"]["conversations"], 2);
        assert_eq!(body["data"]["erased"]["files"], 1);
        assert!(body.get("conversationId").is_none(), "{body}");
    }
}
