//! A socket's sender is typing in a conversation: checked against what the sender may
//! see (a customer, their own conversations; an agent, any), then handed to the other
//! side as a [`Typing`] signal. The transport throttles and delivers it; nothing is
//! stored.

use crate::domain::{Agent, ConversationKey};
use crate::error::ApiError;
use crate::events::{Subscriber, Typing};
use crate::store::AgentReader;

/// The signal for `from` typing in `conversation` at `now` (ms), if they may see it:
/// someone else's conversation and a missing one are both not found. `agent` is the
/// typing agent as their messages show them (for an agent sender).
pub async fn typing<S: AgentReader>(
    store: &S,
    from: &Subscriber,
    agent: Option<Agent>,
    conversation: &ConversationKey,
    now: i64,
) -> Result<Typing, ApiError> {
    let not_found = ApiError::NotFound("conversation");
    let id = conversation.resolve_any().ok_or(not_found)?;
    let stored = store
        .find_conversation(&id)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?
        .ok_or(ApiError::NotFound("conversation"))?;
    let agent = match from {
        Subscriber::Customer(user) if *user == stored.owner => None,
        Subscriber::Customer(_) => return Err(ApiError::NotFound("conversation")),
        Subscriber::Agent(_) => agent,
    };
    Ok(Typing {
        conversation: stored.id,
        owner: stored.owner,
        from: from.clone(),
        agent,
        occurred_at: now,
    })
}
