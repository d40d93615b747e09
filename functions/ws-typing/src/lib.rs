//! The `ws-typing` function: the WebSocket API's `typing` route (route selection
//! `$request.body.action`). A client sends `{"action":"typing","conversationId":"…"}`;
//! the sender is the subscriber the `$connect` authorizer put in the connection's
//! context. If they may see the conversation (a customer, their own; an agent, any) and
//! have not signalled typing in it within 2 s (a conditional write: [`TypingGate`]),
//! the other side's connections get the `typing` frame through the Management API:
//! the agents' for the customer's typing, that customer's for an agent's. Nothing is
//! stored but the throttle's time; no webhook; posts are best effort (a connection that
//! misses one misses a hint, nothing more), so a 410 is not even unlisted here.
//!
//! The handler needs only narrow traits ([`Poster`] and the store's), so it is tested
//! with in-memory fakes; `sdk.rs` holds the AWS implementation of [`Poster`].

pub mod sdk;

use futures_util::stream::{self as futures_stream, StreamExt};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use std::future::Future;
use supportzen_shared::ApiError;
use supportzen_shared::events::{ClientFrame, Subscriber};
use supportzen_shared::flows::typing::typing;
use supportzen_shared::store::{AgentReader, Audience, ConnectionReader, TypingGate};
use supportzen_shared::ws::subscriber;

/// How many posts are in flight at once.
pub const POST_CONCURRENCY: usize = 32;

/// Pushes data to one WebSocket connection (API Gateway's `@connections` API); the
/// error, if any, is for the log.
pub trait Poster {
    fn post(
        &self,
        connection_id: &str,
        data: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// What became of one frame (the status code API Gateway gets).
fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = code;
    response
}

/// Handles one `typing` frame at `now` (ms). 200: passed on, or dropped by the throttle;
/// 400: not a typing frame; 403: no subscriber in the context (a route deployed without
/// the authorizer); 404: a conversation the sender may not see; 500: the table failed.
pub async fn handle<S, P>(
    store: &S,
    poster: &P,
    request: &ApiGatewayWebsocketProxyRequest,
    now: i64,
) -> ApiGatewayProxyResponse
where
    S: AgentReader + ConnectionReader + TypingGate + Sync,
    P: Poster + Sync,
{
    let context = &request.request_context;
    let from = match subscriber(&context.authorizer.fields) {
        Ok(from) => from,
        Err(reason) => {
            tracing::error!(reason, "typing without the authorizer's subscriber");
            return status(403);
        }
    };
    let conversation = match ClientFrame::parse(request.body.as_deref().unwrap_or_default()) {
        Ok(ClientFrame::Typing { conversation }) => conversation,
        Err(reason) => {
            tracing::info!(reason, "not a typing frame");
            return status(400);
        }
    };
    let Some(id) = conversation.resolve_any() else {
        return status(404);
    };
    match store.claim_typing(&from, &id, now).await {
        Ok(true) => {}
        Ok(false) => return status(200),
        Err(err) => {
            tracing::error!(error = %err, "typing throttle not written");
            return status(500);
        }
    }
    // An agent's name is the authorizer's, from their connect ticket.
    let agent = match &from {
        Subscriber::Agent(agent) => Some(agent.clone()),
        Subscriber::Customer(_) => None,
    };
    let signal = match typing(store, &from, agent, &conversation, now).await {
        Ok(signal) => signal,
        Err(ApiError::NotFound(_)) => return status(404),
        Err(err) => {
            tracing::error!(error = %err, "conversation not read");
            return status(500);
        }
    };
    let audience = if signal.for_customer() {
        Audience::Customer(signal.owner.clone())
    } else {
        Audience::Agents
    };
    let connections = match store.connections(&audience, now).await {
        Ok(connections) => connections,
        Err(err) => {
            tracing::error!(error = %err, "connections not read");
            return status(500);
        }
    };
    let frame = signal.to_json();
    let failed = futures_stream::iter(connections)
        .map(|connection| {
            let frame = &frame;
            async move { (poster.post(&connection, frame).await, connection) }
        })
        .buffer_unordered(POST_CONCURRENCY)
        .filter_map(|(posted, connection)| async move { posted.err().map(|e| (connection, e)) })
        .collect::<Vec<_>>()
        .await;
    for (connection, error) in failed {
        tracing::info!(connection, error, "typing not posted");
    }
    status(200)
}

#[cfg(test)]
mod tests;
