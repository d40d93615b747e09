use super::{conversation, respond, within_deadline};
use crate::config::Config;
use crate::domain::{ConversationId, Endpoint, TicketId};
use crate::error::ApiError;
use crate::store::{ConversationCreator, TicketNumbers, UserReader};
use lambda_http::{Body, Request, Response};

/// `POST /api/client/ticket/create`: opens a ticket numbered `TKT-001`, `TKT-002`, …
pub async fn ticket_create<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationCreator + TicketNumbers,
{
    let endpoint = Endpoint::TicketCreate;
    let outcome = within_deadline(conversation::open(
        store,
        config,
        &request,
        endpoint,
        || async {
            let number = store
                .next_ticket_number()
                .await
                .map_err(|e| ApiError::from_store(e, "ticket"))?;
            TicketId::from_number(number)
                .map(ConversationId::Ticket)
                .ok_or_else(|| ApiError::Internal(format!("ticket counter returned {number}")))
        },
    ))
    .await
    .map(|answer| answer.success("Ticket created successfully."));
    respond(&request, endpoint, outcome)
}
