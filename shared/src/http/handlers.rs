//! The endpoints as plain async functions: `Request` in, `Response` out. Each reads the
//! request into a flow's typed input (`super::request`), runs the flow within the request
//! deadline, and writes the outcome (`super::response`), logging failures.
//!
//! The Lambda binaries, the local server and `supportzen invoke` all call these, and
//! tests call them directly. Each is generic over only the store traits it needs, which
//! is also what its function's IAM policy allows.

use super::request::{
    CreateConversation, CustomerBody, SendMessage, UploadBody, customer_request, rating_request,
    source_address,
};
use super::response::{failure, status, success};
use super::{agent, query};
use crate::config::Config;
use crate::domain::{ChatId, TicketId, UserId, now_millis};
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::flows::{self, Answer};
use crate::store::{
    AgentReader, AgentReceipts, AgentWriter, ConnectTicketIssuer, ConversationCreator,
    ConversationRater, ConversationReader, CustomerReader, EmailPreferences, FileStorage,
    MessageAppender, ReadMarker, TicketNumbers, UploadRegistry, UserReader,
};
use futures_util::FutureExt;
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

/// `POST /api/client/live/create`: opens a live chat with the user's first message.
pub async fn live_create<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UserReader + ConversationCreator + UploadRegistry,
    F: FileStorage,
{
    let endpoint = Endpoint::LiveCreate;
    let message = "Live chat session created successfully.";
    answer(&request, endpoint, message, async {
        let mut read = customer_request::<CreateConversation>(&request, endpoint)?;
        read.command.source = source_address(&request);
        let retry = read.retry.as_ref();
        flows::open_chat(store, files, config, &read.customer, read.command, retry).await
    })
    .await
}

/// `POST /api/client/live/chat`: sends a message to one of the caller's open chats.
pub async fn live_chat<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UserReader + MessageAppender + UploadRegistry,
    F: FileStorage,
{
    let endpoint = Endpoint::LiveChat;
    let message = "Message sent successfully.";
    let flow = post::<S, F, SendMessage<ChatId>>;
    answer(
        &request,
        endpoint,
        message,
        flow(store, files, config, &request, endpoint),
    )
    .await
}

/// `POST /api/client/ticket/create`: opens a ticket numbered `TKT-001`, `TKT-002`, …
pub async fn ticket_create<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UserReader + ConversationCreator + TicketNumbers + UploadRegistry,
    F: FileStorage,
{
    let endpoint = Endpoint::TicketCreate;
    let message = "Ticket created successfully.";
    answer(&request, endpoint, message, async {
        let mut read = customer_request::<CreateConversation>(&request, endpoint)?;
        read.command.source = source_address(&request);
        let retry = read.retry.as_ref();
        flows::open_ticket(store, files, config, &read.customer, read.command, retry).await
    })
    .await
}

/// `POST /api/client/ticket/append`: adds the customer's message to one of their open tickets.
pub async fn ticket_append<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UserReader + MessageAppender + UploadRegistry,
    F: FileStorage,
{
    let endpoint = Endpoint::TicketAppend;
    let message = "Message appended to ticket successfully.";
    let flow = post::<S, F, SendMessage<TicketId>>;
    answer(
        &request,
        endpoint,
        message,
        flow(store, files, config, &request, endpoint),
    )
    .await
}

/// `GET /api/client/conversations`: the caller's chats or tickets, newest activity first.
pub async fn conversations_list<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationReader,
{
    let endpoint = Endpoint::ConversationsList;
    let message = "Conversations retrieved successfully.";
    answer(&request, endpoint, message, async {
        let customer = query::customer(&request)?;
        let read = query::list_conversations(&request)?;
        flows::list_conversations(store, config, &customer, read).await
    })
    .await
}

/// `GET /api/client/conversations/{id}/messages`: a page of one of the caller's
/// conversations, oldest first.
pub async fn conversation_messages<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UserReader + ConversationReader,
    F: FileStorage,
{
    let endpoint = Endpoint::ConversationMessages;
    let message = "Messages retrieved successfully.";
    answer(&request, endpoint, message, async {
        let customer = query::customer(&request)?;
        let read = query::read_messages(&request)?;
        flows::read_messages(store, files, config, &customer, read).await
    })
    .await
}

/// `POST /api/client/conversations/{id}/rating`: the caller rates one of their solved
/// conversations, 1 to 5 with an optional comment (changeable for 24 hours).
pub async fn conversation_rating<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationReader + ConversationRater,
{
    let endpoint = Endpoint::ConversationRating;
    let message = "Rating saved.";
    answer(&request, endpoint, message, async {
        let (customer, command) = rating_request(&request)?;
        flows::rating::rate(store, config, &customer, command, now_millis()).await
    })
    .await
}

/// `GET /api/agent/conversations`: the inbox, newest activity first (`agent.read`).
pub async fn agent_inbox<S: AgentReader>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentInbox;
    let message = "Conversations retrieved successfully.";
    answer(&request, endpoint, message, async {
        let agent = agent::agent(&request, endpoint)?;
        flows::agent::inbox(store, agent::list_inbox(&request, &agent)?).await
    })
    .await
}

/// `GET /api/agent/conversations/{id}`: any customer's conversation (`agent.read`).
pub async fn agent_conversation<S: AgentReader>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentConversation;
    let message = "Conversation retrieved successfully.";
    answer(&request, endpoint, message, async {
        agent::agent(&request, endpoint)?;
        flows::agent::conversation(store, &query::path_conversation(&request)?).await
    })
    .await
}

/// `GET /api/agent/customers?email=`: a customer's profile and a page of their
/// conversations (`agent.read`).
pub async fn agent_customer<S: CustomerReader>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentCustomer;
    let message = "Customer retrieved successfully.";
    answer(&request, endpoint, message, async {
        agent::agent(&request, endpoint)?;
        flows::agent::customer(store, agent::find_customer(&request)?).await
    })
    .await
}

/// `GET /api/agent/conversations/{id}/messages`: a page of messages and notes (`agent.read`).
pub async fn agent_messages<S: AgentReader, F: FileStorage>(
    store: &S,
    files: &F,
    request: Request,
) -> Response<Body> {
    let endpoint = Endpoint::AgentMessages;
    let message = "Messages retrieved successfully.";
    answer(&request, endpoint, message, async {
        agent::agent(&request, endpoint)?;
        flows::agent::messages(store, files, query::read_messages(&request)?).await
    })
    .await
}

/// `POST /api/agent/conversations/{id}/messages`: a reply or a note (`agent.write`).
pub async fn agent_reply<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: AgentReader + AgentWriter + AgentReceipts + UploadRegistry,
    F: FileStorage,
{
    let endpoint = Endpoint::AgentReply;
    let message = "Message sent successfully.";
    answer(&request, endpoint, message, async {
        let agent = agent::agent(&request, endpoint)?;
        let (command, retry) = agent::agent_message(&request, &agent)?;
        flows::agent::reply(store, files, config, &agent, command, retry.as_ref()).await
    })
    .await
}

/// `POST /api/client/attachments`: declares an upload, answering the attachment id
/// and a form that uploads the file to the storage within 5 minutes.
pub async fn attachment_upload<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UserReader + UploadRegistry,
    F: FileStorage,
{
    let endpoint = Endpoint::AttachmentUpload;
    let message = "Upload ready.";
    answer(&request, endpoint, message, async {
        let read = customer_request::<UploadBody>(&request, endpoint)?;
        let declared = read.command.within(&config.attachments)?;
        flows::customer_upload(store, files, config, &read.customer, declared).await
    })
    .await
}

/// `POST /api/agent/attachments`: the same for an agent (`agent.write`).
pub async fn agent_attachment_upload<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body>
where
    S: UploadRegistry,
    F: FileStorage,
{
    let endpoint = Endpoint::AgentAttachmentUpload;
    let message = "Upload ready.";
    answer(&request, endpoint, message, async {
        let agent = agent::agent(&request, endpoint)?;
        let declared = agent::upload(&request)?.within(&config.attachments)?;
        flows::agent_upload(store, files, &agent, declared).await
    })
    .await
}

/// `POST /api/agent/conversations/{id}/status` (`agent.write`).
pub async fn agent_status<S>(store: &S, request: Request) -> Response<Body>
where
    S: AgentReader + AgentWriter,
{
    let endpoint = Endpoint::AgentStatus;
    let message = "Status changed successfully.";
    answer(&request, endpoint, message, async {
        agent::agent(&request, endpoint)?;
        flows::agent::change_status(store, agent::change_status(&request)?).await
    })
    .await
}

/// `POST /api/agent/conversations/{id}/assign` (`agent.write`).
pub async fn agent_assign<S: AgentWriter>(store: &S, request: Request) -> Response<Body> {
    let endpoint = Endpoint::AgentAssign;
    let message = "Conversation assigned successfully.";
    answer(&request, endpoint, message, async {
        let caller = agent::agent(&request, endpoint)?;
        let email = agent::email_claim(&request);
        flows::agent::assign(store, agent::assign(&request)?, &caller, email).await
    })
    .await
}

/// `POST /api/client/conversations/{id}/read` `{up_to}`: the customer's read mark
/// moves up to a message, if that is forward; answers the mark and their unread.
pub async fn conversation_read<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConversationReader + ReadMarker,
{
    let endpoint = Endpoint::ConversationRead;
    answer(&request, endpoint, "Read mark saved.", async {
        let (customer, command) = query::mark_read(&request)?;
        flows::marks::customer_mark(store, config, &customer, command).await
    })
    .await
}

/// `POST /api/agent/conversations/{id}/read` `{up_to}`: the agents' shared read mark
/// (`agent.write`).
pub async fn agent_read<S>(store: &S, request: Request) -> Response<Body>
where
    S: AgentReader + ReadMarker,
{
    let endpoint = Endpoint::AgentRead;
    answer(&request, endpoint, "Read mark saved.", async {
        let agent = agent::agent(&request, endpoint)?;
        flows::marks::agent_mark(store, &agent, agent::mark_read(&request)?).await
    })
    .await
}

/// `POST /api/client/realtime/ticket`: a single-use ticket that opens the caller's
/// realtime socket within 60 seconds.
pub async fn realtime_ticket<S>(store: &S, config: &Config, request: Request) -> Response<Body>
where
    S: UserReader + ConnectTicketIssuer,
{
    let endpoint = Endpoint::RealtimeTicket;
    answer(&request, endpoint, "Ticket issued.", async {
        let customer = query::customer(&request)?;
        flows::connect_ticket::customer_ticket(store, config, &customer).await
    })
    .await
}

/// `POST /api/agent/realtime/ticket`: the same for an agent (`agent.read`).
pub async fn agent_realtime_ticket<S: ConnectTicketIssuer>(
    store: &S,
    request: Request,
) -> Response<Body> {
    let endpoint = Endpoint::AgentRealtimeTicket;
    answer(&request, endpoint, "Ticket issued.", async {
        let agent = agent::agent(&request, endpoint)?;
        flows::connect_ticket::agent_ticket(store, agent).await
    })
    .await
}

/// `POST /api/client/unsubscribe?token=…`: the one-click unsubscribe of an email's
/// `List-Unsubscribe` header (RFC 8058: the mail client POSTs
/// `List-Unsubscribe=One-Click`, whatever the body). No sign-in: the token is an HMAC
/// over the user id. Unsubscribing again answers the same. `GET` on the same route (the
/// link in the email's body) answers a confirmation page whose button POSTs the token:
/// the GET itself changes nothing, as mail scanners fetch links. A POST from that page
/// (a browser, asking for `text/html`) is answered with a page too.
pub async fn unsubscribe<S: EmailPreferences>(
    store: &S,
    config: &Config,
    request: Request,
) -> Response<Body> {
    let endpoint = Endpoint::Unsubscribe;
    if request.method() == lambda_http::http::Method::GET {
        let outcome = unsubscribe_token(config, &request).map(|user| Answer {
            data: user,
            replayed: false,
        });
        return unsubscribe_page(&request, endpoint, outcome, false);
    }
    let flow = async {
        let user = unsubscribe_token(config, &request)?;
        if !store
            .unsubscribe(&user)
            .await
            .map_err(|e| ApiError::from_store(e, "user"))?
        {
            return Err(ApiError::NotFound("user"));
        }
        Ok(Answer {
            data: user,
            replayed: false,
        })
    };
    let outcome = tokio::time::timeout(REQUEST_DEADLINE, flow)
        .await
        .unwrap_or_else(|_| Err(deadline_passed()));
    if wants_html(&request) {
        return unsubscribe_page(&request, endpoint, outcome, true);
    }
    let outcome = outcome.map(|_| Answer {
        data: Unsubscribed { unsubscribed: true },
        replayed: false,
    });
    respond(&request, endpoint, "Unsubscribed.", outcome)
}

/// The user an unsubscribe request's `token` names, if it is one of ours.
fn unsubscribe_token(config: &Config, request: &Request) -> Result<UserId, ApiError> {
    let token = query::parameter(request, "token")?
        .ok_or_else(|| ApiError::field("token", "is required"))?;
    // A server with no unsubscribe secret sends no emails, so no token is one of its.
    let key = config.unsubscribe_key.as_ref().ok_or_else(|| {
        ApiError::field(
            "token",
            "is not an unsubscribe token of ours (this server sends no emails)",
        )
    })?;
    key.verify(token)
        .ok_or_else(|| ApiError::field("token", "is not an unsubscribe token of ours"))
}

/// Whether a request asks for HTML before JSON (a browser's form post does; mail
/// apps' one-click posts and API clients do not).
fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(lambda_http::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The unsubscribe page's `Content-Security-Policy`: nothing loads, no script runs, and
/// its one form may only post back to this site.
pub const UNSUBSCRIBE_PAGE_CSP: &str =
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The unsubscribe route's HTML answers: the confirmation form (GET), the result of its
/// post (`done`), or the error, naming the field, with the error's status.
fn unsubscribe_page(
    request: &Request,
    endpoint: Endpoint,
    outcome: Result<Answer<UserId>, ApiError>,
    done: bool,
) -> Response<Body> {
    use crate::notify::escape_html;
    use lambda_http::http::{StatusCode, header};
    let (code, title, body) = match outcome {
        Ok(Answer { data: user, .. }) if done => (
            StatusCode::OK,
            "Unsubscribed",
            format!(
                "<p>{} will get no more emails about unread replies.</p>",
                escape_html(user.as_str())
            ),
        ),
        Ok(Answer { data: user, .. }) => {
            // The form posts to this same URL (its token included): a relative action.
            let token = query::parameter(request, "token")
                .ok()
                .flatten()
                .unwrap_or_default();
            let action: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", token)
                .finish();
            (
                StatusCode::OK,
                "Unsubscribe",
                format!(
                    "<p>Stop the emails about unread replies to {}?</p>\n\
                     <form method=\"post\" action=\"?{}\">\n\
                     <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n\
                     <button type=\"submit\">Unsubscribe</button>\n</form>",
                    escape_html(user.as_str()),
                    escape_html(&action)
                ),
            )
        }
        Err(err) => {
            log_failure(&request_id(request), endpoint, &err);
            // The message names the field at fault (`token …`).
            (
                status(&err),
                "Cannot unsubscribe",
                format!("<p>{}</p>", escape_html(&err.to_string())),
            )
        }
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{body}\n</body></html>\n"
    );
    let mut response = Response::new(Body::Text(html));
    *response.status_mut() = code;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, UNSUBSCRIBE_PAGE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        // The token is in the URL: no page this one links to may see it.
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id(request)) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// What an unsubscribe answers.
#[derive(Serialize)]
struct Unsubscribed {
    unsubscribed: bool,
}

/// Every handler's skeleton: runs the flow within [`REQUEST_DEADLINE`], then writes its
/// outcome as the documented envelope under `message`. A plain function, not an `async
/// fn`: an `async fn` holds a future it takes by value twice over (as its argument and as
/// what it awaits), and with this and `flows::authenticated` written that way,
/// ticket-create on DynamoDB overflowed the debug server's 2 MiB worker stack.
fn answer<'a, T: Serialize + 'a>(
    request: &'a Request,
    endpoint: Endpoint,
    message: &'a str,
    flow: impl Future<Output = Result<Answer<T>, ApiError>> + 'a,
) -> impl Future<Output = Response<Body>> + 'a {
    tokio::time::timeout(REQUEST_DEADLINE, flow).map(move |outcome| {
        let outcome = outcome.unwrap_or_else(|_| Err(deadline_passed()));
        respond(request, endpoint, message, outcome)
    })
}

/// Reads a send or append request and runs the post flow.
async fn post<S, F, B>(
    store: &S,
    files: &F,
    config: &Config,
    request: &Request,
    endpoint: Endpoint,
) -> Result<Answer<flows::Posted>, ApiError>
where
    S: UserReader + MessageAppender + UploadRegistry,
    F: FileStorage,
    B: CustomerBody<Command = flows::PostMessage>,
{
    let read = customer_request::<B>(request, endpoint)?;
    flows::post(
        store,
        files,
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

/// What a flow that ran past [`REQUEST_DEADLINE`] answers. The handlers therefore need
/// a Tokio runtime with timers, as `#[tokio::main]` builds.
fn deadline_passed() -> ApiError {
    ApiError::Unavailable {
        retry_after: Duration::from_secs(1),
        reason: format!("no answer within {} s", REQUEST_DEADLINE.as_secs()),
    }
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
    use crate::domain::{AttachmentId, ContentType, FileName};
    use crate::domain::{ConversationId, NewMessage, UserId};
    use crate::idempotency::{NewReceipt, Receipt, ReceiptKey};
    use crate::store::{MessageAppender, StoreError, UploadForm, UploadRecord, UserReader};

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
            _: Option<i64>,
            _: Option<&NewReceipt>,
        ) -> Result<(), StoreError> {
            std::future::pending().await
        }
    }

    impl UploadRegistry for Stalled {
        async fn record_upload(&self, _: &UploadRecord) -> Result<(), StoreError> {
            std::future::pending().await
        }

        async fn find_uploads(&self, _: &[AttachmentId]) -> Result<Vec<UploadRecord>, StoreError> {
            std::future::pending().await
        }
    }

    impl FileStorage for Stalled {
        fn upload_form(
            &self,
            _: &str,
            _: ContentType,
            _: u64,
            _: std::time::SystemTime,
        ) -> Result<UploadForm, String> {
            Err("no storage".into())
        }

        async fn stored(&self, _: &str) -> Result<crate::store::Stored, String> {
            std::future::pending().await
        }

        async fn keep(
            &self,
            _: &str,
            _: Option<&str>,
            _: &str,
        ) -> Result<crate::store::Kept, String> {
            std::future::pending().await
        }

        async fn release(&self, _: &str) -> Result<(), String> {
            std::future::pending().await
        }

        fn download_url(
            &self,
            _: &str,
            _: ContentType,
            _: &FileName,
            _: std::time::SystemTime,
        ) -> Result<String, String> {
            Err("no storage".into())
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
            live_chat(&Stalled, &Stalled, &Config::default(), request),
        )
        .await
        .expect("the handler gave up by itself");
        assert_eq!(started.elapsed(), REQUEST_DEADLINE);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}
