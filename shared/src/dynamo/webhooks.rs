//! Webhook endpoints in the table: `WEBHOOKS` / `WH#<id>`, one partition, so that the
//! endpoints an event goes to are one query (keys in `items.rs`).

use super::DynamoStore;
use super::items::{
    Item, SUBSCRIPTION_ATTRIBUTES, WEBHOOK_PREFIX, WEBHOOKS_PK, from_item, key, s, to_item,
    webhook_sk,
};
use super::table::values;
use crate::events::{EventType, WebhookEndpoint, WebhookSecret, WebhookSubscription, WebhookUrl};
use crate::store::{StoreError, WebhookRegistry};
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use serde::{Deserialize, Serialize};

/// A webhook endpoint as the table keeps it. The secret is kept as it is, unlike a
/// ticket: signing a delivery needs the key itself. (No `Debug`: it would print the
/// secret.)
#[derive(Serialize, Deserialize)]
struct WebhookItem {
    pk: String,
    sk: String,
    id: String,
    url: String,
    /// The event types, space-separated (as the SQLite store keeps them).
    events: String,
    /// `whsec_...`.
    secret: String,
    enabled: bool,
    created_at_ms: i64,
}

impl WebhookItem {
    fn new(endpoint: &WebhookEndpoint) -> Self {
        WebhookItem {
            pk: WEBHOOKS_PK.to_string(),
            sk: webhook_sk(&endpoint.id),
            id: endpoint.id.clone(),
            url: endpoint.url.as_str().to_string(),
            events: endpoint
                .events
                .iter()
                .map(|kind| kind.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            secret: endpoint.secret.expose(),
            enabled: endpoint.enabled,
            created_at_ms: endpoint.created_at,
        }
    }

    /// Reads a stored endpoint back; the error names the endpoint and the bad attribute
    /// (never the secret's value).
    fn decode(item: Item) -> Result<WebhookEndpoint, StoreError> {
        let stored: WebhookItem = from_item(item)?;
        let id = stored.id;
        let bad = |field: &str, reason: String| {
            StoreError::Internal(format!("webhook {id} {field}: {reason}"))
        };
        Ok(WebhookEndpoint {
            url: WebhookUrl::parse(&stored.url).map_err(|e| bad("url", e))?,
            events: parse_events(&stored.events).map_err(|e| bad("events", e))?,
            secret: WebhookSecret::parse(&stored.secret).map_err(|e| bad("secret", e))?,
            enabled: stored.enabled,
            created_at: stored.created_at_ms,
            id,
        })
    }
}

impl WebhookRegistry for DynamoStore {
    async fn add_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        let write = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(to_item(&WebhookItem::new(endpoint))?))
            .condition_expression("attribute_not_exists(pk)");
        let operation = "PutItem webhook";
        self.send_put(write, operation)
            .await?
            .unconditional(operation)?;
        Ok(())
    }

    /// One strongly consistent query of the partition, so that an endpoint just added,
    /// disabled or removed is seen as such by the next event.
    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(WEBHOOKS_PK)),
                (":prefix", s(WEBHOOK_PREFIX)),
            ])))
            .consistent_read(true);
        let mut endpoints = self
            .query_all(query, "Query webhooks")
            .await?
            .into_iter()
            .map(WebhookItem::decode)
            .collect::<Result<Vec<_>, _>>()?;
        // Ids are UUIDv7s, so key order is nearly creation order; the SQLite store's
        // order (creation time, then id) is exact.
        endpoints.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(endpoints)
    }

    /// The same query, projected to the id, event types and flag (`Select`
    /// `SPECIFIC_ATTRIBUTES`): the functions that route events are granted only these
    /// attributes, never a URL or a secret. An item that does not decode is logged and
    /// skipped, so that one bad endpoint stops no other's deliveries.
    async fn subscriptions(&self) -> Result<Vec<WebhookSubscription>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(WEBHOOKS_PK)),
                (":prefix", s(WEBHOOK_PREFIX)),
            ])))
            .select(Select::SpecificAttributes)
            .projection_expression(SUBSCRIPTION_ATTRIBUTES.join(", "))
            .consistent_read(true);
        let mut subscriptions = Vec::new();
        for item in self.query_all(query, "Query webhook subscriptions").await? {
            match from_item::<SubscriptionItem>(item) {
                Ok(stored) => match parse_events(&stored.events) {
                    Ok(events) => subscriptions.push((
                        stored.created_at_ms,
                        WebhookSubscription {
                            id: stored.id,
                            events,
                            enabled: stored.enabled,
                        },
                    )),
                    Err(err) => tracing::error!(webhook = %stored.id, %err, "webhook skipped"),
                },
                Err(err) => tracing::error!(%err, "webhook skipped"),
            }
        }
        subscriptions.sort_by(|(at_a, a), (at_b, b)| (at_a, &a.id).cmp(&(at_b, &b.id)));
        Ok(subscriptions.into_iter().map(|(_, s)| s).collect())
    }

    async fn disable_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let disable = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(WEBHOOKS_PK.to_string(), &webhook_sk(id))))
            .update_expression("SET #enabled = :false")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#enabled", "enabled")
            .expression_attribute_values(":false", AttributeValue::Bool(false));
        Ok(self
            .send_update(disable, "UpdateItem webhook")
            .await?
            .is_done())
    }

    async fn remove_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let key = key(WEBHOOKS_PK.to_string(), &webhook_sk(id));
        let old = self.delete_existing(key, "DeleteItem webhook").await?;
        Ok(old.is_some())
    }
}

/// What [`WebhookRegistry::subscriptions`] reads of a webhook item.
#[derive(Deserialize)]
struct SubscriptionItem {
    id: String,
    events: String,
    enabled: bool,
    created_at_ms: i64,
}

/// The `events` attribute read back: space-separated event types.
fn parse_events(events: &str) -> Result<Vec<EventType>, String> {
    events.split_whitespace().map(EventType::parse).collect()
}
