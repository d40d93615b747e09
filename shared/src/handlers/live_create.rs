use super::{conversation, respond, within_deadline};
use crate::config::Config;
use crate::domain::{ChatId, ConversationId, Endpoint};
use crate::store::{ConversationCreator, UserReader};
use lambda_http::{Body, Request, Response};

/// `POST /api/client/live/create`: opens a live chat with the user's first message.
pub async fn live_create<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationCreator,
{
    let endpoint = Endpoint::LiveCreate;
    let outcome = within_deadline(conversation::open(
        store,
        config,
        &request,
        endpoint,
        || async { Ok(ConversationId::Chat(ChatId::generate())) },
    ))
    .await
    .map(|answer| answer.success("Live chat session created successfully."));
    respond(&request, endpoint, outcome)
}
