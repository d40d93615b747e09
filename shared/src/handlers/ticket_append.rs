use super::{conversation, respond, within_deadline};
use crate::config::Config;
use crate::domain::{Endpoint, TicketId};
use crate::store::{MessageAppender, UserReader};
use lambda_http::{Body, Request, Response};

/// `POST /api/client/ticket/append`: adds the customer's message to one of their open tickets.
pub async fn ticket_append<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + MessageAppender,
{
    let endpoint = Endpoint::TicketAppend;
    let outcome = within_deadline(conversation::post::<S, TicketId>(
        store, config, &request, endpoint,
    ))
    .await
    .map(|answer| answer.success("Message appended to ticket successfully."));
    respond(&request, endpoint, outcome)
}
