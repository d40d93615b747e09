//! The two flows every endpoint is made of: open a conversation with its first
//! message, or post a message to an existing one. Chats and tickets differ only in
//! how their id is made and in the words of the response.

use crate::auth::{BearerToken, Caller, authenticate};
use crate::config::Config;
use crate::domain::{ConversationId, ConversationRef, Email, MessageId, NewMessage, now_millis};
use crate::error::ApiError;
use crate::request::{CreateConversation, SendMessage};
use crate::store::{ConversationCreator, MessageAppender, NewConversation, StoreError, UserReader};
use lambda_http::Request;
use std::future::Future;

/// Reads the token, then looks the user up and checks it.
async fn authenticate_caller<S: UserReader>(
    store: &S,
    config: &Config,
    email: &Email,
    token: &BearerToken,
) -> Result<Caller, ApiError> {
    let stored = store
        .find_user(email.user_id())
        .await
        .map_err(|e| ApiError::from_store(e, "user"))?;
    authenticate(
        stored.as_ref(),
        email,
        token,
        config.trust_first_request,
        now_millis(),
    )
}

/// Parses, authenticates, asks `allocate` for the new conversation's id (only once the
/// caller is authenticated, so rejected requests use up no ticket numbers), and writes
/// the conversation with its first message atomically.
///
/// Returns the new conversation's id and its first message's id.
pub(super) async fn open<S, F, Fut>(
    store: &S,
    config: &Config,
    request: &Request,
    allocate: F,
) -> Result<(ConversationId, MessageId), ApiError>
where
    S: UserReader + ConversationCreator,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ConversationId, ApiError>>,
{
    let token = BearerToken::from_headers(request.headers())?;
    let body = CreateConversation::parse(request.body())?;
    let owner = authenticate_caller(store, config, &body.email, &token).await?;
    let id = allocate().await?;
    let kind = id.kind();
    let mut new = NewConversation {
        id,
        owner,
        profile: body.profile,
        first_message: NewMessage {
            id: MessageId::generate(),
            text: body.message,
            image_url: body.image_url,
            sent_at: now_millis(),
        },
    };
    match store.create_conversation(&new).await {
        // Another first request for this email won the race to create the user. Check this
        // request against the winner once: the same token succeeds, any other gets 401.
        Err(StoreError::UserExists) => {
            new.owner = match authenticate_caller(store, config, &body.email, &token).await? {
                known @ Caller::Known(_) => known,
                Caller::New { .. } => return Err(ApiError::Unauthorized),
            };
            store.create_conversation(&new).await
        }
        other => other,
    }
    .map_err(|e| ApiError::from_store(e, kind))?;
    Ok((new.id, new.first_message.id))
}

/// Parses, authenticates and appends a message to the caller's own open conversation.
///
/// Returns the conversation's id as parsed from the request and the new message's id.
pub(super) async fn post<S, Id>(
    store: &S,
    config: &Config,
    request: &Request,
) -> Result<(Id, MessageId), ApiError>
where
    S: UserReader + MessageAppender,
    Id: ConversationRef,
{
    let token = BearerToken::from_headers(request.headers())?;
    let body = SendMessage::<Id>::parse(request.body())?;
    let conversation = body.conversation.conversation();
    let kind = conversation.kind();
    let owner = match authenticate_caller(store, config, &body.email, &token).await? {
        Caller::Known(user) => user,
        // A user we have never seen owns no conversations; nothing is written for them.
        Caller::New { .. } => return Err(ApiError::NotFound(kind)),
    };
    let message = NewMessage {
        id: MessageId::generate(),
        text: body.message,
        image_url: body.image_url,
        sent_at: now_millis(),
    };
    store
        .append_message(&conversation, &owner, &message)
        .await
        .map_err(|e| ApiError::from_store(e, kind))?;
    Ok((body.conversation, message.id))
}
