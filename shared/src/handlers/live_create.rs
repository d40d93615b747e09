use super::{conversation, respond};
use crate::config::Config;
use crate::domain::{ChatId, ConversationId};
use crate::response::Success;
use crate::store::{ConversationCreator, UserReader};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// `POST /api/client/live/create`: opens a live chat with the user's first message.
pub async fn live_create<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationCreator,
{
    let outcome = conversation::open(store, config, &request, || async {
        Ok(ConversationId::Chat(ChatId::generate()))
    })
    .await
    .map(|(chat, _first_message)| Success {
        message: "Live chat session created successfully.",
        data: json!({ "chatId": chat.key() }),
    });
    respond(&request, "live-create", outcome)
}
