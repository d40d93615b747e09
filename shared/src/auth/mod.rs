//! Customer authentication: `Authorization: Bearer hex(HMAC-SHA256(key = secret, msg = email))`.
//!
//! The email is signed exactly as the client sent it. Users are looked up by their
//! normalized email. A user is in one of two states:
//! - **pinned**: created by trust-on-first-use. We keep only the SHA-256 digest of the
//!   token the first request presented; later requests must present the same token.
//! - **provisioned**: the host product registered the user's secret
//!   (`supportzen users put`), and every request's HMAC is recomputed and checked; during
//!   a rotation the replaced secret is accepted until its grace period ends.
//!
//! Every comparison is constant-time. Tokens and secrets never appear in `Debug` output.
//! This module knows nothing of HTTP or of stores: the HTTP layer hands it the header's
//! value, the flows hand it what the store holds for the email.

mod credential;
mod token;

pub use credential::{Credential, MAX_SECRET_BYTES, PreviousSecret, Secret, sign};
pub use token::{BearerToken, TokenDigest};

use crate::domain::{Email, UserId};

/// A customer as a request presents them: the email they signed and their token.
/// [`authenticate`] decides whether to believe it.
#[derive(Clone, Debug)]
pub struct Customer {
    pub email: Email,
    pub token: BearerToken,
}

/// A user as authentication needs it, as a store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub credential: Credential,
}

/// Why a customer was not believed. The client only ever learns "unauthorized"; the
/// variant is for the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header at all.
    #[error("no Authorization header")]
    MissingHeader,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("Authorization header is not Bearer <token>")]
    NotBearer,
    /// A bearer token that is not 64 hex digits, so cannot be an HMAC-SHA256 tag.
    #[error("bearer token is not 64 hex digits")]
    Malformed,
    /// No such user, and trust-on-first-use is off.
    #[error("unknown user")]
    UnknownUser,
    /// The token matches neither the user's secret nor their pin.
    #[error("wrong token")]
    WrongToken,
    /// An agent route without verified agent claims (no valid JWT, or no `sub`).
    #[error("no verified agent token")]
    NoAgentClaims,
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
) -> Result<Caller, AuthError> {
    match stored {
        Some(user) if user.credential.accepts(email, token, now) => {
            Ok(Caller::Known(user.id.clone()))
        }
        Some(_) => Err(AuthError::WrongToken),
        None if trust_first_request => Ok(Caller::New {
            user: email.user_id().clone(),
            pin: token.digest(),
        }),
        None => Err(AuthError::UnknownUser),
    }
}

#[cfg(test)]
mod tests {
    use super::credential::HmacSha256;
    use super::*;
    use hmac::{KeyInit, Mac};

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
    ) -> Result<Caller, AuthError> {
        let email = Email::parse(email).unwrap();
        let token = BearerToken::from_authorization(Some(header))?;
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
            Err(AuthError::WrongToken)
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
            Err(AuthError::WrongToken)
        ));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let token = sign(&Secret::parse("s3cret").unwrap(), "ann@example.com");
        for header in [
            String::new(),
            token.clone(),
            format!("Basic {token}"),
            "Bearer".to_string(),
        ] {
            assert_eq!(
                BearerToken::from_authorization(Some(&header)).unwrap_err(),
                AuthError::NotBearer,
                "{header:?} was accepted"
            );
        }
        for header in [
            format!("Bearer {}", &token[..62]),
            format!("Bearer {token}00"),
            format!("Bearer {}zz", &token[..62]),
        ] {
            assert_eq!(
                BearerToken::from_authorization(Some(&header)).unwrap_err(),
                AuthError::Malformed,
                "{header:?} was accepted"
            );
        }
        assert_eq!(
            BearerToken::from_authorization(None).unwrap_err(),
            AuthError::MissingHeader
        );
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
            Err(AuthError::UnknownUser)
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
            Err(AuthError::WrongToken)
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
            matches!(at("old", 5_000), Err(AuthError::WrongToken)),
            "the grace period has ended"
        );
        assert!(matches!(at("other", 1), Err(AuthError::WrongToken)));
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
