//! Safe retries. A client that did not hear the answer to a request sends it again with
//! the same `Idempotency-Key` header; the first answer is kept for a day so that the
//! retry gets it back instead of writing a second chat, message or ticket.

use lambda_http::http::HeaderMap;
use sha2::{Digest, Sha256};
use std::fmt;

/// The request header that carries the key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The response header set (to `true`) on an answer that was given before.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

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
            return Err("must be visible ASCII characters without spaces".into());
        }
        Ok(IdempotencyKey(raw.to_string()))
    }

    /// The key a request carries, if any. A header that is present must be valid: a
    /// client that meant to make its request safe to retry must not silently lose that.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, String> {
        let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err("must be sent once".into());
        }
        let text = value
            .to_str()
            .map_err(|_| "must be visible ASCII characters without spaces".to_string())?;
        Self::parse(text).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

/// The four endpoints. Idempotency keys are scoped to one of them (and one user), and
/// logs name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    LiveCreate,
    LiveChat,
    TicketCreate,
    TicketAppend,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::LiveCreate,
        Endpoint::LiveChat,
        Endpoint::TicketCreate,
        Endpoint::TicketAppend,
    ];

    /// The function's name: `live-create`, `live-chat`, `ticket-create`, `ticket-append`.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::LiveCreate => "live-create",
            Endpoint::LiveChat => "live-chat",
            Endpoint::TicketCreate => "ticket-create",
            Endpoint::TicketAppend => "ticket-append",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;
    use serde_json::json;

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
    fn the_header_is_optional_but_must_be_valid_and_single() {
        let mut headers = HeaderMap::new();
        assert_eq!(IdempotencyKey::from_headers(&headers), Ok(None));
        headers.insert("Idempotency-Key", HeaderValue::from_static("abc"));
        assert_eq!(
            IdempotencyKey::from_headers(&headers)
                .unwrap()
                .unwrap()
                .as_str(),
            "abc"
        );
        headers.append("Idempotency-Key", HeaderValue::from_static("def"));
        assert!(IdempotencyKey::from_headers(&headers).is_err());
        headers.insert(
            "Idempotency-Key",
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert!(IdempotencyKey::from_headers(&headers).is_err());
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

    #[test]
    fn endpoint_names_round_trip() {
        for endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::parse(endpoint.as_str()), Some(endpoint));
        }
        assert_eq!(Endpoint::parse("live"), None);
    }
}
