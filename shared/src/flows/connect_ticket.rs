//! Connect tickets for the realtime sockets: the caller proves who they are the usual
//! way (a customer's signed token, an agent's JWT) and gets a single-use ticket that
//! opens one socket within a minute (see [`crate::events::connect_ticket`]).

use super::{Answer, authenticated, user_only};
use crate::auth::{Caller, Customer};
use crate::config::Config;
use crate::domain::{Agent, now_millis};
use crate::error::ApiError;
use crate::events::{ConnectTicket, Subscriber, TICKET_LIFETIME_MS};
use crate::store::{ConnectTicketIssuer, UserReader};
use serde::Serialize;

/// A ticket, and until when it opens a socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issued {
    pub ticket: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
}

/// A ticket for a customer the store knows. One the store does not know yet (accepted
/// by trust-on-first-use) gets 404: a ticket would otherwise let the first caller to
/// name an email listen to that user's future conversations.
pub async fn customer_ticket<S: UserReader + ConnectTicketIssuer>(
    store: &S,
    config: &Config,
    customer: &Customer,
) -> Result<Answer<Issued>, ApiError> {
    let read = user_only(store, customer).await;
    match authenticated(config, customer, "user", read, now_millis())?.0 {
        Caller::Known(user) => issue(store, Subscriber::Customer(user)).await,
        Caller::New { .. } => Err(ApiError::NotFound("user")),
    }
}

/// A ticket for an agent whose token has `agent.read`.
pub async fn agent_ticket<S: ConnectTicketIssuer>(
    store: &S,
    agent: Agent,
) -> Result<Answer<Issued>, ApiError> {
    issue(store, Subscriber::Agent(agent)).await
}

async fn issue<S: ConnectTicketIssuer>(
    store: &S,
    subscriber: Subscriber,
) -> Result<Answer<Issued>, ApiError> {
    let ticket = ConnectTicket::generate();
    let expires_at = now_millis() + TICKET_LIFETIME_MS;
    store
        .put_ticket(&ticket.digest(), &subscriber, expires_at)
        .await
        .map_err(|e| ApiError::from_store(e, "ticket"))?;
    Ok(Answer::fresh(Issued {
        ticket: ticket.as_str().to_string(),
        expires_at,
    }))
}
