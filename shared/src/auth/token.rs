//! Bearer tokens as clients send them, and the digest kept of a pinned one.

use super::AuthError;
use sha2::{Digest, Sha256};
use std::fmt;

/// Bytes in an HMAC-SHA256 tag (64 hex characters).
pub(super) const TOKEN_BYTES: usize = 32;

/// The 32 bytes of a bearer token, decoded from hex.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(pub(super) [u8; TOKEN_BYTES]);

impl BearerToken {
    /// Reads an `Authorization` header's value, `Bearer <64 hex digits>` (scheme
    /// case-insensitive, hex in either case). The shape is safe to name to the client (no
    /// header, another scheme, not 64 hex digits); whether a well-formed token is right
    /// is not.
    pub fn from_authorization(value: Option<&str>) -> Result<Self, AuthError> {
        let value = value.ok_or(AuthError::MissingHeader)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::NotBearer);
        }
        Self::from_hex(token.trim()).ok_or(AuthError::Malformed)
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
pub struct TokenDigest(pub(super) [u8; 32]);

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
