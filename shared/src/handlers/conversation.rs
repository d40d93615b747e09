//! The two flows every endpoint is made of: open a conversation with its first
//! message, or post a message to an existing one. Chats and tickets differ only in
//! how their id is made and in the words of the response.
//!
//! Both flows honour an `Idempotency-Key`: the answer is written in the same transaction
//! as the change, so a retry either finds it (and gets it back, writing nothing) or finds
//! nothing was written (and writes). Of two retries racing with one key, the store lets
//! one write and the other answers with the winner's receipt.

use crate::auth::{BearerToken, Caller, authenticate};
use crate::config::Config;
use crate::domain::{
    BodyDigest, ConversationId, ConversationRef, Email, Endpoint, IdempotencyKey,
    KEY_LIFETIME_SECONDS, MessageId, NewMessage, now_millis, now_seconds,
};
use crate::error::ApiError;
use crate::request::{CreateConversation, SendMessage};
use crate::response::Success;
use crate::store::{
    ConversationCreator, MessageAppender, NewConversation, NewReceipt, Receipt, ReceiptKey,
    StoreError, UserReader,
};
use lambda_http::Request;
use serde_json::{Value, json};
use std::future::Future;

/// A flow's successful outcome: the response's `data`, and whether it is a repeat.
pub(super) struct Answer {
    data: Value,
    replayed: bool,
}

impl Answer {
    pub(super) fn success(self, message: &'static str) -> Success {
        Success {
            message,
            data: self.data,
            replayed: self.replayed,
        }
    }
}

/// What identifies a request for idempotent retries, if it carries a key.
struct Retry {
    key: ReceiptKey,
    body: BodyDigest,
}

impl Retry {
    /// `digest` is called only for a request with a key: most requests need no digest.
    fn from_request(
        request: &Request,
        endpoint: Endpoint,
        email: &Email,
        digest: impl FnOnce() -> BodyDigest,
    ) -> Result<Option<Self>, ApiError> {
        let key = IdempotencyKey::from_headers(request.headers())
            .map_err(|reason| ApiError::field("Idempotency-Key", reason))?;
        Ok(key.map(|key| Retry {
            key: ReceiptKey {
                user: email.user_id().clone(),
                endpoint,
                key,
            },
            body: digest(),
        }))
    }

    /// The receipt to write with the change whose answer is `data`.
    fn receipt(&self, data: &Value) -> NewReceipt {
        let now = now_seconds();
        NewReceipt {
            key: self.key.clone(),
            receipt: Receipt {
                body: self.body,
                data: data.to_string(),
                expires_at: now + KEY_LIFETIME_SECONDS,
            },
            written_at: now,
        }
    }

    /// The earlier answer, if it was to the same body.
    fn replay(&self, receipt: Receipt) -> Result<Answer, ApiError> {
        if receipt.body != self.body {
            return Err(ApiError::IdempotencyKeyReused);
        }
        let data = serde_json::from_str(&receipt.data)
            .map_err(|e| ApiError::Internal(format!("stored receipt is not JSON: {e}")))?;
        Ok(Answer {
            data,
            replayed: true,
        })
    }
}

/// Who is asking, or, for a retry of a request already answered, that answer.
enum Lookup {
    Caller(Caller),
    Answered(Answer),
}

/// Looks the user up (with the request's receipt, in the same read) and checks the
/// token; then a live receipt answers the request (or refuses another body with it).
async fn authenticate_caller<S: UserReader>(
    store: &S,
    config: &Config,
    email: &Email,
    token: &BearerToken,
    retry: Option<&Retry>,
) -> Result<Lookup, ApiError> {
    let (stored, receipt) = match retry {
        Some(retry) => {
            store
                .find_user_and_receipt(email.user_id(), &retry.key)
                .await
        }
        None => store
            .find_user(email.user_id())
            .await
            .map(|user| (user, None)),
    }
    .map_err(|e| ApiError::from_store(e, "user"))?;
    let now = now_millis();
    let caller = authenticate(
        stored.as_ref(),
        email,
        token,
        config.trust_first_request,
        now,
    )?;
    match (retry, receipt.filter(|r| r.expires_at > now / 1000)) {
        (Some(retry), Some(receipt)) => retry.replay(receipt).map(Lookup::Answered),
        _ => Ok(Lookup::Caller(caller)),
    }
}

/// `{"chatId": …}` or `{"ticketId": …}`.
fn id_field(id: &ConversationId) -> String {
    format!("{}Id", id.kind())
}

/// Parses, authenticates, answers a retry from its receipt, asks `allocate` for the new
/// conversation's id (only once the caller is authenticated and the request is new, so
/// rejected requests and retries use up no ticket numbers), and writes the conversation
/// with its first message (and the receipt) atomically.
pub(super) async fn open<S, F, Fut>(
    store: &S,
    config: &Config,
    request: &Request,
    endpoint: Endpoint,
    allocate: F,
) -> Result<Answer, ApiError>
where
    S: UserReader + ConversationCreator,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ConversationId, ApiError>>,
{
    let token = BearerToken::from_headers(request.headers())?;
    let body = CreateConversation::parse(request.body())?;
    let retry = Retry::from_request(request, endpoint, &body.email, || body.digest())?;
    let owner =
        match authenticate_caller(store, config, &body.email, &token, retry.as_ref()).await? {
            Lookup::Caller(caller) => caller,
            Lookup::Answered(answer) => return Ok(answer),
        };
    let id = allocate().await?;
    let kind = id.kind();
    let data = json!({ id_field(&id): id.key() });
    let mut new = NewConversation {
        owner,
        profile: body.profile,
        first_message: NewMessage {
            id: MessageId::generate(),
            text: body.message,
            image_url: body.image_url,
            sent_at: now_millis(),
        },
        receipt: retry.as_ref().map(|retry| retry.receipt(&data)),
        id,
    };
    match store.create_conversation(&new).await {
        // Another request won a race: the first request for this email (created the user)
        // or a retry with the same key (answered it). Check this one against the winner
        // once: the same token and body get the winner's answer or write with the user
        // now known; another token gets 401.
        Err(StoreError::UserExists | StoreError::ReceiptExists) => {
            new.owner =
                match authenticate_caller(store, config, &body.email, &token, retry.as_ref())
                    .await?
                {
                    Lookup::Answered(answer) => return Ok(answer),
                    Lookup::Caller(known @ Caller::Known(_)) => known,
                    Lookup::Caller(Caller::New { .. }) => return Err(ApiError::Unauthorized),
                };
            store.create_conversation(&new).await
        }
        other => other,
    }
    .map_err(|e| ApiError::from_store(e, kind))?;
    Ok(Answer {
        data,
        replayed: false,
    })
}

/// Parses, authenticates, answers a retry from its receipt, and appends a message to the
/// caller's own open conversation (with the receipt) atomically.
pub(super) async fn post<S, Id>(
    store: &S,
    config: &Config,
    request: &Request,
    endpoint: Endpoint,
) -> Result<Answer, ApiError>
where
    S: UserReader + MessageAppender,
    Id: ConversationRef,
{
    let token = BearerToken::from_headers(request.headers())?;
    let body = SendMessage::<Id>::parse(request.body())?;
    let retry = Retry::from_request(request, endpoint, &body.email, || body.digest())?;
    let conversation = body.conversation.conversation();
    let kind = conversation.kind();
    let owner =
        match authenticate_caller(store, config, &body.email, &token, retry.as_ref()).await? {
            Lookup::Answered(answer) => return Ok(answer),
            Lookup::Caller(Caller::Known(user)) => user,
            // A user we have never seen owns no conversations; nothing is written for them.
            Lookup::Caller(Caller::New { .. }) => return Err(ApiError::NotFound(kind)),
        };
    let message = NewMessage {
        id: MessageId::generate(),
        text: body.message,
        image_url: body.image_url,
        sent_at: now_millis(),
    };
    let data =
        json!({ id_field(&conversation): conversation.key(), "messageId": message.id.as_str() });
    let receipt = retry.as_ref().map(|retry| retry.receipt(&data));
    match store
        .append_message(&conversation, &owner, &message, receipt.as_ref())
        .await
    {
        // A retry with the same key was answered meanwhile: give its answer.
        Err(StoreError::ReceiptExists) => {
            match authenticate_caller(store, config, &body.email, &token, retry.as_ref()).await? {
                Lookup::Answered(answer) => return Ok(answer),
                Lookup::Caller(_) => Err(StoreError::ReceiptExists),
            }
        }
        other => other,
    }
    .map_err(|e| ApiError::from_store(e, kind))?;
    Ok(Answer {
        data,
        replayed: false,
    })
}
