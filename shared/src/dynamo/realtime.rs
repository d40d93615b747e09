//! What realtime delivery and webhooks keep in the table (keys in `items.rs`):
//! - connect tickets: `TICKET#<sha256>` / `TICKET`, with the table's time-to-live so
//!   DynamoDB deletes the ones never redeemed. Redeeming is one `DeleteItem`, on condition
//!   that the ticket is there, returning the old item, so of two redemptions racing for a
//!   ticket exactly one gets it.
//! - webhook endpoints: `WEBHOOKS` / `WH#<id>`, one partition, so that the endpoints an
//!   event goes to are one query.
//! - WebSocket connections: `WATCH#CUSTOMER#<email>` or `WATCH#AGENTS` / `CONN#<id>`,
//!   listed under the audience they deliver to, so that an event's fan-out is one query of
//!   its audience's partition, never a scan; with the time-to-live, since a connection
//!   API Gateway dropped without a `$disconnect` would otherwise stay forever. One that
//!   answered 410 Gone is deleted only if it is older than the grace period of
//!   `events::gateway`, a condition on its `expires_at_ms`.

use super::DynamoStore;
use super::errors::{classify, unless_condition_failed};
use super::items::{
    CONNECTION_PREFIX, Item, SUBSCRIPTION_ATTRIBUTES, TICKET, WEBHOOK_PREFIX, WEBHOOKS_PK,
    connection_sk, from_item, key, n, s, ticket_pk, to_item, watch_pk, webhook_sk,
};
use super::schema::TTL_ATTRIBUTE;
use super::table::values;
use crate::events::gateway::gone_cutoff;
use crate::events::webhooks::{WebhookSecret, WebhookUrl};
use crate::events::{
    Audience, ConnectionReader, ConnectionWriter, EventType, Subscriber, TicketIssuer,
    TicketRedeemer, WebhookEndpoint, WebhookRegistry, WebhookSubscription,
};
use crate::store::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use serde::{Deserialize, Serialize};

/// An item written for `subscriber` until `expires_at` (ms): a ticket or a connection.
fn subscriber_item(pk: String, sk: &str, subscriber: &Subscriber, expires_at: i64) -> Item {
    let mut item = key(pk, sk);
    item.insert("subscriber_kind".into(), s(subscriber.kind()));
    item.insert("subscriber_id".into(), s(subscriber.id()));
    item.insert("expires_at_ms".into(), n(expires_at));
    // DynamoDB's TTL is in seconds and deletes late; readers check the milliseconds.
    item.insert(TTL_ATTRIBUTE.into(), n(expires_at / 1000 + 1));
    item
}

/// The item's `expires_at_ms`; an item without one counts as expired.
fn expires_at(item: &Item) -> i64 {
    match item.get("expires_at_ms") {
        Some(AttributeValue::N(value)) => value.parse::<i64>().unwrap_or(0),
        _ => 0,
    }
}

/// Whom a [`subscriber_item`] was written for.
fn stored_subscriber(item: &Item, what: &str) -> Result<Subscriber, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    match (text("subscriber_kind"), text("subscriber_id")) {
        (Some(kind), Some(id)) => Subscriber::from_stored(kind, id)
            .map_err(|reason| StoreError::Internal(format!("{what}: {reason}"))),
        _ => Err(StoreError::Internal(format!("{what} without a subscriber"))),
    }
}

impl DynamoStore {
    /// Deletes the item and returns it, or `None` if there was none. The delete is
    /// conditional on the item existing, so of two deletes racing for it only one is
    /// told it was there: without the condition, DynamoDB Local returned the old item to
    /// both (`tests/realtime_store_rules.rs`).
    async fn delete_existing(
        &self,
        key: Item,
        operation: &str,
    ) -> Result<Option<Item>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        Ok(unless_condition_failed(operation, result)?.and_then(|output| output.attributes))
    }
}

impl TicketIssuer for DynamoStore {
    async fn put_ticket(
        &self,
        digest: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(subscriber_item(
                ticket_pk(digest),
                TICKET,
                subscriber,
                expires_at,
            )))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("put ticket", e))
    }
}

impl TicketRedeemer for DynamoStore {
    async fn take_ticket(&self, digest: &str, now: i64) -> Result<Option<Subscriber>, StoreError> {
        let old = self
            .delete_existing(key(ticket_pk(digest), TICKET), "DeleteItem ticket")
            .await?;
        match old {
            Some(old) if expires_at(&old) > now => stored_subscriber(&old, "ticket item").map(Some),
            _ => Ok(None),
        }
    }
}

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
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(to_item(&WebhookItem::new(endpoint))?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("PutItem webhook", e))
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
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(WEBHOOKS_PK.to_string(), &webhook_sk(id))))
            .update_expression("SET #enabled = :false")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#enabled", "enabled")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem webhook", result)?.is_some())
    }

    async fn remove_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let key = key(WEBHOOKS_PK.to_string(), &webhook_sk(id));
        let old = self.delete_existing(key, "DeleteItem webhook").await?;
        Ok(old.is_some())
    }
}

impl ConnectionWriter for DynamoStore {
    async fn put_connection(
        &self,
        connection_id: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(subscriber_item(
                watch_pk(&subscriber.audience()),
                &connection_sk(connection_id),
                subscriber,
                expires_at,
            )))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("PutItem connection", e))
    }

    async fn remove_connection(
        &self,
        connection_id: &str,
        audience: &Audience,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key(watch_pk(audience), &connection_sk(connection_id))))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("DeleteItem connection", e))
    }

    /// One `DeleteItem`, on condition that the item's `expires_at_ms` is below
    /// [`gone_cutoff`]: a connection made within the grace period is kept, and the
    /// condition and the delete are one step, so no read can go stale in between.
    async fn remove_gone_connection(
        &self,
        connection_id: &str,
        audience: &Audience,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key(watch_pk(audience), &connection_sk(connection_id))))
            // An item that is not there fails the condition too: nothing to remove.
            .condition_expression("expires_at_ms < :cutoff")
            .expression_attribute_values(":cutoff", n(gone_cutoff(now)))
            .send()
            .await;
        Ok(unless_condition_failed("DeleteItem gone connection", result)?.is_some())
    }
}

impl ConnectionReader for DynamoStore {
    /// One strongly consistent query of the audience's partition: a client that has
    /// connected and then fetched what it missed gets every later event, because the
    /// fan-out that follows a write cannot miss its freshly written connection.
    async fn connections(&self, audience: &Audience, now: i64) -> Result<Vec<String>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(watch_pk(audience))),
                (":prefix", s(CONNECTION_PREFIX)),
            ])))
            .projection_expression("sk, expires_at_ms")
            .consistent_read(true);
        let items = self.query_all(query, "Query connections").await?;
        // TTL deletes late: an expired connection may still be listed.
        Ok(items
            .iter()
            .filter(|item| expires_at(item) > now)
            .filter_map(|item| match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.strip_prefix(CONNECTION_PREFIX),
                _ => None,
            })
            .map(str::to_string)
            .collect())
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
