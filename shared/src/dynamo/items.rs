//! The single table's layout: every item's keys, and the encoding of items. Each item's
//! attributes and its conversion to and from the domain live with its aggregate
//! (`users.rs`, `conversations.rs`, `receipts.rs`; the ticket counter in `tickets.rs`).
//!
//! | item | pk | sk | by-owner (gsi1) | open-by-activity (gsi2) |
//! |---|---|---|---|---|
//! | user | `USER#<email>` | `PROFILE` | | |
//! | conversation | `CONV#<id>` | `META` | `USER#<owner>` / `<kind>#<last activity ms>#<id>` | `OPEN#<kind>` / `<last activity ms>#<id>`, only while open |
//! | message | `CONV#<id>` | `MSG#<message id>` | | |
//! | ticket counter | `COUNTER#ticket` | `COUNTER` | | |
//! | idempotency receipt | `IDEMPOTENCY#<endpoint>#<email>` | `<key>` | | |
//!
//! Times are milliseconds since the epoch, zero-padded to 13 digits in sort keys so
//! that string order is time order.

use crate::domain::{ConversationId, MessageId, UserId};
use crate::idempotency::ReceiptKey;
use crate::store::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub const PROFILE: &str = "PROFILE";
pub const META: &str = "META";
pub const MESSAGE_PREFIX: &str = "MSG#";

pub fn user_pk(user: &UserId) -> String {
    format!("USER#{}", user.as_str())
}

pub fn conversation_pk(id: &ConversationId) -> String {
    format!("CONV#{}", id.key())
}

/// One partition per endpoint and user, so that each function's IAM policy can let it
/// write its own endpoint's receipts and nothing else (`dynamodb:LeadingKeys`).
pub fn receipt_pk(key: &ReceiptKey) -> String {
    format!("IDEMPOTENCY#{}#{}", key.endpoint.name(), key.user.as_str())
}

pub fn counter_pk(name: &str) -> String {
    format!("COUNTER#{name}")
}

/// `(pk, sk)` as an item key.
pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

/// A time-ordered sort key: milliseconds, zero-padded, then the id.
pub fn time_key(millis: i64, id: &str) -> String {
    format!("{millis:013}#{id}")
}

/// The open-by-activity partition for a kind of conversation.
pub fn open_pk(kind: &str) -> String {
    format!("OPEN#{kind}")
}

/// The open-by-activity sort key.
pub fn activity_key(millis: i64, id: &ConversationId) -> String {
    time_key(millis, &id.key())
}

/// The by-owner sort key: a customer's conversations of one kind, by last activity.
/// (Conversations written before the read routes have `<created ms>#<id>` here until
/// their next message; docs/data-model.md.)
pub fn owner_activity_key(millis: i64, id: &ConversationId) -> String {
    format!("{}#{}", id.kind(), activity_key(millis, id))
}

/// A message's sort key.
pub fn message_sk(id: &MessageId) -> String {
    format!("{MESSAGE_PREFIX}{}", id.as_str())
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(value)
        .map_err(|e| StoreError::Internal(format!("encoding item: {e}")))
}

pub fn from_item<'a, T: Deserialize<'a>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|e| StoreError::Internal(format!("decoding item: {e}")))
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
