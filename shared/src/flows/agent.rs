//! Support agents answer: the inbox, a conversation and its messages (with the agents'
//! notes), replies and notes, status changes and assignment. The agent is who their
//! verified token says (the HTTP layer reads it); these flows trust it.
//!
//! Every write is conditional on the conversation as this flow just read it. When a
//! customer message or another agent's change lands in between, the store refuses
//! ([`StoreError::Changed`]) and the flow reads again, up to [`ATTEMPTS`] times.

use super::Answer;
use super::attachments::{attach, settle};
use super::read::{
    ConversationList, LastMessage, MessageList, MessageView, ReadMessages, message_list,
};
use crate::config::Config;
use crate::domain::{
    Agent, AgentId, AttachmentId, ClientMessageId, ConversationId, ConversationKey, Email,
    ImageUrl, Kind, MessageText, NewMessage, Reader, Status, Uploader, now_millis,
};
use crate::error::ApiError;
use crate::idempotency::Retry;
use crate::store::{
    ActivityCursor, AgentReader, AgentReceipts, AgentWriter, CustomerProfile, CustomerReader,
    FileStorage, InboxFilter, StoreError, StoredConversation, UploadRegistry,
};
use serde::Serialize;
use std::time::Duration;

/// Reads and conditional writes of one agent request before the client is asked to retry.
pub const ATTEMPTS: usize = 3;

/// What the inbox route asks for.
#[derive(Clone, Debug)]
pub struct ListInbox {
    pub filter: InboxFilter,
    pub limit: usize,
    pub from: Option<ActivityCursor>,
}

/// What the customer route asks for.
#[derive(Clone, Debug)]
pub struct FindCustomer {
    /// Looked up by its normalized form, as every user is stored.
    pub email: Email,
    pub kind: Kind,
    pub limit: usize,
    pub from: Option<ActivityCursor>,
}

/// What the reply route asks for.
#[derive(Clone, Debug)]
pub struct AgentMessage {
    pub conversation: ConversationKey,
    pub message: MessageText,
    pub image_url: Option<ImageUrl>,
    /// A note for agents only, never shown to the customer.
    pub internal: bool,
    pub client_message_id: Option<ClientMessageId>,
    /// Uploads of the agent's that the message carries.
    pub attachments: Vec<AttachmentId>,
}

/// What the status route asks for.
#[derive(Clone, Debug)]
pub struct ChangeStatus {
    pub conversation: ConversationKey,
    pub status: Status,
    /// Milliseconds; only with [`Status::Pending`] (the request parser checks).
    pub snooze_until: Option<i64>,
}

/// What the assign route asks for.
#[derive(Clone, Debug)]
pub struct Assign {
    pub conversation: ConversationKey,
    pub assignee: Option<AgentId>,
}

/// A conversation as agents see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentConversation {
    pub conversation_id: String,
    pub kind: &'static str,
    pub status: &'static str,
    /// The customer's (normalized) email.
    pub customer: String,
    pub assignee: Option<String>,
    pub snoozed_until: Option<i64>,
    pub follow_up_of: Option<String>,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub last_message: Option<LastMessage>,
    /// The customer's messages after the agents' read mark.
    pub unread: i64,
    /// The customer's read mark (the "Seen" under a reply), `null` until they mark.
    pub customer_read_up_to: Option<String>,
    /// The customer's satisfaction rating, once given.
    pub rating: Option<super::rating::RatingView>,
}

impl From<StoredConversation> for AgentConversation {
    fn from(conversation: StoredConversation) -> Self {
        AgentConversation {
            unread: conversation.reads.unread(Reader::Agents),
            customer_read_up_to: conversation
                .reads
                .customer
                .as_ref()
                .map(|mark| mark.up_to.as_str().to_string()),
            conversation_id: conversation.id.key(),
            kind: conversation.id.kind(),
            status: conversation.status.as_str(),
            customer: conversation.owner.as_str().to_string(),
            assignee: conversation.assignee.map(|a| a.as_str().to_string()),
            snoozed_until: conversation.snoozed_until,
            follow_up_of: conversation.follow_up_of.map(|c| c.key()),
            created_at: conversation.created_at,
            last_activity_at: conversation.last_activity_at,
            last_message: conversation.last_message.map(LastMessage::from),
            rating: conversation.rating.as_ref().map(Into::into),
        }
    }
}

/// `data` of the inbox route.
pub type Inbox = ConversationList<AgentConversation>;

/// A customer's profile as agents see it: what the host product's create requests
/// described (the seeds' `name`, `plan_id` and `created_at`), never their secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    /// The normalized (trimmed, lower-cased) email, the customer's identity.
    pub email: String,
    /// The user's name or plan name, as their latest create request gave it.
    pub name: Option<String>,
    pub plan_id: Option<i64>,
    /// When their account was created in the host product, in Unix milliseconds (sent in
    /// seconds as `created_at`).
    pub account_created_at: Option<i64>,
    /// When SupportZen first stored them (their first conversation, or `users put`).
    pub first_seen_at: i64,
}

impl CustomerView {
    fn of(email: &Email, profile: CustomerProfile) -> Self {
        CustomerView {
            email: email.user_id().as_str().to_string(),
            name: profile.name,
            plan_id: profile.plan_id,
            account_created_at: profile
                .account_created_at
                .map(|seconds| seconds.saturating_mul(1000)),
            first_seen_at: profile.first_seen_at,
        }
    }
}

/// `data` of the customer route: the profile's fields, and one page of their
/// conversations of one kind, newest activity first, as the inbox pages
/// (`conversations`, `hasMore`, `nextCursor`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPage {
    #[serde(flatten)]
    pub customer: CustomerView,
    #[serde(flatten)]
    pub page: Inbox,
}

/// `data` of the reply route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replied {
    pub conversation_id: String,
    pub message: MessageView,
}

/// The reply route's answer: made now, or the one its `Idempotency-Key` was first given,
/// as it was kept (its download links, if any, are those of the first answer: valid 15
/// minutes from then; the message's page signs fresh ones).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ReplyAnswer {
    Fresh(Replied),
    Replayed(serde_json::Value),
}

/// One page of the inbox, newest activity first.
pub async fn inbox<S: AgentReader>(store: &S, query: ListInbox) -> Result<Answer<Inbox>, ApiError> {
    let page = store
        .inbox_page(&query.filter, query.from.as_ref(), query.limit)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(Inbox::from_page(page)))
}

/// A customer by email: their profile and a page of their conversations. An email that
/// names no user is a 404 (`customer`); a user with no conversation of the kind asked
/// for is a profile and an empty page.
pub async fn customer<S: CustomerReader>(
    store: &S,
    query: FindCustomer,
) -> Result<Answer<CustomerPage>, ApiError> {
    let (profile, page) = store
        .customer_page(
            query.email.user_id(),
            query.kind,
            query.from.as_ref(),
            query.limit,
        )
        .await
        .map_err(|e| ApiError::from_store(e, "customer"))?;
    let profile = profile.ok_or(ApiError::NotFound("customer"))?;
    Ok(Answer::fresh(CustomerPage {
        customer: CustomerView::of(&query.email, profile),
        page: Inbox::from_page(page),
    }))
}

/// The conversation a key names; one we never issued is not found.
fn resolve(key: &ConversationKey) -> Result<ConversationId, ApiError> {
    key.resolve_any().ok_or(ApiError::NotFound("conversation"))
}

/// Any customer's conversation, or 404.
async fn find<S: AgentReader>(
    store: &S,
    key: &ConversationKey,
) -> Result<StoredConversation, ApiError> {
    store
        .find_conversation(&resolve(key)?)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?
        .ok_or(ApiError::NotFound("conversation"))
}

/// One conversation.
pub async fn conversation<S: AgentReader>(
    store: &S,
    key: &ConversationKey,
) -> Result<Answer<AgentConversation>, ApiError> {
    Ok(Answer::fresh(find(store, key).await?.into()))
}

/// A page of a conversation's messages and notes, oldest first.
pub async fn messages<S: AgentReader, F: FileStorage>(
    store: &S,
    files: &F,
    query: ReadMessages,
) -> Result<Answer<MessageList>, ApiError> {
    let conversation = find(store, &query.conversation).await?;
    let page = store
        .agent_message_page(&conversation.id, &query.window, query.limit)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(message_list(
        Reader::Agents,
        &conversation,
        &query.window,
        page,
        files,
    )?))
}

/// Reads the conversation and runs `write` against what it read, again while the store
/// says it changed in between.
async fn with_fresh_read<S, T, F, Fut>(
    store: &S,
    key: &ConversationKey,
    mut write: F,
) -> Result<T, ApiError>
where
    S: AgentReader,
    F: FnMut(StoredConversation) -> Fut,
    Fut: Future<Output = Result<Result<T, StoreError>, ApiError>>,
{
    for _ in 0..ATTEMPTS {
        let seen = find(store, key).await?;
        match write(seen).await? {
            Err(StoreError::Changed) => continue,
            other => return other.map_err(|e| ApiError::from_store(e, "conversation")),
        }
    }
    Err(ApiError::Unavailable {
        retry_after: Duration::from_secs(1),
        reason: format!("conversation changed {ATTEMPTS} times while being written"),
    })
}

/// Adds `agent`'s reply (the customer sees it) or note (they never do). A reply to a
/// closed conversation is refused; a note is not. With `retry` (an `Idempotency-Key`),
/// a repeat of a request already answered gets that answer and writes nothing, and the
/// answer is kept with the message, in its transaction. With
/// `config.unread_email_after`, a reply also sets (unless one is pending) the time the
/// customer gets an email if the replies are still unread then (`flows::due`).
pub async fn reply<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    agent: &Agent,
    command: AgentMessage,
    retry: Option<&Retry>,
) -> Result<Answer<ReplyAnswer>, ApiError>
where
    S: AgentReader + AgentWriter + AgentReceipts + UploadRegistry,
    F: FileStorage,
{
    if let Some(earlier) = earlier_answer(store, retry).await? {
        return Ok(earlier);
    }
    let uploader = Uploader::agent(&agent.id);
    let limits = &config.attachments;
    let attachments = attach(store, files, limits, &uploader, &command.attachments).await?;
    let kept = attachments.clone();
    let message = NewMessage {
        attachments,
        ..NewMessage::by_agent(
            agent.clone(),
            command.message,
            command.image_url,
            command.client_message_id,
            command.internal,
        )
    };
    let id = message.id.clone();
    let outcome = async {
        let written = with_fresh_read(store, &command.conversation, |seen| {
            let message = &message;
            async move {
                if seen.status.is_closed() && !message.internal {
                    return Err(ApiError::Closed("conversation"));
                }
                // The answer is made (its links signed, no I/O) before the write, so that
                // its receipt goes in the message's transaction.
                let answer = Replied {
                    conversation_id: seen.id.key(),
                    message: MessageView::from_new(message, files)?,
                };
                let receipt = retry
                    .map(|retry| retry.receipt(&answer, now_millis() / 1000))
                    .transpose()?;
                let notice_at = config.notice_at(message.sent_at);
                Ok(
                    match store
                        .add_agent_message(&seen, message, notice_at, receipt.as_ref())
                        .await
                    {
                        Ok(()) => Ok(Some(answer)),
                        // The same request was answered meanwhile.
                        Err(StoreError::ReceiptExists) => Ok(None),
                        Err(err) => Err(err),
                    },
                )
            }
        })
        .await?;
        match written {
            Some(answer) => Ok(Answer::fresh(ReplyAnswer::Fresh(answer))),
            None => earlier_answer(store, retry)
                .await?
                .ok_or_else(|| ApiError::from_store(StoreError::ReceiptExists, "conversation")),
        }
    }
    .await;
    settle(store, files, &id, &kept, outcome).await
}

/// The answer kept for `retry`'s key, if a request with it was answered (the same body)
/// within the key's lifetime; an error if its body was another.
async fn earlier_answer<S: AgentReceipts>(
    store: &S,
    retry: Option<&Retry>,
) -> Result<Option<Answer<ReplyAnswer>>, ApiError> {
    let Some(retry) = retry else {
        return Ok(None);
    };
    let found = store
        .find_receipt(retry.key())
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(retry
        .replay::<serde_json::Value>(found, now_millis() / 1000)?
        .map(|data| Answer {
            data: ReplyAnswer::Replayed(data),
            replayed: true,
        }))
}

/// How far ahead a snooze may end. A year is more than any desk snoozes for, and keeps
/// out a time in microseconds or nanoseconds, which the due-work index (whose keys are
/// 13-digit milliseconds compared as text) would take for a time already past.
const LONGEST_SNOOZE_MS: i64 = 366 * 24 * 3_600_000;

/// Moves a conversation to another status. Asking for the status it has (with the same
/// snooze) changes nothing and succeeds; a closed conversation stays closed.
pub async fn change_status<S: AgentReader + AgentWriter>(
    store: &S,
    command: ChangeStatus,
) -> Result<Answer<AgentConversation>, ApiError> {
    if let Some(until) = command.snooze_until {
        let now = now_millis();
        if until <= now {
            return Err(ApiError::field("snooze_until", "must be in the future"));
        }
        if until - now > LONGEST_SNOOZE_MS {
            return Err(ApiError::field(
                "snooze_until",
                "must be within a year (Unix milliseconds)",
            ));
        }
    }
    let updated = with_fresh_read(store, &command.conversation, |mut seen| async move {
        if seen.status == command.status && seen.snoozed_until == command.snooze_until {
            return Ok(Ok(seen));
        }
        if seen.status.is_closed() {
            return Err(ApiError::Closed("conversation"));
        }
        Ok(store
            .set_status(&seen, command.status, command.snooze_until)
            .await
            .map(|()| {
                seen.status = command.status;
                seen.snoozed_until = command.snooze_until;
                seen
            }))
    })
    .await?;
    Ok(Answer::fresh(updated.into()))
}

/// Assigns a conversation to an agent, or to nobody. An agent who assigns it to
/// themselves has their token's `email` claim (`caller_email`) recorded as the address
/// of the emails about the customer's unread messages; assigned by someone else, the
/// assignee's address is not known and those emails go to the team's address.
pub async fn assign<S: AgentWriter>(
    store: &S,
    command: Assign,
    caller: &Agent,
    caller_email: Option<Email>,
) -> Result<Answer<AgentConversation>, ApiError> {
    let email = caller_email.filter(|_| command.assignee.as_ref() == Some(&caller.id));
    let assigned = store
        .assign(
            &resolve(&command.conversation)?,
            command.assignee.as_ref(),
            email.as_ref(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(assigned.into()))
}
