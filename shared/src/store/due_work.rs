//! Work that falls due at a time rather than on a request: snoozed conversations that
//! wake. Production's `due-work` function (every minute, from an EventBridge schedule)
//! and `supportzen serve`'s timer both run `flows::due::sweep` over this trait, so the
//! decisions are one piece of code on both stores.

use super::{StoreError, StoredConversation};
use std::future::Future;

/// One item of due work, as the due-work index (or SQLite's query) found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// A pending conversation whose snooze time has come.
    Wake(StoredConversation),
}

/// Finding and doing due work. Each action is conditional on the exact state the sweep
/// read (the snooze time it found), so a second sweep that read the same item (an
/// at-least-once invocation repeated, or two sweeps overlapping) does nothing.
pub trait DueWork {
    /// Up to `limit` items due at or before `now` (milliseconds), earliest first.
    fn due(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Due>, StoreError>> + Send;

    /// Reopens `snoozed` (status `open`, no snooze) if it is still pending with the
    /// snooze time it was read with: `Ok(true)`. `Ok(false)` if not: woken already, or
    /// changed by an agent or a customer's message since it was read.
    fn wake(
        &self,
        snoozed: &StoredConversation,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
