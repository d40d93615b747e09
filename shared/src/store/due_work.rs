//! Work that falls due at a time rather than on a request: snoozed conversations that
//! wake, agents' replies the customer may not have read (an email, unless they read
//! them or opted out), and customers' messages the agents may not have read (an email
//! to the assignee or the team's address, unless an agent read them). Production's `due-work` function (every minute, from an EventBridge schedule)
//! and `supportzen serve`'s timer both run `flows::due::sweep` over this trait, so the
//! decisions are one piece of code on both stores.

use super::{StoreError, StoredConversation};
use crate::domain::{ConversationId, Email, Reader, UserId};
use std::future::Future;

/// One item of due work, as the due-work index (or SQLite's query) found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// A pending conversation whose snooze time has come.
    Wake(Box<StoredConversation>),
    /// The quiet period after an agent's reply is over: the customer gets an email of
    /// the replies they have not read, if any (the notice set by the first reply of the
    /// period, `AgentWriter::add_agent_message`'s `notice_at`).
    UnreadReplies {
        conversation: ConversationId,
        due_at: i64,
    },
    /// The quiet period after a customer's message is over: the assignee (or the team's
    /// address) gets an email of the customer's messages no agent has read, if any (the
    /// notice set by the first customer message of the period, in its own write:
    /// `MessageAppender::append_message`'s and `NewConversation`'s `notice_at`).
    UnreadMessages {
        conversation: ConversationId,
        due_at: i64,
    },
}

impl Due {
    /// When it fell due (milliseconds).
    pub fn due_at(&self) -> i64 {
        match self {
            Due::Wake(conversation) => conversation.snoozed_until.unwrap_or(0),
            Due::UnreadReplies { due_at, .. } | Due::UnreadMessages { due_at, .. } => *due_at,
        }
    }

    /// A notice's reader (whose unread messages it is about), conversation and time.
    pub fn notice(&self) -> Option<(Reader, &ConversationId, i64)> {
        match self {
            Due::Wake(_) => None,
            Due::UnreadReplies {
                conversation,
                due_at,
            } => Some((Reader::Customer, conversation, *due_at)),
            Due::UnreadMessages {
                conversation,
                due_at,
            } => Some((Reader::Agents, conversation, *due_at)),
        }
    }
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

    /// Takes the conversation's notice for `reader` (the customer's: unread replies;
    /// the agents': unread customer messages) if it is still the one due at `due_at`:
    /// `Ok(true)` once, `Ok(false)` to every other taker. Taking it ends the quiet
    /// period: the next message for that reader sets a new notice.
    fn take_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets the conversation's notice for `reader` for `due_at` unless one is pending
    /// (what a message does in its own write; this is for a notice to try again).
    fn schedule_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The address recorded for the conversation's assignee (their token's `email`
    /// claim, when they assigned it to themselves), if any: agent data, for the agents'
    /// emails only.
    fn assignee_email(
        &self,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Option<Email>, StoreError>> + Send;
}

/// Customers who opted out of emails (the one-click `List-Unsubscribe`).
pub trait EmailPreferences {
    /// Records that `user` wants no more emails: `Ok(false)` if there is no such user.
    /// Doing it again changes nothing.
    fn unsubscribe(&self, user: &UserId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether `user` opted out.
    fn unsubscribed(&self, user: &UserId) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
