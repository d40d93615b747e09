//! The endpoints as plain async functions: `Request` in, `Response` out. Each reads the
//! request into a flow's typed input (`super::request`), runs the flow within the request
//! deadline, and writes the outcome (`super::response`), logging failures.
//!
//! The Lambda binaries, the local server and `supportzen invoke` all call these, and
//! tests call them directly. Each is generic over only the store traits it needs, which
//! is also what its function's IAM policy allows.

use super::request::{CreateConversation, CustomerBody, SendMessage, customer_request};
use super::response::{failure, status, success};
use super::{agent, query};
use crate::config::Config;
use crate::domain::{ChatId, ConversationId, Scope, TicketId};
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::events::TicketIssuer;
use crate::flows::{self, Answer};
use crate::store::{
    AgentReader, AgentWriter, ConversationCreator, ConversationReader, MessageAppender,
    TicketNumbers, UserReader,
};
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

/// `POST /api/client/live/create`: opens a live chat with the user's first message.
pub async fn live_create<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationCreator,
{
    let endpoint = Endpoint::LiveCreate;
    let outcome = within_deadline(async {
        let read = customer_request::<CreateConversation>(&request, endpoint)?;
        let allocate = || async { Ok(ConversationId::Chat(ChatId::generate())) };
        let retry = read.retry.as_ref();
        flows::open(store, config, &read.customer, read.command, retry, allocate).await
    })
    .await;
    respond(
        &request,
        endpoint,
        "Live chat session created successfully.",
        outcome,
    )
}

/// `POST /api/client/live/chat`: sends a message to one of the caller's open chats.
pub async fn live_chat<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + MessageAppender,
{
    let endpoint = Endpoint::LiveChat;
    let outcome = within_deadline(post::<S, SendMessage<ChatId>>(
        store, config, &request, endpoint,
    ))
    .await;
    respond(&request, endpoint, "Message sent successfully.", outcome)
}

/// `POST /api/client/ticket/create`: opens a ticket numbered `TKT-001`, `TKT-002`, …
pub async fn ticket_create<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationCreator + TicketNumbers,
{
    let endpoint = Endpoint::TicketCreate;
    let outcome = within_deadline(async {
        let read = customer_request::<CreateConversation>(&request, endpoint)?;
        let allocate = || async {
            let number = store
                .next_ticket_number()
                .await
                .map_err(|e| ApiError::from_store(e, "ticket"))?;
            TicketId::from_number(number)
                .map(ConversationId::Ticket)
                .ok_or_else(|| ApiError::Internal(format!("ticket counter returned {number}")))
        };
        let retry = read.retry.as_ref();
        flows::open(store, config, &read.customer, read.command, retry, allocate).await
    })
    .await;
    respond(&request, endpoint, "Ticket created successfully.", outcome)
}

/// `POST /api/client/ticket/append`: adds the customer's message to one of their open tickets.
pub async fn ticket_append<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + MessageAppender,
{
    let endpoint = Endpoint::TicketAppend;
    let outcome = within_deadline(post::<S, SendMessage<TicketId>>(
        store, config, &request, endpoint,
    ))
    .await;
    respond(
        &request,
        endpoint,
        "Message appended to ticket successfully.",
        outcome,
    )
}

/// `GET /api/client/conversations`: the caller's chats or tickets, newest activity first.
pub async fn conversations_list<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationReader,
{
    let endpoint = Endpoint::ConversationsList;
    let outcome = within_deadline(async {
        let customer = query::customer(&request)?;
        let read = query::list_conversations(&request)?;
        flows::list_conversations(store, config, &customer, read).await
    })
    .await;
    respond(
        &request,
        endpoint,
        "Conversations retrieved successfully.",
        outcome,
    )
}

/// `GET /api/client/conversations/{id}/messages`: a page of one of the caller's
/// conversations, oldest first.
pub async fn conversation_messages<S>(
    store: &S,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UserReader + ConversationReader,
{
    let endpoint = Endpoint::ConversationMessages;
    let outcome = within_deadline(async {
        let customer = query::customer(&request)?;
        let read = query::read_messages(&request)?;
        flows::read_messages(store, config, &customer, read).await
    })
    .await;
    respond(
        &request,
        endpoint,
        "Messages retrieved successfully.",
        outcome,
    )
}

/// `GET /api/agent/conversations`: the inbox, newest activity first (`agent.read`).
pub async fn agent_inbox<S: AgentReader>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentInbox;
    let outcome = within_deadline(async {
        let agent = agent::agent(&request, Scope::Read)?;
        flows::agent::inbox(store, agent::list_inbox(&request, &agent)?).await
    })
    .await;
    respond(
        &request,
        endpoint,
        "Conversations retrieved successfully.",
        outcome,
    )
}

/// `GET /api/agent/conversations/{id}`: any customer's conversation (`agent.read`).
pub async fn agent_conversation<S: AgentReader>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentConversation;
    let outcome = within_deadline(async {
        agent::agent(&request, Scope::Read)?;
        flows::agent::conversation(store, &query::path_conversation(&request)?).await
    })
    .await;
    respond(
        &request,
        endpoint,
        "Conversation retrieved successfully.",
        outcome,
    )
}

/// `GET /api/agent/conversations/{id}/messages`: a page of messages and notes (`agent.read`).
pub async fn agent_messages<S: AgentReader>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentMessages;
    let outcome = within_deadline(async {
        agent::agent(&request, Scope::Read)?;
        flows::agent::messages(store, query::read_messages(&request)?).await
    })
    .await;
    respond(
        &request,
        endpoint,
        "Messages retrieved successfully.",
        outcome,
    )
}

/// `POST /api/agent/conversations/{id}/messages`: a reply or a note (`agent.write`).
pub async fn agent_reply<S>(store: &S, request: Request) -> Response<Body>
where
    S: AgentReader + AgentWriter,
{
    let endpoint = Endpoint::AgentReply;
    let outcome = within_deadline(async {
        let agent = agent::agent(&request, Scope::Write)?;
        flows::agent::reply(store, &agent, agent::agent_message(&request)?).await
    })
    .await;
    respond(&request, endpoint, "Message sent successfully.", outcome)
}

/// `POST /api/agent/conversations/{id}/status` (`agent.write`).
pub async fn agent_status<S>(store: &S, request: Request) -> Response<Body>
where
    S: AgentReader + AgentWriter,
{
    let endpoint = Endpoint::AgentStatus;
    let outcome = within_deadline(async {
        agent::agent(&request, Scope::Write)?;
        flows::agent::change_status(store, agent::change_status(&request)?).await
    })
    .await;
    respond(&request, endpoint, "Status changed successfully.", outcome)
}

/// `POST /api/agent/conversations/{id}/assign` (`agent.write`).
pub async fn agent_assign<S: AgentWriter>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentAssign;
    let outcome = within_deadline(async {
        agent::agent(&request, Scope::Write)?;
        flows::agent::assign(store, agent::assign(&request)?).await
    })
    .await;
    respond(
        &request,
        endpoint,
        "Conversation assigned successfully.",
        outcome,
    )
}

/// `POST /api/client/realtime/ticket`: a single-use ticket that opens the caller's
/// realtime socket within 60 seconds.
pub async fn realtime_ticket<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + TicketIssuer,
{
    let endpoint = Endpoint::RealtimeTicket;
    let outcome = within_deadline(async {
        let customer = query::customer(&request)?;
        flows::realtime::customer_ticket(store, config, &customer).await
    })
    .await;
    respond(&request, endpoint, "Ticket issued.", outcome)
}

/// `POST /api/agent/realtime/ticket`: the same for an agent (`agent.read`).
pub async fn agent_realtime_ticket<S: TicketIssuer>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentRealtimeTicket;
    let outcome = within_deadline(async {
        let agent = agent::agent(&request, Scope::Read)?;
        flows::realtime::agent_ticket(store, agent).await
    })
    .await;
    respond(&request, endpoint, "Ticket issued.", outcome)
}

/// Reads a send or append request and runs the post flow.
async fn post<S, B>(
    store: &S,
    config: &Config,
    request: &Request,
    endpoint: Endpoint,
) -> Result<Answer<flows::Posted>, ApiError>
where
    S: UserReader + MessageAppender,
    B: CustomerBody<Command = flows::PostMessage>,
{
    let read = customer_request::<B>(request, endpoint)?;
    flows::post(
        store,
        config,
        &read.customer,
        read.command,
        read.retry.as_ref(),
    )
    .await
}

/// The longest a request may take before the client is told to retry (503 with
/// `Retry-After`). Each DynamoDB call has its own limit (`client::timeouts`), but a request
/// makes up to five in a row; this keeps the sum under the functions' 10 s timeout
/// (`template.yaml`), past which API Gateway would answer with its own 5xx. A write that
/// was under way may still complete; a retry with the same `Idempotency-Key` finds it.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(8);

/// Runs a flow, or gives up on it at [`REQUEST_DEADLINE`]. The handlers therefore need a
/// Tokio runtime with timers, as `#[tokio::main]` builds.
async fn within_deadline<T>(
    flow: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(REQUEST_DEADLINE, flow)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Unavailable {
                retry_after: Duration::from_secs(1),
                reason: format!("no answer within {} s", REQUEST_DEADLINE.as_secs()),
            })
        })
}

/// The id to correlate logs with a request: Lambda's, API Gateway's, or the
/// local server's `x-request-id`.
pub fn request_id(request: &Request) -> String {
    if let Some(context) = request.lambda_context_ref() {
        return context.request_id.clone();
    }
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref()
        && let Some(id) = &context.request_id
    {
        return id.clone();
    }
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// Turns a flow's outcome into the documented envelope, with the request id in
/// `x-request-id` (so a client can quote it to support), logging failures. Internal
/// details go to the log with the request id, never into the body.
fn respond<T: Serialize>(
    request: &Request,
    endpoint: Endpoint,
    message: &str,
    outcome: Result<Answer<T>, ApiError>,
) -> Response<Body> {
    let request_id = request_id(request);
    let mut response = match outcome {
        Ok(answer) => success(message, &answer.data, answer.replayed),
        Err(err) => {
            log_failure(&request_id, endpoint, &err);
            failure(&err)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The response header that carries the request id: Lambda's in production, the local
/// server's own otherwise.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

fn log_failure(request_id: &str, endpoint: Endpoint, err: &ApiError) {
    let route = endpoint.name();
    match &err {
        ApiError::Internal(detail) => tracing::error!(%request_id, route, detail, "request failed"),
        ApiError::Unavailable { reason, .. } => {
            tracing::warn!(%request_id, route, reason, "store unavailable, asked client to retry")
        }
        ApiError::Unauthorized(cause) => {
            tracing::info!(%request_id, route, status = 401, code = err.code(), %cause, "request rejected")
        }
        _ => {
            tracing::info!(%request_id, route, status = status(err).as_u16(), code = err.code(), "request rejected")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::UserRecord;
    use crate::auth::{Secret, sign};
    use crate::config::Config;
    use crate::domain::{ConversationId, NewMessage, UserId};
    use crate::idempotency::{NewReceipt, Receipt, ReceiptKey};
    use crate::store::{MessageAppender, StoreError, UserReader};

    /// A store that never answers: a DynamoDB whose every call is being retried.
    struct Stalled;

    impl UserReader for Stalled {
        async fn find_user(&self, _: &UserId) -> Result<Option<UserRecord>, StoreError> {
            std::future::pending().await
        }

        async fn find_user_and_receipt(
            &self,
            _: &UserId,
            _: &ReceiptKey,
        ) -> Result<(Option<UserRecord>, Option<Receipt>), StoreError> {
            std::future::pending().await
        }
    }

    impl MessageAppender for Stalled {
        async fn append_message(
            &self,
            _: &ConversationId,
            _: &UserId,
            _: &NewMessage,
            _: Option<&NewReceipt>,
        ) -> Result<(), StoreError> {
            std::future::pending().await
        }
    }

    /// Paused time: the clock jumps to the deadline as soon as nothing else can run.
    #[tokio::test(start_paused = true)]
    async fn a_request_that_outlasts_its_deadline_is_a_503_at_the_deadline() {
        let token = sign(&Secret::parse("s3cret").unwrap(), "ann@example.com");
        let body = r#"{"chat_id": "chat-019aa6f0-0000-7000-8000-000000000001", "email": "ann@example.com", "message": "hi"}"#;
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap();
        let started = tokio::time::Instant::now();
        let response = tokio::time::timeout(
            REQUEST_DEADLINE * 2,
            live_chat(&Stalled, &Config::default(), request),
        )
        .await
        .expect("the handler gave up by itself");
        assert_eq!(started.elapsed(), REQUEST_DEADLINE);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}
