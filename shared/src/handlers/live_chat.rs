use super::{conversation, respond};
use crate::config::Config;
use crate::domain::ChatId;
use crate::response::Success;
use crate::store::{MessageAppender, UserReader};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// `POST /api/client/live/chat`: sends a message to one of the caller's open chats.
pub async fn live_chat<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + MessageAppender,
{
    let outcome = conversation::post::<S, ChatId>(store, config, &request)
        .await
        .map(|(chat, message)| Success {
            message: "Message sent successfully.",
            data: json!({ "chatId": chat.as_str(), "messageId": message.as_str() }),
        });
    respond(&request, "live-chat", outcome)
}
