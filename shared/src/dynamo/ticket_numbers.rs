//! Ticket numbers: one counter item, incremented atomically.

use super::DynamoStore;
use super::items::{counter_pk, key, n};
use crate::store::{StoreError, TicketNumbers};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

impl TicketNumbers for DynamoStore {
    async fn next_ticket_number(&self) -> Result<u64, StoreError> {
        let increment = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(counter_pk("ticket"), "COUNTER")))
            .update_expression("ADD #value :one")
            .expression_attribute_names("#value", "value")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew);
        let operation = "UpdateItem ticket counter";
        let new = self
            .send_update(increment, operation)
            .await?
            .unconditional(operation)?;
        match new.as_ref().and_then(|a| a.get("value")) {
            Some(AttributeValue::N(value)) => value
                .parse()
                .map_err(|_| StoreError::Internal(format!("ticket counter is {value:?}"))),
            other => Err(StoreError::Internal(format!(
                "ticket counter returned {other:?}"
            ))),
        }
    }
}
