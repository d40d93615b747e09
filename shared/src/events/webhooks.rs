//! Webhooks as the Standard Webhooks specification (standardwebhooks.com) has them:
//! endpoints with a `whsec_` secret, deliveries signed over `id.timestamp.body`, and a
//! retry schedule. What delivers them is elsewhere: SQS and the `webhook-deliver`
//! function in production, the local server's durable outbox on a laptop.

use super::envelope::EventType;
use crate::domain::check_web_url;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// How long after its first attempt a delivery is retried at most: 24 hours.
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The wait before each retry, in order: a delivery is attempted at once, then after
/// each of these; the eighth and last attempt comes 24 hours after the first. (The
/// specification's own schedule, cut to end at 24 hours.)
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(6 * 3600 + 24 * 60 + 55),
];

/// The wait before the retry that follows failed attempt number `attempt` (1 is the
/// first attempt), or `None` when that was the last one.
pub fn retry_delay(attempt: u32, schedule: &[Duration]) -> Option<Duration> {
    schedule
        .get(usize::try_from(attempt).ok()?.checked_sub(1)?)
        .copied()
}

/// An endpoint's signing secret: `whsec_` and the base64 of 32 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    const PREFIX: &'static str = "whsec_";

    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source works");
        WebhookSecret { key }
    }

    /// A secret as [`WebhookSecret::expose`] wrote it: the prefix, then 24 to 64 bytes
    /// of base64.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let key = raw
            .strip_prefix(Self::PREFIX)
            .and_then(|rest| STANDARD.decode(rest).ok())
            .filter(|key| (24..=64).contains(&key.len()))
            .ok_or("must be whsec_ and the base64 of 24 to 64 bytes")?;
        Ok(WebhookSecret { key })
    }

    /// The secret as operators see it once and stores keep it.
    pub fn expose(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.key))
    }

    /// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
    /// `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Never printed: the secret signs every delivery.
impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// Longest webhook URL, in characters.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;

/// Where a webhook endpoint receives: an absolute `http` or `https` URL, at most
/// [`MAX_WEBHOOK_URL_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        check_web_url(raw, MAX_WEBHOOK_URL_CHARS)?;
        Ok(WebhookUrl(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registered webhook endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// `wh_<uuidv7>`.
    pub id: String,
    pub url: WebhookUrl,
    /// The event types it receives; never empty.
    pub events: Vec<EventType>,
    pub secret: WebhookSecret,
    /// False once the endpoint answered 410 Gone (or an operator disabled it).
    pub enabled: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl WebhookEndpoint {
    /// A new, enabled endpoint with a new id and secret.
    pub fn new(url: WebhookUrl, events: Vec<EventType>) -> Self {
        WebhookEndpoint {
            id: format!("wh_{}", uuid::Uuid::now_v7().simple()),
            url,
            events,
            secret: WebhookSecret::generate(),
            enabled: true,
            created_at: crate::domain::now_millis(),
        }
    }

    /// Whether it should get an event of this type.
    pub fn wants(&self, kind: EventType) -> bool {
        self.subscription().wants(kind)
    }

    /// What deciding whom an event goes to needs of it: no URL, no secret.
    pub fn subscription(&self) -> WebhookSubscription {
        WebhookSubscription {
            id: self.id.clone(),
            events: self.events.clone(),
            enabled: self.enabled,
        }
    }
}

/// An endpoint as far as routing events goes: which types it takes, and whether it is
/// enabled. What queues deliveries reads only this, never a secret
/// ([`super::WebhookRegistry::subscriptions`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSubscription {
    pub id: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
}

impl WebhookSubscription {
    /// Whether the endpoint should get an event of this type.
    pub fn wants(&self, kind: EventType) -> bool {
        self.enabled && self.events.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_specifications_example() {
        // The example in the Standard Webhooks specification, section "Signature scheme".
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_round_trip_and_are_never_printed() {
        let secret = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&secret.expose()), Ok(secret.clone()));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
        for bad in [
            "",
            "whsec_",
            "whsec_!!!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert!(WebhookSecret::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retries_end_twenty_four_hours_after_the_first_attempt() {
        assert_eq!(RETRY_DELAYS.iter().sum::<Duration>(), RETRY_WINDOW);
        assert_eq!(retry_delay(1, &RETRY_DELAYS), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(8, &RETRY_DELAYS), None);
        assert_eq!(retry_delay(0, &RETRY_DELAYS), None);
    }
}
