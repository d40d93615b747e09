use super::{conversation, respond, within_deadline};
use crate::config::Config;
use crate::domain::{ChatId, Endpoint};
use crate::store::{MessageAppender, UserReader};
use lambda_http::{Body, Request, Response};

/// `POST /api/client/live/chat`: sends a message to one of the caller's open chats.
pub async fn live_chat<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + MessageAppender,
{
    let endpoint = Endpoint::LiveChat;
    let outcome = within_deadline(conversation::post::<S, ChatId>(
        store, config, &request, endpoint,
    ))
    .await
    .map(|answer| answer.success("Message sent successfully."));
    respond(&request, endpoint, outcome)
}
