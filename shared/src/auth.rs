//! Request authentication: `Authorization: Bearer hex(HMAC-SHA256(key = secret, msg = email))`.
//!
//! The email is signed exactly as the client sent it. Users are looked up by their
//! normalized email. A user is in one of two states:
//! - **pinned**: created by trust-on-first-use. We keep only the SHA-256 digest of the
//!   token the first request presented; later requests must present the same token.
//! - **provisioned**: the host product registered the user's secret
//!   (`supportzen users put`), and every request's HMAC is recomputed and checked.
//!
//! Every comparison is constant-time. Tokens and secrets never appear in `Debug` output.

use crate::domain::{Email, UserId};
use crate::error::ApiError;
use crate::store::UserRecord;
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::http::HeaderMap;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Bytes in an HMAC-SHA256 tag (64 hex characters).
const TOKEN_BYTES: usize = 32;
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

/// The 32 bytes of a bearer token, decoded from hex.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken([u8; TOKEN_BYTES]);

impl BearerToken {
    /// Reads `Authorization: Bearer <64 hex digits>` (scheme case-insensitive, hex in either case).
    /// Any other shape is simply "unauthorized": the client learns nothing more.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let value = headers
            .get(lambda_http::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(ApiError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthorized);
        }
        Self::from_hex(token.trim()).ok_or(ApiError::Unauthorized)
    }

    /// Decodes 64 hex digits (either case); `None` for anything else.
    pub fn from_hex(hex_token: &str) -> Option<Self> {
        let mut bytes = [0u8; TOKEN_BYTES];
        hex::decode_to_slice(hex_token, &mut bytes).ok()?;
        Some(BearerToken(bytes))
    }

    /// The SHA-256 digest we store for a pinned (trust-on-first-use) user.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// SHA-256 of a bearer token: what we keep instead of the token itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Rebuilds a digest the store wrote earlier; `None` if it is not 32 bytes.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(TokenDigest)
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(<redacted>)")
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
    fn accepts(&self, email: &Email, token: &BearerToken, now: i64) -> bool {
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

/// Who is calling, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A user the store already knows, whose token checked out.
    Known(UserId),
    /// An unknown user accepted by trust-on-first-use. The request's write must create
    /// the user with this pin, on the condition that nobody created them meanwhile.
    New { user: UserId, pin: TokenDigest },
}

impl Caller {
    pub fn user(&self) -> &UserId {
        match self {
            Caller::Known(user) | Caller::New { user, .. } => user,
        }
    }
}

/// Decides who is calling from what the store holds for this email.
///
/// `trust_first_request` is the `TRUST_FIRST_REQUEST` setting; `now` is milliseconds
/// since the Unix epoch (it ends a previous secret's grace period).
pub fn authenticate(
    stored: Option<&UserRecord>,
    email: &Email,
    token: &BearerToken,
    trust_first_request: bool,
    now: i64,
) -> Result<Caller, ApiError> {
    match stored {
        Some(user) if user.credential.accepts(email, token, now) => {
            Ok(Caller::Known(user.id.clone()))
        }
        Some(_) => Err(ApiError::Unauthorized),
        None if trust_first_request => Ok(Caller::New {
            user: email.user_id().clone(),
            pin: token.digest(),
        }),
        None => Err(ApiError::Unauthorized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn hmac_hex(key: &[u8], data: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    /// RFC 4231 test cases 1-4, 6 and 7 (case 5 is a truncated tag, which we never accept).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, expected) in cases {
            assert_eq!(hmac_hex(&key, &data), expected);
        }
        // `sign` is the same function with a UTF-8 key and message.
        let jefe = Secret::parse("Jefe").unwrap();
        assert_eq!(
            sign(&jefe, "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(value).unwrap());
        headers
    }

    fn provisioned(secret: &str) -> UserRecord {
        UserRecord {
            id: Email::parse("ann@example.com").unwrap().user_id().clone(),
            credential: Credential::secret(Secret::parse(secret).unwrap()),
        }
    }

    fn check(
        stored: Option<&UserRecord>,
        email: &str,
        header: &str,
        tofu: bool,
    ) -> Result<Caller, ApiError> {
        let email = Email::parse(email).unwrap();
        let token = BearerToken::from_headers(&headers(header))?;
        authenticate(stored, &email, &token, tofu, 1_000)
    }

    #[test]
    fn provisioned_user_needs_the_right_hmac_in_either_hex_case() {
        let user = provisioned("s3cret");
        let token = sign(&Secret::parse("s3cret").unwrap(), "ann@example.com");
        for header in [
            format!("Bearer {token}"),
            format!("Bearer {}", token.to_uppercase()),
            format!("bearer {token}"),
        ] {
            assert_eq!(
                check(Some(&user), "ann@example.com", &header, false).unwrap(),
                Caller::Known(user.id.clone())
            );
        }
        // The email is signed exactly as sent: a different spelling is a different message.
        assert!(matches!(
            check(
                Some(&user),
                "Ann@example.com",
                &format!("Bearer {token}"),
                false
            ),
            Err(ApiError::Unauthorized)
        ));
    }

    #[test]
    fn wrong_key_is_rejected() {
        let user = provisioned("s3cret");
        let forged = sign(&Secret::parse("guess").unwrap(), "ann@example.com");
        assert!(matches!(
            check(
                Some(&user),
                "ann@example.com",
                &format!("Bearer {forged}"),
                true
            ),
            Err(ApiError::Unauthorized)
        ));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let token = sign(&Secret::parse("s3cret").unwrap(), "ann@example.com");
        for header in [
            String::new(),
            token.clone(),
            format!("Basic {token}"),
            format!("Bearer {}", &token[..62]),
            format!("Bearer {token}00"),
            format!("Bearer {}zz", &token[..62]),
            "Bearer".to_string(),
        ] {
            assert!(
                BearerToken::from_headers(&headers(&header)).is_err(),
                "{header:?} was accepted"
            );
        }
        assert!(BearerToken::from_headers(&HeaderMap::new()).is_err());
    }

    #[test]
    fn unknown_users_are_trusted_only_when_configured() {
        let token = "ab".repeat(32);
        let header = format!("Bearer {token}");
        match check(None, " Ann@Example.com", &header, true).unwrap() {
            Caller::New { user, pin } => {
                assert_eq!(user.as_str(), "ann@example.com");
                let presented = BearerToken::from_hex(&token).unwrap();
                assert_eq!(pin, presented.digest());
                assert_ne!(
                    pin.as_bytes()[..],
                    presented.0[..],
                    "the token itself is never kept"
                );
            }
            other => panic!("expected a new user, got {other:?}"),
        }
        assert!(matches!(
            check(None, "ann@example.com", &header, false),
            Err(ApiError::Unauthorized)
        ));
    }

    #[test]
    fn pinned_user_must_present_the_same_token() {
        let first = BearerToken::from_hex(&"ab".repeat(32)).unwrap();
        let user = UserRecord {
            id: Email::parse("ann@example.com").unwrap().user_id().clone(),
            credential: Credential::Pinned(first.digest()),
        };
        assert!(
            check(
                Some(&user),
                "ann@example.com",
                &format!("Bearer {}", "AB".repeat(32)),
                true
            )
            .is_ok()
        );
        assert!(matches!(
            check(
                Some(&user),
                "ann@example.com",
                &format!("Bearer {}", "cd".repeat(32)),
                true
            ),
            Err(ApiError::Unauthorized)
        ));
    }

    #[test]
    fn a_rotated_out_secret_works_until_its_grace_period_ends() {
        let rotating = UserRecord {
            id: Email::parse("ann@example.com").unwrap().user_id().clone(),
            credential: Credential::Secret {
                current: Secret::parse("new").unwrap(),
                previous: Some(PreviousSecret {
                    secret: Secret::parse("old").unwrap(),
                    valid_until: 5_000,
                }),
            },
        };
        let email = Email::parse("ann@example.com").unwrap();
        let token = |secret: &str| {
            BearerToken::from_hex(&sign(&Secret::parse(secret).unwrap(), "ann@example.com"))
                .unwrap()
        };
        let at = |secret: &str, now: i64| {
            authenticate(Some(&rotating), &email, &token(secret), false, now)
        };
        assert!(at("new", 4_999).is_ok() && at("new", 9_999).is_ok());
        assert!(at("old", 4_999).is_ok());
        assert!(
            matches!(at("old", 5_000), Err(ApiError::Unauthorized)),
            "the grace period has ended"
        );
        assert!(matches!(at("other", 1), Err(ApiError::Unauthorized)));
    }

    #[test]
    fn debug_output_never_shows_secrets_or_tokens() {
        let secret = Secret::parse("hunter2").unwrap();
        let token = BearerToken::from_hex(&"ab".repeat(32)).unwrap();
        let shown = format!("{secret:?} {token:?} {:?}", token.digest());
        assert!(
            !shown.contains("hunter2") && !shown.contains("abab"),
            "{shown}"
        );
    }
}
