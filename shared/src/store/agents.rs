//! What the agent routes read and write.

use super::{ActivityCursor, MessageWindow, Page, StoreError, StoredConversation, StoredMessage};
use crate::domain::{AgentId, ConversationId, Email, Kind, NewMessage, Status};
use crate::idempotency::{NewReceipt, Receipt, ReceiptKey};
use std::future::Future;

/// Which conversations an agent's inbox shows, besides their kind and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssigneeFilter {
    Any,
    Unassigned,
    Agent(AgentId),
}

/// One inbox listing: conversations of one kind and status, maybe of one assignee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxFilter {
    pub kind: Kind,
    pub status: Status,
    pub assignee: AssigneeFilter,
}

/// What the agent routes read. No page scans the table: the inbox is an index query per
/// shard ([`merge_pages`]), a conversation's messages and notes one query each.
pub trait AgentReader {
    /// Any customer's conversation, by id.
    fn find_conversation(
        &self,
        id: &ConversationId,
    ) -> impl Future<Output = Result<Option<StoredConversation>, StoreError>> + Send;

    /// Up to `limit` conversations that `filter` selects, newest activity first, from
    /// after `from`.
    fn inbox_page(
        &self,
        filter: &InboxFilter,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredConversation>, StoreError>> + Send;

    /// As [`ConversationReader::message_page`], with the agents' notes among the messages.
    fn agent_message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredMessage>, StoreError>> + Send;
}

/// What the agent routes write. Each write is conditional on the conversation as the
/// agent's flow last read it (`seen`), so a customer message or another agent's change
/// that came in between is never overwritten: the write fails with
/// [`StoreError::Changed`] and the flow reads again.
pub trait AgentWriter {
    /// Adds an agent's reply (the conversation's newest activity, kept in its status) or
    /// note (only the message). [`StoreError::Changed`] if a reply's conversation changed
    /// status; [`StoreError::NotFound`] if it is gone. With `notice_at`, a reply sets in
    /// the same write the conversation's unread-replies notice for that time, unless
    /// one is pending ([`super::Due::UnreadReplies`]: one email per quiet period). With
    /// `receipt` (a reply with an `Idempotency-Key`), the receipt is written in the
    /// same transaction; [`StoreError::ReceiptExists`] if a live one has its key.
    fn add_agent_message(
        &self,
        seen: &StoredConversation,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves `seen` to `status`, with `snoozed_until` (for pending only) or none.
    /// [`StoreError::Changed`] if its status or activity moved since it was read.
    fn set_status(
        &self,
        seen: &StoredConversation,
        status: Status,
        snoozed_until: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Assigns the conversation to `assignee`, or to nobody, and returns it as it is now.
    /// `assignee_email` (the agents' emails' address for it: their token's `email`
    /// claim, known when agents assign themselves) is recorded with it, or the one
    /// recorded before removed. [`StoreError::NotFound`] if there is no such
    /// conversation, [`StoreError::Closed`] if it is closed.
    fn assign(
        &self,
        conversation: &ConversationId,
        assignee: Option<&AgentId>,
        assignee_email: Option<&Email>,
    ) -> impl Future<Output = Result<StoredConversation, StoreError>> + Send;
}

/// The receipt of an agent's earlier request with the same `Idempotency-Key`: what the
/// reply route reads first when it has a key (and only then: one read).
pub trait AgentReceipts {
    fn find_receipt(
        &self,
        key: &ReceiptKey,
    ) -> impl Future<Output = Result<Option<Receipt>, StoreError>> + Send;
}
