//! A customer opens a chat or ticket with its first message.

use super::attachments::{attach, settle};
use super::{Answer, Identified, Opened, identify};
use crate::auth::{AuthError, Caller, Customer};
use crate::config::Config;
use crate::domain::{
    AttachmentId, Author, ChatId, ClientMessageId, ConversationId, ConversationKey, ImageUrl,
    MessageText, NewMessage, Profile, TicketId, Uploader, now_seconds,
};
use crate::error::ApiError;
use crate::idempotency::Retry;
use crate::store::{
    ConversationCreator, FileStorage, NewConversation, SourceAddress, StoreError, TicketNumbers,
    UploadRegistry, UserReader,
};
use std::future::Future;

/// What a create request asks for.
#[derive(Clone, Debug)]
pub struct OpenConversation {
    /// Stored on the customer's profile.
    pub profile: Profile,
    pub message: MessageText,
    pub image_url: Option<ImageUrl>,
    pub client_message_id: Option<ClientMessageId>,
    /// The customer's closed conversation this one follows up.
    pub follow_up_of: Option<ConversationKey>,
    /// Uploads of the customer's that the first message carries.
    pub attachments: Vec<AttachmentId>,
    /// Where the request came from (a new account counts against its address).
    pub source: Option<SourceAddress>,
}

/// Opens a live chat, whose id is a fresh `chat-<uuidv7>`.
pub async fn open_chat<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    customer: &Customer,
    command: OpenConversation,
    retry: Option<&Retry>,
) -> Result<Answer<Opened>, ApiError>
where
    S: UserReader + ConversationCreator + UploadRegistry,
    F: FileStorage,
{
    let allocate = || async { Ok(ConversationId::Chat(ChatId::generate())) };
    open(store, files, config, customer, command, retry, allocate).await
}

/// Opens a ticket numbered `TKT-001`, `TKT-002`, … from the store's counter.
pub async fn open_ticket<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    customer: &Customer,
    command: OpenConversation,
    retry: Option<&Retry>,
) -> Result<Answer<Opened>, ApiError>
where
    S: UserReader + ConversationCreator + TicketNumbers + UploadRegistry,
    F: FileStorage,
{
    let allocate = || async {
        let number = store
            .next_ticket_number()
            .await
            .map_err(|e| ApiError::from_store(e, "ticket"))?;
        TicketId::from_number(number)
            .map(ConversationId::Ticket)
            .ok_or_else(|| ApiError::Internal(format!("ticket counter returned {number}")))
    };
    open(store, files, config, customer, command, retry, allocate).await
}

/// Authenticates, answers a retry from its receipt, asks `allocate` for the new
/// conversation's id (only once the caller is authenticated and the request is new, so
/// invalid requests and retries use up no ticket numbers; one refused by the write, such
/// as a message past the customer's limit, has used one), and writes the conversation
/// with its first message (and the receipt) atomically.
#[allow(clippy::too_many_arguments)]
async fn open<S, Files, F, Fut>(
    store: &S,
    files: &Files,
    config: &Config,
    customer: &Customer,
    command: OpenConversation,
    retry: Option<&Retry>,
    allocate: F,
) -> Result<Answer<Opened>, ApiError>
where
    S: UserReader + ConversationCreator + UploadRegistry,
    Files: FileStorage,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ConversationId, ApiError>>,
{
    let owner = match identify(store, config, customer, retry).await? {
        Identified::Caller(caller) => caller,
        Identified::Answered(answer) => return Ok(answer),
    };
    // Checked once the caller is known; the write checks that it is theirs.
    let not_theirs = || ApiError::field("follow_up_of", "must name one of your conversations");
    let follow_up_of = match (&command.follow_up_of, &owner) {
        (None, _) => None,
        (Some(_), Caller::New { .. }) => return Err(not_theirs()),
        (Some(key), Caller::Known(_)) => Some(key.resolve_any().ok_or_else(not_theirs)?),
    };
    let uploader = Uploader::customer(owner.user());
    let attachments = attach(
        store,
        files,
        &config.attachments,
        &uploader,
        &command.attachments,
    )
    .await?;
    let kept = attachments.clone();
    let first_message = NewMessage {
        attachments,
        ..NewMessage::now(
            Author::Customer,
            command.message,
            command.image_url,
            command.client_message_id,
        )
    };
    let message = first_message.id.clone();
    let notice_at = config.notice_at(first_message.sent_at);
    let outcome = async {
        let id = allocate().await?;
        let kind = id.kind();
        let answer = Opened {
            conversation: id.clone(),
        };
        let mut new = NewConversation {
            owner,
            profile: command.profile,
            first_message,
            follow_up_of,
            receipt: retry
                .map(|retry| retry.receipt(&answer, now_seconds()))
                .transpose()?,
            id,
            source: command.source,
            notice_at,
        };
        match store.create_conversation(&new).await {
            // Another request won a race: the first request for this email (created the user)
            // or a retry with the same key (answered it). Check this one against the winner
            // once: the same token and body get the winner's answer or write with the user
            // now known; another token gets 401.
            Err(StoreError::UserExists | StoreError::ReceiptExists) => {
                new.owner = match identify(store, config, customer, retry).await? {
                    Identified::Answered(answer) => return Ok(answer),
                    Identified::Caller(known @ Caller::Known(_)) => known,
                    Identified::Caller(Caller::New { .. }) => {
                        return Err(AuthError::WrongToken.into());
                    }
                };
                store.create_conversation(&new).await
            }
            other => other,
        }
        .map_err(|e| match e {
            StoreError::NotFound => not_theirs(),
            e => ApiError::from_store(e, kind),
        })?;
        Ok(Answer::fresh(answer))
    }
    .await;
    settle(store, files, &message, &kept, outcome).await
}
