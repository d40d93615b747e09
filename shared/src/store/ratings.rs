//! The customer's satisfaction rating of a solved conversation.

use super::{StoreError, StoredConversation};
use crate::domain::Rating;
use std::future::Future;

/// What the rating route writes, after reading the conversation with
/// [`super::ConversationReader::find_user_and_conversation`].
pub trait ConversationRater {
    /// Stores `rating` on `seen`, on condition that it is still solved and its rating is
    /// still the one read (none, or one first given at the same time):
    /// [`StoreError::Changed`] if not, [`StoreError::NotFound`] if it is gone. Nothing
    /// else of the conversation changes (not its activity, status or inbox position).
    fn rate(
        &self,
        seen: &StoredConversation,
        rating: &Rating,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
