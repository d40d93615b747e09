//! Safe retries, all in one place. A client that did not hear the answer to a request
//! sends it again with the same `Idempotency-Key`; the first answer is kept for a day as
//! a receipt, written in the same transaction as the change it answers for, so that the
//! retry gets it back instead of writing a second chat, message or ticket.
//!
//! This module decides: what a key and "the same body" are, where a receipt is kept
//! ([`ReceiptKey`]: one user's key on one endpoint), what receipt a change writes
//! ([`Retry::receipt`]) and what a receipt found by the store means for a retry
//! ([`Retry::replay`]). Stores only read and write receipts; the flows only ask.

use crate::domain::{AgentId, UserId};
use crate::endpoint::Endpoint;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::fmt;

/// Longest key accepted; a UUID needs 36.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// How long an answer is kept for retries. After that the same key is a new request.
pub const KEY_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// The client's name for one logical request: 1 to 255 visible ASCII characters,
/// compared exactly (a UUID is the usual choice).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_IDEMPOTENCY_KEY_CHARS {
            return Err(format!(
                "must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(NOT_VISIBLE_ASCII.into());
        }
        Ok(IdempotencyKey(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a key with other than visible ASCII is refused (also for header bytes that are not text).
pub const NOT_VISIBLE_ASCII: &str = "must be visible ASCII characters without spaces";

/// Keys are chosen by clients and stay out of logs like everything else they send.
impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(..)")
    }
}

/// What "the same body" means for a retry: SHA-256 of the request's fields with keys
/// sorted, no whitespace and `null` fields left out (the parser reads `null` as absent),
/// so a client that re-encodes its JSON, or wraps the same fields in `{"data": …}`, still
/// sends the same request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BodyDigest([u8; 32]);

impl BodyDigest {
    /// Digests a body's fields; objects at every depth are taken in key order.
    pub fn of(fields: &serde_json::Map<String, serde_json::Value>) -> Self {
        let present = fields.iter().filter(|(_, value)| !value.is_null());
        let mut canonical =
            serde_json::Value::Object(present.map(|(k, v)| (k.clone(), v.clone())).collect());
        canonical.sort_all_objects();
        BodyDigest(Sha256::digest(canonical.to_string()).into())
    }

    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(BodyDigest)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for BodyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyDigest({})", hex::encode(&self.0[..4]))
    }
}

/// Who sent an idempotent request: a customer (by normalized email) or an agent (by id).
/// Keys are kept per endpoint, and no endpoint takes both, so the two never meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requester(String);

impl Requester {
    pub fn customer(user: &UserId) -> Self {
        Requester(user.as_str().to_string())
    }

    pub fn agent(agent: &AgentId) -> Self {
        Requester(agent.as_str().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the answer to an idempotent request is kept: one requester's key on one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptKey {
    pub requester: Requester,
    pub endpoint: Endpoint,
    pub key: IdempotencyKey,
}

/// The answer given to an idempotent request, kept so that a retry gets it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The body it answered; a retry with another body is refused.
    pub body: BodyDigest,
    /// The success response's `data` object, as JSON text.
    pub data: String,
    /// Unix seconds after which the key is forgotten. Stores may keep the record a while
    /// longer (DynamoDB's TTL deletes lazily), so [`Retry::replay`] compares it with the clock.
    pub expires_at: i64,
}

/// A receipt to write together with the change it records.
#[derive(Clone, Debug)]
pub struct NewReceipt {
    pub key: ReceiptKey,
    pub receipt: Receipt,
    /// Unix seconds. The write replaces a receipt for the same key only if that one
    /// expired by then; otherwise it fails with [`crate::store::StoreError::ReceiptExists`].
    pub written_at: i64,
}

/// Why an earlier answer cannot be given to a retry.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The key was used with another body: the client must pick a new key.
    #[error("this Idempotency-Key was used with a different request body")]
    OtherBody,
    /// The stored answer does not read back; for the logs.
    #[error("stored receipt does not read back: {0}")]
    Unreadable(String),
}

/// A request made safe to retry: its key, where its receipt lives, and its body's digest.
#[derive(Clone, Debug)]
pub struct Retry {
    key: ReceiptKey,
    body: BodyDigest,
}

impl Retry {
    /// A customer's request.
    pub fn new(endpoint: Endpoint, user: &UserId, key: IdempotencyKey, body: BodyDigest) -> Self {
        Self::by(Requester::customer(user), endpoint, key, body)
    }

    /// An agent's request.
    pub fn for_agent(
        endpoint: Endpoint,
        agent: &AgentId,
        key: IdempotencyKey,
        body: BodyDigest,
    ) -> Self {
        Self::by(Requester::agent(agent), endpoint, key, body)
    }

    fn by(requester: Requester, endpoint: Endpoint, key: IdempotencyKey, body: BodyDigest) -> Self {
        Retry {
            key: ReceiptKey {
                requester,
                endpoint,
                key,
            },
            body,
        }
    }

    /// Where the store keeps (or will keep) this request's receipt.
    pub fn key(&self) -> &ReceiptKey {
        &self.key
    }

    /// The receipt to write with the change whose answer is `data`, at `now` (Unix seconds).
    pub fn receipt<T: Serialize>(&self, data: &T, now: i64) -> Result<NewReceipt, ReplayError> {
        let data =
            serde_json::to_string(data).map_err(|e| ReplayError::Unreadable(e.to_string()))?;
        Ok(NewReceipt {
            key: self.key.clone(),
            receipt: Receipt {
                body: self.body,
                data,
                expires_at: now + KEY_LIFETIME_SECONDS,
            },
            written_at: now,
        })
    }

    /// What a receipt the store found under this key means at `now` (Unix seconds): the
    /// earlier answer for the same body, `None` if there is none or it expired (the
    /// request is new), or an error for another body.
    pub fn replay<T: DeserializeOwned>(
        &self,
        found: Option<Receipt>,
        now: i64,
    ) -> Result<Option<T>, ReplayError> {
        let Some(receipt) = found.filter(|r| r.expires_at > now) else {
            return Ok(None);
        };
        if receipt.body != self.body {
            return Err(ReplayError::OtherBody);
        }
        serde_json::from_str(&receipt.data)
            .map(Some)
            .map_err(|e| ReplayError::Unreadable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;
    use serde_json::{Value, json};

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert!(IdempotencyKey::parse("\"quoted-as-in-the-ietf-draft\"").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_IDEMPOTENCY_KEY_CHARS)).is_ok());
        for bad in [
            String::new(),
            "k".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1),
            "has space".into(),
            "tab\there".into(),
            "clé".into(),
        ] {
            assert!(IdempotencyKey::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_digest_but_values_do() {
        let digest = |text: &str| {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            BodyDigest::of(value.as_object().unwrap())
        };
        let a = digest(r#"{"email":"a@b.c","message":"hi","x":{"b":1,"a":2}}"#);
        let b = digest(r#"{ "x": {"a": 2, "b": 1}, "message": "hi", "email": "a@b.c" }"#);
        assert_eq!(a, b);
        let c = json!({"email": "a@b.c", "message": "hi!", "x": {"a": 2, "b": 1}});
        assert_ne!(a, BodyDigest::of(c.as_object().unwrap()));
        // A field sent as null is a field left out, as when parsing.
        let with_null =
            digest(r#"{"email":"a@b.c","message":"hi","x":{"b":1,"a":2},"image_url":null}"#);
        assert_eq!(a, with_null);
    }

    fn retry(body: &Value) -> Retry {
        Retry::new(
            Endpoint::LiveChat,
            Email::parse("ann@example.com").unwrap().user_id(),
            IdempotencyKey::parse("k-1").unwrap(),
            BodyDigest::of(body.as_object().unwrap()),
        )
    }

    #[test]
    fn a_live_receipt_for_the_same_body_replays_its_answer() {
        let body = json!({"message": "hi"});
        let answer = json!({"chatId": "chat-1"});
        let written = retry(&body).receipt(&answer, 1_000).unwrap();
        assert_eq!(written.receipt.expires_at, 1_000 + KEY_LIFETIME_SECONDS);
        assert_eq!(written.written_at, 1_000);
        let found = || Some(written.receipt.clone());
        assert_eq!(
            retry(&body).replay::<Value>(found(), 1_001),
            Ok(Some(answer))
        );
        // Expired: the same key is a new request.
        let expiry = written.receipt.expires_at;
        assert_eq!(retry(&body).replay::<Value>(found(), expiry), Ok(None));
        assert_eq!(retry(&body).replay::<Value>(None, 1_001), Ok(None));
        // Another body with the same key is refused while the receipt lives.
        assert_eq!(
            retry(&json!({"message": "hi!"})).replay::<Value>(found(), 1_001),
            Err(ReplayError::OtherBody)
        );
    }
}
