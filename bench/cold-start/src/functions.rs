//! The functions the harness measures, each with its success event and the mark of a
//! successful answer, and the functions it only weighs.

/// One function under test, on one event.
pub struct Function {
    /// How the report, `--only` and `store-calls` (`BENCH_CALLS`) name it: the
    /// bootstrap's name, or for a second event of the same bootstrap, another.
    pub name: &'static str,
    /// The bootstrap, as cargo builds it (the crate under `functions/`).
    pub binary: &'static str,
    /// Its success event.
    pub event: Event,
    /// What every successful answer contains, in the compact JSON `lambda_runtime` sends;
    /// an answer without it stops the run, so a broken stub cannot pass for a fast function.
    pub success: &'static str,
}

/// Where a success event comes from.
pub enum Event {
    /// A sample event: a file relative to the events directory (`--events`).
    Sample(&'static str),
    /// An event of the harness's own, built in: a success that `events/` cannot hold,
    /// because it needs state the replays of `events/` do not have (a message id the
    /// store issued at random, a solved conversation) and the stub has. They live in
    /// `bench/cold-start/events/`, not in `events/`, whose every file `events/expected.json`
    /// and the replays (`cli/tests/cli/events.rs`, `tests/rie/run`) run against a real
    /// store.
    Bench(&'static str),
}

/// An HTTP API function's successful answer (a payload 2.0 response).
const HTTP_OK: &str = r#""statusCode":200"#;

const fn http(name: &'static str, event: &'static str) -> Function {
    Function {
        name,
        binary: name,
        event: Event::Sample(event),
        success: HTTP_OK,
    }
}

/// An HTTP API function on one of the harness's own events.
const fn bench(name: &'static str, event: &'static str) -> Function {
    Function {
        name,
        binary: name,
        event: Event::Bench(event),
        success: HTTP_OK,
    }
}

/// Every measured function: the HTTP API's, in the endpoint table's order
/// (`shared/src/endpoint.rs`; this crate does not depend on `supportzen-shared`, so keep
/// the two in step), then the WebSocket API's `$connect` pair on their own events.
pub const FUNCTIONS: [Function; 24] = [
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
    // A read mark up to the stub's newest message (`…000000000050`), which its count
    // query finds: the customer's on their TKT-001, the agents' on the sample chat.
    bench(
        "conversation-read",
        include_str!("../events/conversation-read.json"),
    ),
    bench("agent-read", include_str!("../events/agent-read.json")),
    // The one-click unsubscribe (one UpdateItem), its token signed with the sample
    // events' unsubscribe secret, which the harness sets; and the link's confirmation
    // page, the same bootstrap on a GET, which makes no store call.
    http("unsubscribe", "unsubscribe.json"),
    Function {
        name: "unsubscribe-page",
        binary: "unsubscribe",
        event: Event::Sample("unsubscribe-page.json"),
        success: HTTP_OK,
    },
    // The profile and a page of the customer's tickets, two queries at once.
    http("agent-customer", "agent-customer.json"),
    // A rating of TKT-003, which the stub has solved.
    bench(
        "conversation-rating",
        include_str!("../events/conversation-rating.json"),
    ),
    // The authorizer allows the connection: an IAM policy, not an HTTP response.
    Function {
        name: "ws-authorize",
        binary: "ws-authorize",
        event: Event::Sample("realtime/ws-authorize.json"),
        success: r#""Effect":"Allow""#,
    },
    // `$connect` only (one PutItem); `$disconnect` (one DeleteItem) is not measured.
    http("ws-connection", "realtime/ws-connection-connect.json"),
];

/// Functions whose bootstraps are weighed but not run: each calls a service the harness
/// does not stub, on its success path.
pub const SIZE_ONLY: [&str; 4] = [
    // API Gateway's Management API (the frames to the sockets) and SQS (webhooks).
    "events-stream",
    // The webhook endpoints over HTTPS, and SQS.
    "webhook-deliver",
    // API Gateway's Management API: the typing frame posted to the other side's sockets.
    "ws-typing",
    // SES v2: its work is the emails (and wakes) a query of each due-work shard finds;
    // a sweep with nothing due would time four empty queries, not that work.
    "due-work",
];
