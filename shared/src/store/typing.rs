//! Production's typing throttle: Lambda keeps no state between invocations, so "at most
//! one typing signal per sender and conversation per 2 s" is a conditional write.

use super::StoreError;
use crate::domain::ConversationId;
use crate::events::Subscriber;
use std::future::Future;

/// Claims the right to signal typing.
pub trait TypingGate {
    /// `true` if `from` may signal typing in `conversation` at `now` (ms): nobody has
    /// claimed it within [`crate::events::TYPING_INTERVAL_MS`] before. The claim is
    /// one conditional write: of claims racing at one moment, one wins.
    fn claim_typing(
        &self,
        from: &Subscriber,
        conversation: &ConversationId,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
