//! Connect tickets: `TICKET#<sha256>` / `TICKET`, with the table's time-to-live so
//! DynamoDB deletes the ones never redeemed. Redeeming is one `DeleteItem` returning the
//! old item, so of two redemptions racing for a ticket exactly one gets it.

use super::DynamoStore;
use super::errors::classify;
use super::items::{key, n, s};
use super::schema::TTL_ATTRIBUTE;
use crate::events::{Subscriber, TicketIssuer, TicketRedeemer};
use crate::store::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// The sort key of a ticket item.
const TICKET: &str = "TICKET";

fn ticket_pk(digest: &str) -> String {
    format!("TICKET#{digest}")
}

impl TicketIssuer for DynamoStore {
    async fn put_ticket(
        &self,
        digest: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut item = key(ticket_pk(digest), TICKET);
        item.insert("subscriber_kind".into(), s(subscriber.kind()));
        item.insert("subscriber_id".into(), s(subscriber.id()));
        item.insert("expires_at_ms".into(), n(expires_at));
        // DynamoDB's TTL is in seconds and deletes late; redemption checks the milliseconds.
        item.insert(TTL_ATTRIBUTE.into(), n(expires_at / 1000 + 1));
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
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
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key(ticket_pk(digest), TICKET)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("take ticket", e))?
            .attributes;
        let Some(old) = old else { return Ok(None) };
        let text = |name: &str| match old.get(name) {
            Some(AttributeValue::S(value)) => Some(value.as_str()),
            _ => None,
        };
        let expires_at = match old.get("expires_at_ms") {
            Some(AttributeValue::N(value)) => value.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        if expires_at <= now {
            return Ok(None);
        }
        match (text("subscriber_kind"), text("subscriber_id")) {
            (Some(kind), Some(id)) => Subscriber::from_stored(kind, id)
                .map(Some)
                .map_err(StoreError::Internal),
            _ => Err(StoreError::Internal(
                "ticket item without a subscriber".into(),
            )),
        }
    }
}
