//! What the customer read routes need.

use super::{ActivityCursor, MessageWindow, Page, StoreError, StoredConversation, StoredMessage};
use crate::auth::UserRecord;
use crate::domain::{ConversationId, Kind, UserId};
use std::future::Future;

/// What the customer read routes need: each page is one store query.
pub trait ConversationReader {
    /// The user and the conversation, in one read: the messages route authenticates the
    /// caller and checks that the conversation is theirs before reading a page.
    fn find_user_and_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<(Option<UserRecord>, Option<StoredConversation>), StoreError>> + Send;

    /// Up to `limit` of `owner`'s conversations of `kind`, newest activity first, from
    /// after `from` (from the newest if `None`).
    fn conversation_page(
        &self,
        owner: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredConversation>, StoreError>> + Send;

    /// Up to `limit` messages of `window`, oldest first.
    fn message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredMessage>, StoreError>> + Send;
}
