//! Conversations and their messages: creating one, adding customers' messages, and what
//! operators and tests read back.

use super::{StoreError, StoredProfile};
use crate::auth::Caller;
use crate::domain::{
    Agent, AgentId, Attachment, Author, ConversationId, MessageId, NewMessage, Profile, Rating,
    Status, UserId,
};
use crate::events::ConversationState;
use crate::idempotency::NewReceipt;
use std::future::Future;

/// A chat or ticket to create together with its first message, in one atomic write.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub id: ConversationId,
    /// For [`Caller::New`] the write also creates the user, only if nobody else has.
    pub owner: Caller,
    /// Stored on the owner's profile.
    pub profile: Profile,
    pub first_message: NewMessage,
    /// The closed conversation this one follows up; the write checks, in the same
    /// transaction, that it is the owner's ([`StoreError::NotFound`] if not).
    pub follow_up_of: Option<ConversationId>,
    /// Written in the same transaction when the request carries an idempotency key.
    pub receipt: Option<NewReceipt>,
    /// Where the request came from: a [`Caller::New`] is counted against its address's
    /// [`AccountLimit`](super::AccountLimit) in the same transaction.
    pub source: Option<super::SourceAddress>,
    /// With it, the write also sets the conversation's agents' notice for that time
    /// (`Due::UnreadMessages`: an email to the assignee or the team unless an agent
    /// reads the message first).
    pub notice_at: Option<i64>,
}

/// Creates a chat or ticket, its first message and (for a new user) the user, atomically.
pub trait ConversationCreator {
    /// Fails with [`StoreError::UserExists`] when `owner` is [`Caller::New`] and the user
    /// appeared since it was looked up, and with [`StoreError::ReceiptExists`] when the
    /// receipt's key has a live receipt; nothing is written then.
    fn create_conversation(
        &self,
        new: &NewConversation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Adds a message to an existing, open conversation owned by `owner`, atomically.
pub trait MessageAppender {
    /// [`StoreError::NotFound`] if the conversation is missing or someone else's,
    /// [`StoreError::Closed`] if it is closed, [`StoreError::ReceiptExists`] if the
    /// receipt's key has a live receipt. `receipt` is written in the same transaction.
    /// With `notice_at`, the same write sets the conversation's agents' notice for that
    /// time unless one is pending (`Due::UnreadMessages`: one email per quiet period).
    fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A conversation as stored, for operators and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredConversation {
    pub id: ConversationId,
    pub owner: UserId,
    pub status: Status,
    /// The agent it is assigned to, if any.
    pub assignee: Option<AgentId>,
    /// For a pending conversation, when the agent means to look again (milliseconds).
    pub snoozed_until: Option<i64>,
    /// The closed conversation this one follows up.
    pub follow_up_of: Option<ConversationId>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub last_activity_at: i64,
    /// The newest public message, for lists; `None` for conversations stored before
    /// previews.
    pub last_message: Option<MessagePreview>,
    /// Each side's read mark and the counts its unread is computed from.
    pub reads: super::ReadState,
    /// The customer's satisfaction rating, once they gave one.
    pub rating: Option<Rating>,
}

impl From<&StoredConversation> for ConversationState {
    fn from(stored: &StoredConversation) -> Self {
        ConversationState {
            id: stored.id.clone(),
            owner: stored.owner.clone(),
            status: stored.status,
            snoozed_until: stored.snoozed_until,
            assignee: stored.assignee.clone(),
            newest: stored.last_message.as_ref().map(|m| m.id.clone()),
            customer_messages: stored.reads.customer_messages,
            customer_read: stored.reads.customer.as_ref().map(|m| m.up_to.clone()),
            agents_read: stored.reads.agents.as_ref().map(|m| m.up_to.clone()),
            agents_read_by: stored.reads.agents.as_ref().and_then(|m| m.by.clone()),
            rating: stored.rating.clone(),
        }
    }
}

/// Enough of a conversation's newest message to show in a list of conversations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessagePreview {
    pub id: MessageId,
    pub author: Author,
    /// The message's first [`PREVIEW_CHARS`] characters.
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
}

/// How much of a message a [`MessagePreview`] keeps.
pub const PREVIEW_CHARS: usize = 200;

impl MessagePreview {
    pub fn of(message: &NewMessage) -> Self {
        MessagePreview {
            id: message.id.clone(),
            author: message.author,
            text: message.text.as_str().chars().take(PREVIEW_CHARS).collect(),
            sent_at: message.sent_at,
        }
    }

    /// The same, of a message read back (for conversations stored before previews).
    pub fn of_stored(message: &StoredMessage) -> Self {
        MessagePreview {
            id: message.id.clone(),
            author: message.author,
            text: message.text.chars().take(PREVIEW_CHARS).collect(),
            sent_at: message.sent_at,
        }
    }
}

/// A stored message, for operators and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: MessageId,
    pub author: Author,
    pub text: String,
    pub image_url: Option<String>,
    pub client_message_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
    /// Who wrote it, for an agent's message.
    pub agent: Option<Agent>,
    /// An agents-only note.
    pub internal: bool,
    /// The files it carries.
    pub attachments: Vec<Attachment>,
}

/// Reading and closing conversations: what support agents' tools will need, and what
/// tests use to check exactly what was (and was not) written.
/// (One conversation is [`AgentReader::find_conversation`].)
pub trait ConversationAdmin {
    /// The conversation's messages, oldest first.
    fn messages(
        &self,
        id: &ConversationId,
    ) -> impl Future<Output = Result<Vec<StoredMessage>, StoreError>> + Send;

    /// The user's conversations, newest first.
    fn conversations_of(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<StoredConversation>, StoreError>> + Send;

    fn profile(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<StoredProfile>, StoreError>> + Send;
}
