//! Erasing a customer (GDPR Article 17): `supportzen users erase`. Everything the store
//! holds that names them goes: their conversations with every message and note, their
//! profile and secret, their idempotency receipts, their uploads' records (attached or
//! not) and their connect tickets. The files those uploads stored are the caller's to delete
//! ([`Erased::files`]), through its [`super::FileStorage`].

use super::StoreError;
use crate::domain::UserId;
use std::future::Future;

/// What an erasure removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Erased {
    /// Whether there was a user record.
    pub user: bool,
    pub conversations: u64,
    /// Messages and agents' notes.
    pub messages: u64,
    pub receipts: u64,
    /// Upload records: those their messages carried and those they declared.
    pub uploads: u64,
    /// Every other item (connections, connect tickets, due notices).
    pub other: u64,
    /// The stored files the erased messages carried and the customer's own uploads
    /// (their keys, under [`crate::domain::Uploader`]'s folder), for the caller to delete.
    pub files: Vec<String>,
}

impl Erased {
    /// Whether it removed nothing at all: the customer was unknown, or erased already.
    pub fn is_empty(&self) -> bool {
        *self == Erased::default()
    }
}

/// Deletes everything stored about one customer.
pub trait CustomerEraser {
    /// Idempotent: erasing an erased (or unknown) customer removes nothing and succeeds.
    /// On SQLite one transaction; on DynamoDB one conversation at a time, the user item
    /// last, so that an erasure that stops half way is finished by running it again.
    fn erase_customer(
        &self,
        customer: &UserId,
    ) -> impl Future<Output = Result<Erased, StoreError>> + Send;
}
