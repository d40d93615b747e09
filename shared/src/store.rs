//! What the handlers need from storage, as narrow traits: each Lambda depends only on
//! the operations it performs, which is also what its IAM policy allows.
//!
//! Every write that depends on existing state is a single conditional write, so the
//! traits map one-to-one onto DynamoDB (`TransactWriteItems` with conditions, an
//! `UpdateItem ADD` counter) as well as onto SQLite transactions:
//!
//! | trait | live-create | live-chat | ticket-create | ticket-append |
//! |---|---|---|---|---|
//! | [`UserReader`] | yes | yes | yes | yes |
//! | [`ConversationCreator`] | yes | | yes | |
//! | [`MessageAppender`] | | yes | | yes |
//! | [`TicketNumbers`] | | | yes | |

use crate::auth::{Caller, Secret, UserRecord};
use crate::domain::{Author, ConversationId, Kind, MessageId, NewMessage, Profile, UserId};
use crate::idempotency::{NewReceipt, Receipt, ReceiptKey};
use std::future::Future;
use std::time::Duration;

/// A chat or ticket to create together with its first message, in one atomic write.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub id: ConversationId,
    /// For [`Caller::New`] the write also creates the user, only if nobody else has.
    pub owner: Caller,
    /// Stored on the owner's profile.
    pub profile: Profile,
    pub first_message: NewMessage,
    /// Written in the same transaction when the request carries an idempotency key.
    pub receipt: Option<NewReceipt>,
}

/// Why a store operation did not happen. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conversation does not exist or belongs to someone else.
    #[error("conversation not found")]
    NotFound,
    /// The conversation is closed to new messages.
    #[error("conversation is closed")]
    Closed,
    /// A first-use write lost the race: the user was created meanwhile.
    #[error("user already exists")]
    UserExists,
    /// An idempotent write lost the race: another request with the same key was
    /// answered meanwhile.
    #[error("idempotency key already used")]
    ReceiptExists,
    /// Throttled or briefly unavailable; safe to retry after the given time.
    #[error("store unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
    /// Anything else. The text goes to the logs, never to the client.
    #[error("store failure: {0}")]
    Internal(String),
}

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
    fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        receipt: Option<&NewReceipt>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Hands out ticket numbers 1, 2, 3, … atomically; a number is never handed out twice.
pub trait TicketNumbers {
    fn next_ticket_number(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
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

/// A conversation as stored, for operators and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredConversation {
    pub id: ConversationId,
    pub owner: UserId,
    pub open: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub last_activity_at: i64,
    /// The newest message, for lists; `None` for conversations stored before previews.
    pub last_message: Option<MessagePreview>,
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
}

/// Where a page of conversations starts: after the one with this activity time and id,
/// in the order newest activity first (ties broken by id, descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityCursor {
    /// Milliseconds since the Unix epoch.
    pub last_activity_at: i64,
    pub conversation: ConversationId,
}

impl ActivityCursor {
    /// The position just past `conversation` in a list.
    pub fn after(conversation: &StoredConversation) -> Self {
        ActivityCursor {
            last_activity_at: conversation.last_activity_at,
            conversation: conversation.id.clone(),
        }
    }
}

/// Which page of a conversation's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageWindow {
    /// The newest messages.
    Latest,
    /// The messages right after this one.
    After(MessageId),
    /// The messages right before this one.
    Before(MessageId),
}

/// One page of a listing, in the listing's order, and whether more follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Cuts what a store read with a limit of `limit + 1` down to `limit`: the extra item,
    /// if it came, says that more follow. So does `cut_short`, when the store stopped
    /// before the limit with more to read (DynamoDB stops a query at 1 MB: 50 messages
    /// of 10,000 two-byte characters are more).
    pub fn from_one_more(mut items: Vec<T>, limit: usize, cut_short: bool) -> Self {
        let has_more = items.len() > limit || cut_short;
        items.truncate(limit);
        Page { items, has_more }
    }
}

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

/// What a user's profile holds, as the last create request described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProfile {
    pub name: Option<String>,
    pub plan_id: Option<i64>,
    pub account_created_at: Option<i64>,
}

/// Reading and closing conversations: what support agents' tools will need, and what
/// tests use to check exactly what was (and was not) written.
pub trait ConversationAdmin {
    fn conversation(
        &self,
        id: &ConversationId,
    ) -> impl Future<Output = Result<Option<StoredConversation>, StoreError>> + Send;

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

    /// Closes a conversation to new messages; `false` if there is no such conversation.
    fn close(&self, id: &ConversationId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn profile(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<StoredProfile>, StoreError>> + Send;
}
