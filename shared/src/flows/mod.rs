//! The use cases, free of any transport: each takes a typed principal, a typed command
//! and an optional [`Retry`], and returns typed answer data or an [`ApiError`]. The HTTP
//! layer (`crate::http`) reads headers and bodies into these and turns the outcome into
//! a response; a WebSocket message or a CLI command could call them just the same.
//!
//! Both customer flows honour an `Idempotency-Key`: the answer is written in the same
//! transaction as the change, so a retry either finds it (and gets it back, writing
//! nothing) or finds nothing was written (and writes). Of two retries racing with one
//! key, the store lets one write and the other answers with the winner's receipt.

pub mod agent;
mod answers;
pub mod attachments;
pub mod connect_ticket;
pub mod due;
pub mod marks;
mod open;
mod post;
pub mod rating;
pub mod read;
pub mod typing;

pub use answers::{Opened, Posted};
pub use attachments::{UploadTarget, agent_upload, attach, customer_upload};
pub use open::{OpenConversation, open_chat, open_ticket};
pub use post::{PostMessage, post};
pub use read::{ListConversations, ReadMessages, list_conversations, read_messages};

use crate::auth::{Caller, Customer, UserRecord, authenticate};
use crate::config::Config;
use crate::domain::now_millis;
use crate::error::ApiError;
use crate::idempotency::Retry;
use crate::store::{StoreError, StoredConversation, UserReader};
use serde::de::DeserializeOwned;

/// A flow's successful outcome: the response's `data`, and whether it repeats an answer
/// given earlier to the same idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<T> {
    pub data: T,
    pub replayed: bool,
}

impl<T> Answer<T> {
    fn fresh(data: T) -> Self {
        Answer {
            data,
            replayed: false,
        }
    }
}

/// The one authentication step of every customer flow: `read` is what looking the
/// customer up found, together with whatever else the flow read in the same round trip
/// (a receipt, the conversation, or nothing); the customer's token is checked against
/// it. `what` names what a failed read was reading, for the error; `now` (milliseconds)
/// is when, for a secret's grace period. (It takes the read's result rather than the
/// read: a future taken by value is held twice over.)
fn authenticated<T>(
    config: &Config,
    customer: &Customer,
    what: &'static str,
    read: Result<(Option<UserRecord>, T), StoreError>,
    now: i64,
) -> Result<(Caller, T), ApiError> {
    let (stored, rest) = read.map_err(|e| ApiError::from_store(e, what))?;
    let caller = authenticate(
        stored.as_ref(),
        &customer.email,
        &customer.token,
        config.trust_first_request,
        now,
    )?;
    Ok((caller, rest))
}

/// The caller's own conversation from a read of it, or a 404 for a missing one, someone
/// else's, and any at all for a caller with no record yet (whom trust-on-first-use
/// accepts): a conversation can outlive its user (an erasure whose by-owner read missed
/// it), and whoever presents that email next owns none of it.
fn own_conversation(
    caller: &Caller,
    conversation: Option<StoredConversation>,
) -> Result<StoredConversation, ApiError> {
    match caller {
        Caller::Known(user) => conversation.filter(|c| &c.owner == user),
        Caller::New { .. } => None,
    }
    .ok_or(ApiError::NotFound("conversation"))
}

/// The customer's record alone, for [`authenticated`].
async fn user_only<S: UserReader>(
    store: &S,
    customer: &Customer,
) -> Result<(Option<UserRecord>, ()), StoreError> {
    let found = store.find_user(customer.email.user_id()).await?;
    Ok((found, ()))
}

/// Who is asking, or, for a retry of a request already answered, that answer.
enum Identified<T> {
    Caller(Caller),
    Answered(Answer<T>),
}

/// Looks the customer up (with the retry's receipt, in the same read) and checks their
/// token; then a live receipt answers the request (or refuses another body with its key).
async fn identify<S: UserReader, T: DeserializeOwned>(
    store: &S,
    config: &Config,
    customer: &Customer,
    retry: Option<&Retry>,
) -> Result<Identified<T>, ApiError> {
    let user = customer.email.user_id();
    let read = match retry {
        Some(retry) => store.find_user_and_receipt(user, retry.key()).await,
        None => store.find_user(user).await.map(|found| (found, None)),
    };
    // One clock reading for the secret's grace period and the receipt's expiry.
    let now = now_millis();
    let (caller, receipt) = authenticated(config, customer, "user", read, now)?;
    if let Some(retry) = retry
        && let Some(data) = retry.replay(receipt, now / 1000)?
    {
        return Ok(Identified::Answered(Answer {
            data,
            replayed: true,
        }));
    }
    Ok(Identified::Caller(caller))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenDigest;
    use crate::domain::{ChatId, ConversationId, Email, Status};
    use crate::store::ReadState;

    fn conversation_of(owner: &Email) -> StoredConversation {
        StoredConversation {
            id: ConversationId::Chat(ChatId::generate()),
            owner: owner.user_id().clone(),
            status: Status::Open,
            assignee: None,
            snoozed_until: None,
            follow_up_of: None,
            created_at: 1_764_547_200_000,
            last_activity_at: 1_764_547_200_000,
            last_message: None,
            reads: ReadState::default(),
            rating: None,
        }
    }

    /// A known caller reads their own conversation only; one trust-on-first-use accepts
    /// reads none, not even one still stored under their id.
    #[test]
    fn only_a_known_owner_has_a_conversation() {
        let ann = Email::parse("ann@example.com").unwrap();
        let bob = Email::parse("bob@example.com").unwrap();
        let anns = conversation_of(&ann);
        let known = Caller::Known(ann.user_id().clone());
        let not_found = |read: Result<StoredConversation, ApiError>| {
            matches!(read, Err(ApiError::NotFound("conversation")))
        };
        assert_eq!(
            own_conversation(&known, Some(anns.clone())).ok(),
            Some(anns.clone())
        );
        assert!(not_found(own_conversation(&known, None)));
        let bobs = Caller::Known(bob.user_id().clone());
        assert!(not_found(own_conversation(&bobs, Some(anns.clone()))));
        let newcomer = Caller::New {
            user: ann.user_id().clone(),
            pin: TokenDigest::from_stored(&[7; 32]).unwrap(),
        };
        assert!(not_found(own_conversation(&newcomer, Some(anns))));
    }
}
