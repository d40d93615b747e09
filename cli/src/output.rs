//! What commands print: one JSON object a line for listings, a sentence for a change.

use supportzen_shared::events::WebhookEndpoint;
use supportzen_shared::events::delivery::Delivery;
use supportzen_shared::store::SecretChange;
use supportzen_sqlite::outbox::{Dead, Pending};

/// Prints each item as one line of JSON.
pub fn print_json_lines<T: serde::Serialize>(items: impl Iterator<Item = T>) -> Result<(), String> {
    for item in items {
        println!(
            "{}",
            serde_json::to_string(&item).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

/// What `users put` did, in words.
pub fn secret_change(user: &str, change: SecretChange, grace_hours: u32) -> String {
    match change {
        SecretChange::First => {
            format!("user {user} now authenticates with the provisioned secret")
        }
        SecretChange::Unchanged => format!("user {user} already has this secret; nothing changed"),
        SecretChange::Replaced if grace_hours == 0 => format!(
            "user {user} now authenticates with the new secret; the replaced secret no longer works"
        ),
        SecretChange::Replaced => format!(
            "user {user} now authenticates with the new secret; the replaced secret stays valid for {grace_hours} h"
        ),
    }
}

/// What `webhooks add` prints: the id, and the secret, which is never shown again.
pub fn webhook_added(endpoint: &WebhookEndpoint) -> String {
    format!(
        "id: {}\nsecret: {}\nThe secret is shown only this once: keep it with the receiver, which \
         verifies each delivery's webhook-signature with it.",
        endpoint.id,
        endpoint.secret.expose()
    )
}

/// An endpoint as `webhooks list` prints it: everything but the secret.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView<'a> {
    pub id: &'a str,
    pub url: &'a str,
    pub events: Vec<&'static str>,
    pub enabled: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl<'a> From<&'a WebhookEndpoint> for WebhookView<'a> {
    fn from(endpoint: &'a WebhookEndpoint) -> Self {
        WebhookView {
            id: &endpoint.id,
            url: endpoint.url.as_str(),
            events: endpoint.events.iter().map(|kind| kind.as_str()).collect(),
            enabled: endpoint.enabled,
            created_at: endpoint.created_at,
        }
    }
}

/// A delivery in the outbox as `webhooks deliveries` prints it: where it stands, without
/// its body (which names the customer).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView<'a> {
    /// `pending` or `dead`.
    pub state: &'static str,
    pub id: i64,
    pub endpoint_id: &'a str,
    pub event_id: &'a str,
    pub event_type: &'static str,
    pub attempts: u32,
    /// Times in milliseconds since the Unix epoch.
    pub first_attempt_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub died_at: Option<i64>,
    pub last_error: Option<&'a str>,
}

impl<'a> From<&'a Pending> for DeliveryView<'a> {
    fn from(pending: &'a Pending) -> Self {
        DeliveryView {
            state: "pending",
            next_attempt_at: Some(pending.next_attempt_at),
            died_at: None,
            last_error: pending.last_error.as_deref(),
            ..DeliveryView::of(pending.id, &pending.delivery)
        }
    }
}

impl<'a> From<&'a Dead> for DeliveryView<'a> {
    fn from(dead: &'a Dead) -> Self {
        DeliveryView {
            state: "dead",
            next_attempt_at: None,
            died_at: Some(dead.died_at),
            last_error: Some(&dead.last_error),
            ..DeliveryView::of(dead.id, &dead.delivery)
        }
    }
}

impl<'a> DeliveryView<'a> {
    fn of(id: i64, delivery: &'a Delivery) -> Self {
        DeliveryView {
            state: "pending",
            id,
            endpoint_id: &delivery.endpoint_id,
            event_id: &delivery.event_id,
            event_type: delivery.event_type.as_str(),
            attempts: delivery.attempts,
            first_attempt_at: delivery.first_attempt_at,
            next_attempt_at: None,
            died_at: None,
            last_error: None,
        }
    }
}
