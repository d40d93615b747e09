//! Support agents answer: the inbox, a conversation and its messages (with the agents'
//! notes), replies and notes, status changes and assignment. The agent is who their
//! verified token says (the HTTP layer reads it); these flows trust it.
//!
//! Every write is conditional on the conversation as this flow just read it. When a
//! customer message or another agent's change lands in between, the store refuses
//! ([`StoreError::Changed`]) and the flow reads again, up to [`ATTEMPTS`] times.

use super::Answer;
use super::attachments::attach;
use super::read::{
    ConversationList, LastMessage, MessageList, MessageView, ReadMessages, message_list,
};
use crate::domain::{
    Agent, AgentId, AttachmentId, AttachmentLimits, ClientMessageId, ConversationId,
    ConversationKey, ImageUrl, MessageText, NewMessage, Status, Uploader, now_millis,
};
use crate::error::ApiError;
use crate::store::{
    ActivityCursor, AgentReader, AgentWriter, FileStorage, InboxFilter, StoreError,
    StoredConversation, UploadRegistry,
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
    /// The customer's satisfaction rating, once given.
    pub rating: Option<super::rating::RatingView>,
}

impl From<StoredConversation> for AgentConversation {
    fn from(conversation: StoredConversation) -> Self {
        AgentConversation {
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

/// `data` of the reply route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replied {
    pub conversation_id: String,
    pub message: MessageView,
}

/// One page of the inbox, newest activity first.
pub async fn inbox<S: AgentReader>(store: &S, query: ListInbox) -> Result<Answer<Inbox>, ApiError> {
    let page = store
        .inbox_page(&query.filter, query.from.as_ref(), query.limit)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(Inbox::from_page(page)))
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
/// closed conversation is refused; a note is not.
pub async fn reply<S, F>(
    store: &S,
    files: &F,
    limits: &AttachmentLimits,
    agent: &Agent,
    command: AgentMessage,
) -> Result<Answer<Replied>, ApiError>
where
    S: AgentReader + AgentWriter + UploadRegistry,
    F: FileStorage,
{
    let uploader = Uploader::agent(&agent.id);
    let attachments = attach(store, files, limits, &uploader, &command.attachments).await?;
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
    let conversation = with_fresh_read(store, &command.conversation, |seen| {
        let message = &message;
        async move {
            if seen.status.is_closed() && !message.internal {
                return Err(ApiError::Closed("conversation"));
            }
            Ok(store
                .add_agent_message(&seen, message)
                .await
                .map(|()| seen.id))
        }
    })
    .await?;
    Ok(Answer::fresh(Replied {
        conversation_id: conversation.key(),
        message: MessageView::from_new(&message, files)?,
    }))
}

/// Moves a conversation to another status. Asking for the status it has (with the same
/// snooze) changes nothing and succeeds; a closed conversation stays closed.
pub async fn change_status<S: AgentReader + AgentWriter>(
    store: &S,
    command: ChangeStatus,
) -> Result<Answer<AgentConversation>, ApiError> {
    if let Some(until) = command.snooze_until
        && until <= now_millis()
    {
        return Err(ApiError::field("snooze_until", "must be in the future"));
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

/// Assigns a conversation to an agent, or to nobody.
pub async fn assign<S: AgentWriter>(
    store: &S,
    command: Assign,
) -> Result<Answer<AgentConversation>, ApiError> {
    let assigned = store
        .assign(&resolve(&command.conversation)?, command.assignee.as_ref())
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(assigned.into()))
}
