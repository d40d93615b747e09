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
//!
//! The read routes add [`ConversationReader`]; the agent routes [`AgentReader`] (all
//! of them) and [`AgentWriter`] (the three that write).

use crate::auth::{Caller, Secret, UserRecord};
use crate::domain::{
    Agent, AgentId, Author, ConversationId, Kind, MessageId, NewMessage, Profile, Status, UserId,
};
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
    /// The closed conversation this one follows up; the write checks, in the same
    /// transaction, that it is the owner's ([`StoreError::NotFound`] if not).
    pub follow_up_of: Option<ConversationId>,
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
    /// The conversation changed since the caller read it (a message or status change
    /// came in between); read it again and retry.
    #[error("conversation changed since it was read")]
    Changed,
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
    /// Who wrote it, for an agent's message.
    pub agent: Option<Agent>,
    /// An agents-only note.
    pub internal: bool,
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

/// Merges pages read from several sources of one listing (DynamoDB's inbox shards, or a
/// conversation's messages and its notes) into one page of `limit`. Each source gives
/// its items in listing order, read with a limit of `limit + 1`, and whether more follow
/// them; `order` sorts items in listing order.
///
/// A source that has more beyond its last item may hide items that sort after that
/// item, so nothing past the first such boundary is returned: the next page, which
/// starts after the last item returned, reads them.
pub fn merge_pages<T, K: Ord>(
    sources: Vec<(Vec<T>, bool)>,
    order: impl Fn(&T) -> K,
    limit: usize,
) -> Page<T> {
    let mut boundary: Option<K> = None;
    let mut all = Vec::new();
    let mut blind = false;
    let mut unread = false;
    for (items, more) in sources {
        unread |= more;
        if more {
            match items.last().map(&order) {
                Some(last) if boundary.as_ref().is_none_or(|b| last < *b) => boundary = Some(last),
                Some(_) => {}
                // More follow but none came: nothing can be returned safely.
                None => blind = true,
            }
        }
        all.extend(items);
    }
    all.sort_by_key(|item| order(item));
    let total = all.len();
    if blind {
        all.clear();
    } else if let Some(boundary) = boundary {
        all.retain(|item| order(item) <= boundary);
    }
    // More follow if anything read was held back, or if a source has more it did not
    // read: that is so even when all it read fits in the page.
    let cut = all.len() < total || unread;
    Page::from_one_more(all, limit, cut)
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
    /// status; [`StoreError::NotFound`] if it is gone.
    fn add_agent_message(
        &self,
        seen: &StoredConversation,
        message: &NewMessage,
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
    /// [`StoreError::NotFound`] if there is no such conversation, [`StoreError::Closed`]
    /// if it is closed.
    fn assign(
        &self,
        conversation: &ConversationId,
        assignee: Option<&AgentId>,
    ) -> impl Future<Output = Result<StoredConversation, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every merged page, read with the rule above from sorted sources, continues the
    /// listing exactly: each item once, in order.
    #[test]
    fn merged_pages_list_every_item_once_in_order() {
        let sources: Vec<Vec<u32>> = vec![
            (0..40).filter(|n| n % 3 == 0).collect(),
            (0..40).filter(|n| n % 3 == 1).collect(),
            (0..40).filter(|n| n % 3 == 2 && *n < 20).collect(),
            vec![],
        ];
        for limit in [1, 2, 5, 7, 40, 50] {
            let mut seen = Vec::new();
            let mut from: Option<u32> = None;
            loop {
                let read = sources
                    .iter()
                    .map(|source| {
                        let rest: Vec<u32> = source
                            .iter()
                            .copied()
                            .filter(|n| from.is_none_or(|f| *n > f))
                            .collect();
                        // A source may stop early (DynamoDB's 1 MB), here after 3 items.
                        let take = (limit + 1).min(3);
                        let more = rest.len() > take;
                        (rest.into_iter().take(take).collect::<Vec<_>>(), more)
                    })
                    .collect();
                let page = merge_pages(read, |n| *n, limit);
                assert!(page.items.len() <= limit);
                seen.extend(page.items.iter().copied());
                if !page.has_more {
                    break;
                }
                from = page.items.last().copied().or(from);
            }
            let expected: Vec<u32> = (0..40).filter(|n| n % 3 != 2 || *n < 20).collect();
            assert_eq!(seen, expected, "limit {limit}");
        }
    }

    /// A source that stopped with more to read keeps the listing going, even when all
    /// it read fits in the page and is the page's end (an inbox shard near the end of
    /// the listing: it was found dropping the last conversations).
    #[test]
    fn a_source_with_more_unread_means_more_follow() {
        let page = merge_pages(vec![(vec![1, 2, 3], true), (vec![2], false)], |n| *n, 6);
        assert_eq!(page.items, vec![1, 2, 2, 3]);
        assert!(page.has_more);
        let last = merge_pages(vec![(vec![4], false), (vec![], false)], |n: &u32| *n, 6);
        assert!(!last.has_more);
    }
}
