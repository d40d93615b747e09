//! Users: looking them up for authentication, and provisioning their secrets.

use super::StoreError;
use crate::auth::{Secret, UserRecord};
use crate::domain::UserId;
use crate::idempotency::{Receipt, ReceiptKey};
use std::future::Future;
use std::time::Duration;

/// Looks users up by normalized email.
pub trait UserReader {
    fn find_user(
        &self,
        id: &UserId,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;

    /// The user and the receipt for `receipt` (expired or not), in one read: a request
    /// with an idempotency key costs no extra round trip.
    fn find_user_and_receipt(
        &self,
        id: &UserId,
        receipt: &ReceiptKey,
    ) -> impl Future<Output = Result<(Option<UserRecord>, Option<Receipt>), StoreError>> + Send;
}

/// Sets a user's provisioned secret (creating the user if needed). This replaces any
/// trust-on-first-use pin: from now on the user's requests must carry the secret's HMAC.
/// Used by `supportzen users put`, never by the client API.
pub trait UserProvisioner {
    /// If the user had a different secret, it stays valid for `grace` more (a zero grace
    /// revokes it at once, as for a leaked secret); putting the current secret again
    /// leaves any rotation under way as it is. Only one previous secret is kept.
    fn put_secret(
        &self,
        user: &UserId,
        secret: &Secret,
        grace: Duration,
    ) -> impl Future<Output = Result<SecretChange, StoreError>> + Send;
}

/// What [`UserProvisioner::put_secret`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretChange {
    /// The user had no secret: they were new, or pinned by trust-on-first-use.
    First,
    /// The user had this very secret; nothing changed.
    Unchanged,
    /// Another secret was replaced; it stays valid for the grace period (none if zero).
    Replaced,
}

/// What a user's profile holds, as the last create request described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProfile {
    pub name: Option<String>,
    pub plan_id: Option<i64>,
    pub account_created_at: Option<i64>,
}
