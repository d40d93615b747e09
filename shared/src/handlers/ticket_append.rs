use super::{conversation, respond};
use crate::config::Config;
use crate::domain::TicketId;
use crate::response::Success;
use crate::store::{MessageAppender, UserReader};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// `POST /api/client/ticket/append`: adds the customer's message to one of their open tickets.
pub async fn ticket_append<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + MessageAppender,
{
    let outcome = conversation::post::<S, TicketId>(store, config, &request)
        .await
        .map(|(ticket, message)| Success {
            message: "Message appended to ticket successfully.",
            data: json!({ "ticketId": ticket.to_string(), "messageId": message.as_str() }),
        });
    respond(&request, "ticket-append", outcome)
}
