//! Read marks: the customer, or an agent for the agents, says how far they have read a
//! conversation. A mark only moves forward: one at or before the current mark changes
//! nothing and answers the current mark. The answer's `unread` is the caller's side's.

use super::{Answer, authenticated, own_conversation};
use crate::auth::Customer;
use crate::config::Config;
use crate::domain::{Agent, ConversationKey, MessageId, Reader, now_millis};
use crate::error::ApiError;
use crate::store::{AgentReader, ConversationReader, ReadMarker, StoredConversation, UserReader};
use serde::Serialize;

/// What either read route asks for.
#[derive(Clone, Debug)]
pub struct MarkRead {
    pub conversation: ConversationKey,
    pub up_to: MessageId,
}

/// `data` of both read routes: the mark after the call and the caller's side's unread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Marked {
    pub conversation_id: String,
    pub read_up_to: Option<String>,
    pub unread: i64,
}

impl Marked {
    fn of(conversation: &StoredConversation, reader: Reader) -> Self {
        Marked {
            conversation_id: conversation.id.key(),
            read_up_to: conversation
                .reads
                .mark(reader)
                .map(|mark| mark.up_to.as_str().to_string()),
            unread: conversation.reads.unread(reader),
        }
    }
}

/// The customer marks one of their conversations read up to a message (not a note).
/// Someone else's conversation and a missing one are both 404.
pub async fn customer_mark<S>(
    store: &S,
    config: &Config,
    customer: &Customer,
    command: MarkRead,
) -> Result<Answer<Marked>, ApiError>
where
    S: UserReader + ConversationReader + ReadMarker,
{
    let user = customer.email.user_id();
    let resolved = command.conversation.resolve_any();
    let read = match &resolved {
        Some(id) => store.find_user_and_conversation(user, id).await,
        None => store.find_user(user).await.map(|found| (found, None)),
    };
    let (caller, conversation) =
        authenticated(config, customer, "conversation", read, now_millis())?;
    let seen = own_conversation(&caller, conversation)?;
    let marked = store
        .mark_read(&seen, Reader::Customer, &command.up_to, None)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(Marked::of(
        &marked.conversation,
        Reader::Customer,
    )))
}

/// An agent marks a conversation read for the agents (one mark shared by the team), up
/// to a message or a note.
pub async fn agent_mark<S>(
    store: &S,
    agent: &Agent,
    command: MarkRead,
) -> Result<Answer<Marked>, ApiError>
where
    S: AgentReader + ReadMarker,
{
    let id = command
        .conversation
        .resolve_any()
        .ok_or(ApiError::NotFound("conversation"))?;
    let seen = store
        .find_conversation(&id)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?
        .ok_or(ApiError::NotFound("conversation"))?;
    let marked = store
        .mark_read(&seen, Reader::Agents, &command.up_to, Some(agent))
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(Marked::of(
        &marked.conversation,
        Reader::Agents,
    )))
}
