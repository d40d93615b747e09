//! The functions the harness measures, each with its success event and the mark of a
//! successful answer, and the functions it only weighs.

/// One function under test.
pub struct Function {
    /// The bootstrap's name, as cargo builds it (the crate under `functions/`).
    pub name: &'static str,
    /// Its success event, relative to the events directory.
    pub event: &'static str,
    /// What every successful answer contains, in the compact JSON `lambda_runtime` sends;
    /// an answer without it stops the run, so a broken stub cannot pass for a fast function.
    pub success: &'static str,
}

/// An HTTP API function's successful answer (a payload 2.0 response).
const HTTP_OK: &str = r#""statusCode":200"#;

const fn http(name: &'static str, event: &'static str) -> Function {
    Function {
        name,
        event,
        success: HTTP_OK,
    }
}

/// Every measured function: the HTTP API's, in the endpoint table's order
/// (`shared/src/endpoint.rs`; this crate does not depend on `supportzen-shared`, so keep
/// the two in step), then the WebSocket API's `$connect` pair on their own events.
pub const FUNCTIONS: [Function; 18] = [
    http("live-create", "live-create.json"),
    http("live-chat", "live-chat.json"),
    http("ticket-create", "ticket-create.json"),
    http("ticket-append", "ticket-append.json"),
    http("conversations-list", "conversations-list.json"),
    http("conversation-messages", "conversation-messages.json"),
    http("agent-inbox", "agent-inbox.json"),
    http("agent-conversation", "agent-conversation.json"),
    http("agent-messages", "agent-messages.json"),
    http("agent-reply", "agent-reply.json"),
    http("agent-status", "agent-status.json"),
    http("agent-assign", "agent-assign.json"),
    http("realtime-ticket", "realtime-ticket.json"),
    http("agent-realtime-ticket", "agent-realtime-ticket.json"),
    // They sign an upload form (no S3 call) and record the upload.
    http("attachment-upload", "attachment-upload.json"),
    http("agent-attachment-upload", "agent-attachment-upload.json"),
    // The authorizer allows the connection: an IAM policy, not an HTTP response.
    Function {
        name: "ws-authorize",
        event: "realtime/ws-authorize.json",
        success: r#""Effect":"Allow""#,
    },
    // `$connect` only (one PutItem); `$disconnect` (one DeleteItem) is not measured.
    http("ws-connection", "realtime/ws-connection-connect.json"),
];

/// Functions whose bootstraps are weighed but not run: they call API Gateway's
/// Management API, SQS and webhook endpoints over HTTPS, which the harness does not stub.
pub const SIZE_ONLY: [&str; 2] = ["events-stream", "webhook-deliver"];
