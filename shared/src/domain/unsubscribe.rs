//! The unsubscribe links' key: signs and checks tokens that name one user, so the
//! one-click unsubscribe of an email works without a sign-in.

use super::UserId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Signs and checks unsubscribe tokens: `<user id, base64url>.<HMAC-SHA256 of it,
/// base64url>`, so the link works without a sign-in and names only its own user.
#[derive(Clone, PartialEq, Eq)]
pub struct UnsubscribeKey(Vec<u8>);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(..)")
    }
}

/// The shortest secret accepted: 32 characters.
pub const UNSUBSCRIBE_SECRET_MIN: usize = 32;

impl UnsubscribeKey {
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.len() < UNSUBSCRIBE_SECRET_MIN {
            return Err(format!(
                "the unsubscribe secret must have at least {UNSUBSCRIBE_SECRET_MIN} characters"
            ));
        }
        Ok(UnsubscribeKey(secret.as_bytes().to_vec()))
    }

    fn mac(&self, user: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(b"supportzen-unsubscribe\0");
        mac.update(user.as_bytes());
        mac
    }

    pub fn token(&self, user: &UserId) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let tag = self.mac(user.as_str()).finalize().into_bytes();
        format!("{}.{}", b64.encode(user.as_str()), b64.encode(tag))
    }

    /// The user a token was made for, if this key made it.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (user, tag) = token.split_once('.')?;
        let user = String::from_utf8(b64.decode(user).ok()?).ok()?;
        let tag = b64.decode(tag).ok()?;
        self.mac(&user).verify_slice(&tag).ok()?;
        Some(UserId::from_stored(user))
    }
}
