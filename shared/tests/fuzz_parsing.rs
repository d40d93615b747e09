//! Property-based fuzzing of everything that reads untrusted input: request bodies (as
//! raw bytes and as JSON objects with fields of every type), `Authorization` headers and
//! `Idempotency-Key` headers.
//! Beyond "never panics", each property checks what a successful parse promises.
//!
//! `cargo test` runs 256 cases per property; `scripts/fuzz` runs many more.

use lambda_http::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use supportzen_shared::ApiError;
use supportzen_shared::auth::{Credential, Secret, UserRecord, authenticate, sign};
use supportzen_shared::domain::{ChatId, Email, TicketId};
use supportzen_shared::http::request::{
    CreateConversation, CustomerBody, MAX_BODY_BYTES, SendMessage, bearer_token, idempotency_key,
};
use supportzen_shared::http::response::status;
use supportzen_shared::idempotency::MAX_IDEMPOTENCY_KEY_CHARS;

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[a-z]{1,10}@[a-z]{1,10}\\.[a-z]{2,4}".prop_map(Value::from),
        "https?://[a-z]{1,12}\\.com/[a-z]{0,10}".prop_map(Value::from),
        "TKT-[0-9]{1,5}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly a plausible value for the field, sometimes any JSON at all.
fn field(plausible: BoxedStrategy<Value>) -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(0.9, prop_oneof![4 => plausible, 1 => json_value()])
}

/// A request body: the documented fields (and a stranger), each mostly plausible, each
/// present or not; sometimes wrapped in `{"data": …}`. Plausible enough that many parse.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let text = |pattern: &'static str| pattern.prop_map(Value::from).boxed();
    let fields = [
        (
            "email",
            text(" ?[A-Za-z0-9._%+-]{1,12}@[a-z]{1,10}\\.[a-z]{2,4} ?"),
        ),
        ("name", text(".{0,210}")),
        ("plan_id", any::<i64>().prop_map(Value::from).boxed()),
        (
            "created_at",
            (-10i64..300_000_000_000).prop_map(Value::from).boxed(),
        ),
        ("message", text(".{0,60}")),
        (
            "image_url",
            text("(https?|ftp|javascript)://[a-z]{0,12}(\\.com)?/[a-z%]{0,10}"),
        ),
        (
            "chat_id",
            Just(())
                .prop_map(|()| Value::from(ChatId::generate().as_str()))
                .boxed(),
        ),
        ("ticket_id", text("TKT-[0-9]{1,5}")),
        ("other", json_value().boxed()),
    ];
    let (names, strategies): (Vec<_>, Vec<_>) =
        fields.into_iter().map(|(n, s)| (n, field(s))).unzip();
    (strategies, any::<bool>()).prop_map(move |(values, wrapped)| {
        let object: Map<String, Value> = names
            .iter()
            .zip(values)
            .filter_map(|(name, value)| value.map(|v| (name.to_string(), v)))
            .collect();
        let body = if wrapped {
            json!({ "data": object })
        } else {
            Value::Object(object)
        };
        body.to_string().into_bytes()
    })
}

/// What every successful parse guarantees about the email and message.
fn check_common(email: &Email, message: &str) -> Result<(), TestCaseError> {
    let id = email.user_id().as_str();
    prop_assert_eq!(id, email.as_sent().trim().to_lowercase());
    prop_assert!(!id.is_empty() && id.chars().count() <= 254);
    prop_assert!(!message.trim().is_empty() && message.chars().count() <= 10_000);
    Ok(())
}

proptest! {
    #[test]
    fn raw_bytes_never_panic_and_only_fail_with_client_errors(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for result in [
            CreateConversation::parse(&bytes).map(|_| ()),
            SendMessage::<ChatId>::parse(&bytes).map(|_| ()),
            SendMessage::<TicketId>::parse(&bytes).map(|_| ()),
        ] {
            if let Err(err) = result {
                prop_assert_eq!(status(&err).as_u16(), 400, "{:?}", err);
            }
        }
    }

    #[test]
    fn json_bodies_parse_into_values_that_keep_the_rules(bytes in body()) {
        match CreateConversation::parse(&bytes) {
            Ok(parsed) => {
                check_common(&parsed.email, parsed.message.as_str())?;
                let created = parsed.profile.account_created_at.get();
                prop_assert!((0..=253_402_300_799).contains(&created));
                if let Some(name) = &parsed.profile.name {
                    prop_assert!(name.as_str().chars().count() <= 200);
                }
                if let Some(url) = &parsed.image_url {
                    prop_assert!(url.as_str().starts_with("http://") || url.as_str().starts_with("https://"));
                }
            }
            Err(err) => prop_assert!(matches!(err, ApiError::InvalidField { .. } | ApiError::InvalidJson(_)), "{:?}", err),
        }
        // Conversation ids are opaque: any 1-128 characters without control characters.
        let id_is_opaque = |id: &str| {
            (1..=128).contains(&id.chars().count()) && !id.chars().any(char::is_control)
        };
        if let Ok(parsed) = SendMessage::<ChatId>::parse(&bytes) {
            check_common(&parsed.email, parsed.message.as_str())?;
            prop_assert!(id_is_opaque(parsed.conversation.as_str()));
        }
        if let Ok(parsed) = SendMessage::<TicketId>::parse(&bytes) {
            check_common(&parsed.email, parsed.message.as_str())?;
            prop_assert!(id_is_opaque(parsed.conversation.as_str()));
        }
    }

    #[test]
    fn oversized_bodies_are_always_413(extra in 1usize..4096) {
        let body = vec![b' '; MAX_BODY_BYTES + extra];
        let too_large = matches!(CreateConversation::parse(&body), Err(ApiError::PayloadTooLarge { .. }));
        prop_assert!(too_large);
    }

    #[test]
    fn authorization_headers_never_panic_and_forgeries_never_pass(
        header in prop_oneof![
            ".{0,100}",
            "(Bearer|bearer|BEARER|Basic) [0-9a-fA-F]{0,70}",
            "Bearer [0-9a-f]{64}",
        ],
        secret in "[ -~]{1,40}",
    ) {
        let Ok(value) = HeaderValue::from_str(&header) else { return Ok(()) };
        let mut headers = HeaderMap::new();
        headers.insert("authorization", value);
        let Ok(token) = bearer_token(&headers) else { return Ok(()) };
        let email = Email::parse("ann@example.com").unwrap();
        let secret = Secret::parse(&secret).unwrap();
        let user = UserRecord { id: email.user_id().clone(), credential: Credential::secret(secret.clone()) };
        let accepted = authenticate(Some(&user), &email, &token, false, 0).is_ok();
        // Only the token the secret signs is accepted, in either case of hex.
        let genuine = header.len() > 7 && header[7..].eq_ignore_ascii_case(&sign(&secret, "ann@example.com"));
        prop_assert_eq!(accepted, genuine);
    }

    #[test]
    fn idempotency_keys_are_taken_exactly_when_visible_ascii_of_bounded_length(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            "[!-~]{1,300}".prop_map(String::into_bytes),
        ],
    ) {
        let Ok(value) = HeaderValue::from_bytes(&bytes) else { return Ok(()) };
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", value);
        let expected = !bytes.is_empty()
            && bytes.len() <= MAX_IDEMPOTENCY_KEY_CHARS
            && bytes.iter().all(|b| (b'!'..=b'~').contains(b));
        match idempotency_key(&headers) {
            Ok(Some(key)) => {
                prop_assert!(expected);
                prop_assert_eq!(key.as_str().as_bytes(), &bytes[..]);
            }
            Ok(None) => prop_assert!(false, "a header that is present is never ignored"),
            Err(_) => prop_assert!(!expected),
        }
    }
}
