//! The customers' message limit on DynamoDB ([`MessageLimit`]): one counter item per
//! customer and minute, `RATE#<email>` / `MSG#<minute's first ms>`, added to in the same
//! transaction as the message, on condition that it is below the limit. A transaction
//! cancelled on it wrote nothing, so only stored messages are counted. The item's TTL
//! removes it a day after its minute; the key names the minute, so an expired item that
//! TTL has not deleted yet is never read.

use super::DynamoStore;
use super::items::{n, s};
use super::table::{Part, Transaction, names, values};
use crate::auth::Caller;
use crate::domain::UserId;
use crate::store::{Hour, NewConversation, SourceAddress, StoreError, Window};
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

/// A counter's life after its minute, for the table's TTL.
const KEPT_SECS: i64 = 24 * 60 * 60;

pub fn rate_pk(user: &UserId) -> String {
    format!("RATE#{}", user.as_str())
}

pub fn rate_sk(window: Window) -> String {
    format!("MSG#{:013}", window.start_ms)
}

/// A source address's accounts created by trust on first request, one item an hour. An
/// email holds an `@`, an address never does, so the two kinds of partition cannot meet.
pub fn address_pk(address: &SourceAddress) -> String {
    format!("RATE#ADDR#{}", address.as_str())
}

pub fn address_sk(hour: Hour) -> String {
    format!("NEW#{:013}", hour.start_ms)
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
        let count = self.count_below(
            rate_pk(owner),
            rate_sk(window),
            limit.per_minute(),
            window.end_ms(),
        )?;
        Ok(transaction.with(Part::Rate, count))
    }

    /// `transaction` with the count of the account `new` creates by trust on first
    /// request against its source address, when the store has a limit and the request an
    /// address.
    pub(super) fn accounts_counted(
        &self,
        transaction: Transaction,
        new: &NewConversation,
    ) -> Result<Transaction, StoreError> {
        let (Some(limit), Caller::New { .. }, Some(address)) =
            (self.account_limit, &new.owner, &new.source)
        else {
            return Ok(transaction);
        };
        let hour = Hour::of(new.first_message.sent_at);
        let count = self.count_below(
            address_pk(address),
            address_sk(hour),
            limit.per_hour(),
            hour.end_ms(),
        )?;
        Ok(transaction.with(Part::AddressRate, count))
    }

    /// One more in the counter item `pk`/`sk` (its `count`), on condition that it is
    /// below `limit`; the item expires a day after `window_end_ms`.
    fn count_below(
        &self,
        pk: String,
        sk: String,
        limit: u32,
        window_end_ms: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let count = Update::builder()
            .table_name(&*self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("ADD #count :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .set_expression_attribute_names(Some(names(&[("#count", "count")])))
            .set_expression_attribute_values(Some(values(vec![
                (":one", n(1)),
                (":limit", n(i64::from(limit))),
                (":expires", n(window_end_ms / 1000 + KEPT_SECS)),
            ])))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(count).build())
    }

    /// The error for a transaction cancelled on its address's account count.
    pub(super) fn accounts_limited(&self, created_at: i64) -> StoreError {
        match self.account_limit {
            Some(limit) => limit.refused(created_at),
            None => StoreError::Internal("cancelled on an account count without a limit".into()),
        }
    }

    /// The error for a transaction cancelled on its count.
    pub(super) fn limited(&self, sent_at: i64) -> StoreError {
        match self.message_limit {
            Some(limit) => limit.refused(sent_at),
            None => StoreError::Internal("cancelled on a count without a limit".into()),
        }
    }
}
