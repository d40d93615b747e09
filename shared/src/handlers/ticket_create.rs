use super::{conversation, respond};
use crate::config::Config;
use crate::domain::{ConversationId, TicketId};
use crate::error::ApiError;
use crate::response::Success;
use crate::store::{ConversationCreator, TicketNumbers, UserReader};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// `POST /api/client/ticket/create`: opens a ticket numbered `TKT-001`, `TKT-002`, …
pub async fn ticket_create<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationCreator + TicketNumbers,
{
    let outcome = conversation::open(store, config, &request, || async {
        let number = store
            .next_ticket_number()
            .await
            .map_err(|e| ApiError::from_store(e, "ticket"))?;
        TicketId::from_number(number)
            .map(ConversationId::Ticket)
            .ok_or_else(|| ApiError::Internal(format!("ticket counter returned {number}")))
    })
    .await
    .map(|(ticket, _first_message)| Success {
        message: "Ticket created successfully.",
        data: json!({ "ticketId": ticket.key() }),
    });
    respond(&request, "ticket-create", outcome)
}
