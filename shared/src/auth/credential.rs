//! What a known user proves their identity with: a provisioned secret (with the one a
//! rotation replaced, for its grace period) or a trust-on-first-use pin.

use super::token::{BearerToken, TokenDigest};
use crate::domain::Email;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

pub(super) type HmacSha256 = Hmac<Sha256>;

/// Longest secret we accept when provisioning a user.
pub const MAX_SECRET_BYTES: usize = 1024;

/// A user's shared secret (`auth_token` in one API document, `uuid` in the other).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.len() > MAX_SECRET_BYTES {
            return Err(format!("must be at most {MAX_SECRET_BYTES} bytes"));
        }
        Ok(Secret(raw.to_string()))
    }

    /// The secret itself, for the store to persist. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn mac(&self, email_as_sent: &str) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(self.0.as_bytes()).expect("HMAC takes keys of any length");
        mac.update(email_as_sent.as_bytes());
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How a known user proves who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Trust-on-first-use: the digest of the token the first request presented.
    Pinned(TokenDigest),
    /// A provisioned secret; requests carry HMAC-SHA256(secret, email). During a rotation's
    /// grace period the secret it replaced is accepted too, so the host product can roll
    /// the new one out to its clients without locking anyone out.
    Secret {
        current: Secret,
        previous: Option<PreviousSecret>,
    },
}

/// A replaced secret and when it stops being accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousSecret {
    pub secret: Secret,
    /// Milliseconds since the Unix epoch.
    pub valid_until: i64,
}

impl Credential {
    /// A provisioned secret with no rotation under way.
    pub fn secret(current: Secret) -> Self {
        Credential::Secret {
            current,
            previous: None,
        }
    }

    /// Rebuilds what a store wrote: a provisioned secret (with the one it replaced, if
    /// a rotation is under way) wins over a trust-on-first-use pin.
    pub fn from_stored(
        secret: Option<String>,
        previous: Option<(String, i64)>,
        pin: Option<TokenDigest>,
    ) -> Result<Self, String> {
        match (secret, pin) {
            (Some(current), _) => Ok(Credential::Secret {
                current: Secret::parse(&current).map_err(|e| format!("stored secret {e}"))?,
                previous: previous
                    .map(|(old, valid_until)| {
                        Secret::parse(&old)
                            .map(|secret| PreviousSecret {
                                secret,
                                valid_until,
                            })
                            .map_err(|e| format!("stored previous secret {e}"))
                    })
                    .transpose()?,
            }),
            (None, Some(pin)) => Ok(Credential::Pinned(pin)),
            (None, None) => Err("user has neither a secret nor a pin".into()),
        }
    }

    /// `now` is milliseconds since the Unix epoch.
    pub(super) fn accepts(&self, email: &Email, token: &BearerToken, now: i64) -> bool {
        let signed_with =
            |secret: &Secret| secret.mac(email.as_sent()).verify_slice(&token.0).is_ok();
        match self {
            Credential::Pinned(digest) => bool::from(digest.0.ct_eq(&token.digest().0)),
            Credential::Secret { current, previous } => {
                signed_with(current)
                    || previous
                        .as_ref()
                        .is_some_and(|old| now < old.valid_until && signed_with(&old.secret))
            }
        }
    }
}

/// The hex bearer token a client sends: `hex(HMAC-SHA256(secret, email))`, lower-case.
pub fn sign(secret: &Secret, email_as_sent: &str) -> String {
    hex::encode(secret.mac(email_as_sent).finalize().into_bytes())
}
