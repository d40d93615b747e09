//! The four endpoints as plain async functions: `Request` in, `Response` out.
//!
//! The Lambda binaries, the local server and `supportzen invoke` all call these, and
//! tests call them directly. Each is generic over only the store traits it needs.

mod conversation;
mod live_chat;
mod live_create;
mod ticket_append;
mod ticket_create;

pub use live_chat::live_chat;
pub use live_create::live_create;
pub use ticket_append::ticket_append;
pub use ticket_create::ticket_create;

use crate::domain::Endpoint;
use crate::error::ApiError;
use crate::response::{Success, failure, success};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::future::Future;
use std::time::Duration;

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
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// Turns a handler's outcome into the documented envelope, logging failures.
/// Internal details go to the log with the request id, never into the body.
fn respond(
    request: &Request,
    endpoint: Endpoint,
    outcome: Result<Success, ApiError>,
) -> Response<Body> {
    let err = match outcome {
        Ok(ok) => return success(ok),
        Err(err) => err,
    };
    let request_id = request_id(request);
    let route = endpoint.as_str();
    match &err {
        ApiError::Internal(detail) => tracing::error!(%request_id, route, detail, "request failed"),
        ApiError::Unavailable { reason, .. } => {
            tracing::warn!(%request_id, route, reason, "store unavailable, asked client to retry")
        }
        _ => {
            tracing::info!(%request_id, route, status = err.status().as_u16(), code = err.code(), "request rejected")
        }
    }
    failure(&err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Secret, sign};
    use crate::config::Config;
    use crate::domain::{ConversationId, NewMessage, UserId};
    use crate::store::{
        MessageAppender, NewReceipt, Receipt, ReceiptKey, StoreError, UserReader, UserRecord,
    };

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
