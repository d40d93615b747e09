//! What realtime delivery keeps in the table (keys in `items.rs`):
//! - connect tickets: `TICKET#<sha256>` / `TICKET`, with the table's time-to-live so
//!   DynamoDB deletes the ones never redeemed. Redeeming is one `DeleteItem`, on condition
//!   that the ticket is there, returning the old item, so of two redemptions racing for a
//!   ticket exactly one gets it.
//! - WebSocket connections: `WATCH#CUSTOMER#<email>` or `WATCH#AGENTS` / `CONN#<id>`,
//!   listed under the audience they deliver to, so that an event's fan-out is one query of
//!   its audience's partition, never a scan; with the time-to-live, since a connection
//!   API Gateway dropped without a `$disconnect` would otherwise stay forever. One that
//!   answered 410 Gone is deleted only if it is older than the grace period
//!   (`store::GONE_GRACE_MS`), a condition on its `expires_at_ms`.

use super::DynamoStore;
use super::items::{
    CONNECTION_PREFIX, Item, TICKET, connection_sk, key, n, s, ticket_pk, watch_pk,
};
use super::schema::TTL_ATTRIBUTE;
use super::table::values;
use super::wire::Written;
use crate::events::Subscriber;
use crate::store::{
    Audience, ConnectTicketIssuer, ConnectTicketRedeemer, ConnectionReader, ConnectionWriter,
    StoreError, gone_cutoff,
};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// An item written for `subscriber` until `expires_at` (ms): a ticket or a connection.
fn subscriber_item(pk: String, sk: &str, subscriber: &Subscriber, expires_at: i64) -> Item {
    let mut item = key(pk, sk);
    item.insert("subscriber_kind".into(), s(subscriber.kind()));
    item.insert("subscriber_id".into(), s(subscriber.id()));
    if let Some(name) = subscriber.name() {
        item.insert("subscriber_name".into(), s(name));
    }
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
        (Some(kind), Some(id)) => Subscriber::from_stored_named(kind, id, text("subscriber_name"))
            .map_err(|reason| StoreError::Internal(format!("{what}: {reason}"))),
        _ => Err(StoreError::Internal(format!("{what} without a subscriber"))),
    }
}

impl DynamoStore {
    /// Deletes the item and returns it, or `None` if there was none. The delete is
    /// conditional on the item existing, so of two deletes racing for it only one is
    /// told it was there: without the condition, DynamoDB Local returned the old item to
    /// both (`tests/store/realtime_store_rules.rs`).
    pub(super) async fn delete_existing(
        &self,
        key: Item,
        operation: &str,
    ) -> Result<Option<Item>, StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld);
        Ok(match self.send_delete(delete, operation).await? {
            Written::Done(old) => old,
            Written::ConditionFailed(_) => None,
        })
    }
}

impl ConnectTicketIssuer for DynamoStore {
    async fn put_ticket(
        &self,
        digest: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(subscriber_item(
                ticket_pk(digest),
                TICKET,
                subscriber,
                expires_at,
            )))
            .condition_expression("attribute_not_exists(pk)");
        let operation = "PutItem ticket";
        self.send_put(put, operation)
            .await?
            .unconditional(operation)?;
        Ok(())
    }
}

impl ConnectTicketRedeemer for DynamoStore {
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

impl ConnectionWriter for DynamoStore {
    async fn put_connection(
        &self,
        connection_id: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(subscriber_item(
                watch_pk(&subscriber.audience()),
                &connection_sk(connection_id),
                subscriber,
                expires_at,
            )));
        let operation = "PutItem connection";
        self.send_put(put, operation)
            .await?
            .unconditional(operation)?;
        Ok(())
    }

    async fn remove_connection(
        &self,
        connection_id: &str,
        audience: &Audience,
    ) -> Result<(), StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key(watch_pk(audience), &connection_sk(connection_id))));
        let operation = "DeleteItem connection";
        self.send_delete(delete, operation)
            .await?
            .unconditional(operation)?;
        Ok(())
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
        let delete = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key(watch_pk(audience), &connection_sk(connection_id))))
            // An item that is not there fails the condition too: nothing to remove.
            .condition_expression("expires_at_ms < :cutoff")
            .expression_attribute_values(":cutoff", n(gone_cutoff(now)));
        Ok(self
            .send_delete(delete, "DeleteItem gone connection")
            .await?
            .is_done())
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
