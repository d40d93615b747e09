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
