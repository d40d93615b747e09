//! The customers' message limit on DynamoDB ([`MessageLimit`]): one counter item per
//! customer and minute, `RATE#<email>` / `MSG#<minute's first ms>`, added to in the same
//! transaction as the message, on condition that it is below the limit. A transaction
//! cancelled on it wrote nothing, so only stored messages are counted. The item's TTL
//! removes it a day after its minute; the key names the minute, so an expired item that
//! TTL has not deleted yet is never read.

use super::DynamoStore;
use super::items::{n, s};
use super::table::{Part, Transaction, names, values};
use crate::domain::UserId;
use crate::store::{StoreError, Window};
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

/// A counter's life after its minute, for the table's TTL.
const KEPT_SECS: i64 = 24 * 60 * 60;

pub fn rate_pk(user: &UserId) -> String {
    format!("RATE#{}", user.as_str())
}

pub fn rate_sk(window: Window) -> String {
    format!("MSG#{:013}", window.start_ms)
}

impl DynamoStore {
    /// `transaction` with the count of `owner`'s message sent at `sent_at`, when the store
    /// has a limit.
    pub(super) fn counted(
        &self,
        transaction: Transaction,
        owner: &UserId,
        sent_at: i64,
    ) -> Result<Transaction, StoreError> {
        let Some(limit) = self.message_limit else {
            return Ok(transaction);
        };
        let window = Window::of(sent_at);
        let count = Update::builder()
            .table_name(&*self.table)
            .key("pk", s(rate_pk(owner)))
            .key("sk", s(rate_sk(window)))
            .update_expression("ADD #sent :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(#sent) OR #sent < :limit")
            .set_expression_attribute_names(Some(names(&[("#sent", "sent")])))
            .set_expression_attribute_values(Some(values(vec![
                (":one", n(1)),
                (":limit", n(i64::from(limit.per_minute()))),
                (":expires", n(window.end_ms() / 1000 + KEPT_SECS)),
            ])))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(transaction.with(
            Part::Rate,
            TransactWriteItem::builder().update(count).build(),
        ))
    }

    /// The error for a transaction cancelled on its count.
    pub(super) fn limited(&self, sent_at: i64) -> StoreError {
        match self.message_limit {
            Some(limit) => limit.refused(sent_at),
            None => StoreError::Internal("cancelled on a count without a limit".into()),
        }
    }
}
