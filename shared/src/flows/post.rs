//! A customer posts a message to one of their own open conversations.

use super::attachments::{attach, settle};
use super::{Answer, Identified, Posted, identify};
use crate::auth::{Caller, Customer};
use crate::config::Config;
use crate::domain::{
    AttachmentId, Author, ClientMessageId, ConversationKey, ImageUrl, Kind, MessageText,
    NewMessage, Uploader, now_seconds,
};
use crate::error::ApiError;
use crate::idempotency::Retry;
use crate::store::{FileStorage, MessageAppender, StoreError, UploadRegistry, UserReader};

/// What a send or append request asks for.
#[derive(Clone, Debug)]
pub struct PostMessage {
    /// Chats are sent to, tickets appended to.
    pub kind: Kind,
    /// As the client named it: an id that names no conversation of this kind is not found.
    pub conversation: ConversationKey,
    pub message: MessageText,
    pub image_url: Option<ImageUrl>,
    pub client_message_id: Option<ClientMessageId>,
    /// Uploads of the customer's that the message carries.
    pub attachments: Vec<AttachmentId>,
}

/// Authenticates, answers a retry from its receipt, and appends the message to the
/// caller's own open conversation (with the receipt) atomically.
pub async fn post<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    customer: &Customer,
    command: PostMessage,
    retry: Option<&Retry>,
) -> Result<Answer<Posted>, ApiError>
where
    S: UserReader + MessageAppender + UploadRegistry,
    F: FileStorage,
{
    let kind = command.kind.as_str();
    let owner = match identify(store, config, customer, retry).await? {
        Identified::Answered(answer) => return Ok(answer),
        Identified::Caller(Caller::Known(user)) => user,
        // A user we have never seen owns no conversations; nothing is written for them.
        Identified::Caller(Caller::New { .. }) => return Err(ApiError::NotFound(kind)),
    };
    // Checked once the caller is known, so that a stranger learns nothing from it.
    let conversation = command
        .conversation
        .resolve(command.kind)
        .ok_or(ApiError::NotFound(kind))?;
    let uploader = Uploader::customer(&owner);
    let attachments = attach(
        store,
        files,
        &config.attachments,
        &uploader,
        &command.attachments,
    )
    .await?;
    let kept = attachments.clone();
    let message = NewMessage {
        attachments,
        ..NewMessage::now(
            Author::Customer,
            command.message,
            command.image_url,
            command.client_message_id,
        )
    };
    let id = message.id.clone();
    let outcome = async {
        let answer = Posted {
            conversation: conversation.clone(),
            message: message.id.clone(),
        };
        let receipt = retry
            .map(|retry| retry.receipt(&answer, now_seconds()))
            .transpose()?;
        match store
            .append_message(
                &conversation,
                &owner,
                &message,
                config.notice_at(message.sent_at),
                receipt.as_ref(),
            )
            .await
        {
            // A retry with the same key was answered meanwhile: give its answer.
            Err(StoreError::ReceiptExists) => match identify(store, config, customer, retry).await?
            {
                Identified::Answered(answer) => return Ok(answer),
                Identified::Caller(_) => Err(StoreError::ReceiptExists),
            },
            other => other,
        }
        .map_err(|e| ApiError::from_store(e, kind))?;
        Ok(Answer::fresh(answer))
    }
    .await;
    settle(store, files, &id, &kept, outcome).await
}
