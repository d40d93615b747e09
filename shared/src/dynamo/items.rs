//! The single table's items, their keys, and their conversion to and from the domain.
//!
//! | item | pk | sk | by-owner (gsi1) | open-by-activity (gsi2) |
//! |---|---|---|---|---|
//! | user | `USER#<email>` | `PROFILE` | | |
//! | conversation | `CONV#<id>` | `META` | `USER#<owner>` / `<created ms>#<id>` | `OPEN#<kind>` / `<last activity ms>#<id>`, only while open |
//! | message | `CONV#<id>` | `MSG#<message id>` | | |
//! | ticket counter | `COUNTER#ticket` | `COUNTER` | | |
//! | idempotency receipt | `IDEMPOTENCY#<endpoint>#<email>` | `<key>` | | |
//!
//! Times are milliseconds since the epoch, zero-padded to 13 digits in sort keys so
//! that string order is time order.

use crate::domain::{BodyDigest, ChatId, ConversationId, MessageId, NewMessage, TicketId, UserId};
use crate::store::{
    NewReceipt, Receipt, ReceiptKey, StoreError, StoredConversation, StoredMessage,
};
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
    format!(
        "IDEMPOTENCY#{}#{}",
        key.endpoint.as_str(),
        key.user.as_str()
    )
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

fn time_key(millis: i64, id: &str) -> String {
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

/// A user created by trust-on-first-use. Provisioned users get `secret` by update.
#[derive(Serialize, Deserialize, Debug)]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Hex SHA-256 of the pinned token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_created_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct ConversationItem {
    pub pk: String,
    pub sk: String,
    pub id: String,
    pub kind: String,
    pub owner: String,
    pub open: bool,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub gsi1pk: String,
    pub gsi1sk: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

impl ConversationItem {
    /// A new, open conversation.
    pub fn new(id: &ConversationId, owner: &UserId, now: i64) -> Self {
        ConversationItem {
            pk: conversation_pk(id),
            sk: META.to_string(),
            id: id.key(),
            kind: id.kind().to_string(),
            owner: owner.as_str().to_string(),
            open: true,
            created_at: now,
            last_activity_at: now,
            gsi1pk: user_pk(owner),
            gsi1sk: time_key(now, &id.key()),
            gsi2pk: Some(open_pk(id.kind())),
            gsi2sk: Some(activity_key(now, id)),
        }
    }

    pub fn into_stored(self) -> Result<StoredConversation, StoreError> {
        let bad = |reason: String| {
            StoreError::Internal(format!("stored conversation {:?}: {reason}", self.id))
        };
        let id = match self.kind.as_str() {
            "chat" => ChatId::parse(&self.id)
                .map(ConversationId::Chat)
                .map_err(bad)?,
            "ticket" => TicketId::parse(&self.id)
                .map(ConversationId::Ticket)
                .map_err(bad)?,
            other => return Err(bad(format!("unknown kind {other:?}"))),
        };
        Ok(StoredConversation {
            id,
            owner: UserId::from_stored(self.owner),
            open: self.open,
            created_at: self.created_at,
            last_activity_at: self.last_activity_at,
        })
    }
}

#[derive(Serialize, Deserialize, Debug)]
pub struct MessageItem {
    pub pk: String,
    pub sk: String,
    pub id: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub sent_at: i64,
}

impl MessageItem {
    pub fn new(conversation: &ConversationId, message: &NewMessage) -> Self {
        MessageItem {
            pk: conversation_pk(conversation),
            sk: format!("{MESSAGE_PREFIX}{}", message.id.as_str()),
            id: message.id.as_str().to_string(),
            body: message.text.as_str().to_string(),
            image_url: message.image_url.as_ref().map(|u| u.as_str().to_string()),
            sent_at: message.sent_at,
        }
    }

    pub fn into_stored(self) -> Result<StoredMessage, StoreError> {
        Ok(StoredMessage {
            id: MessageId::parse(&self.id).map_err(StoreError::Internal)?,
            text: self.body,
            image_url: self.image_url,
            sent_at: self.sent_at,
        })
    }
}

/// The answer to an idempotent request; `expires_at` is the table's TTL attribute.
#[derive(Serialize, Deserialize, Debug)]
pub struct ReceiptItem {
    pub pk: String,
    pub sk: String,
    pub body_sha256: String,
    /// The success response's `data`, as JSON text.
    pub response_data: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    pub written_at: i64,
}

/// The attributes [`ReceiptItem::into_receipt`] reads, for projections.
pub const RECEIPT_ATTRIBUTES: &str = "pk, sk, body_sha256, response_data, expires_at, written_at";

impl ReceiptItem {
    pub fn new(new: &NewReceipt) -> Self {
        ReceiptItem {
            pk: receipt_pk(&new.key),
            sk: new.key.key.as_str().to_string(),
            body_sha256: hex::encode(new.receipt.body.as_bytes()),
            response_data: new.receipt.data.clone(),
            expires_at: new.receipt.expires_at,
            written_at: new.written_at,
        }
    }

    pub fn into_receipt(self) -> Result<Receipt, StoreError> {
        let body = hex::decode(&self.body_sha256)
            .ok()
            .and_then(|bytes| BodyDigest::from_stored(&bytes))
            .ok_or_else(|| {
                StoreError::Internal("stored body digest is not 32 bytes of hex".into())
            })?;
        Ok(Receipt {
            body,
            data: self.response_data,
            expires_at: self.expires_at,
        })
    }
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
