//! The `agent-messages` Lambda function: `GET /api/agent/conversations/{id}/messages`, for agents whose JWT API Gateway's
//! authorizer verified.

use supportzen_shared::http::handlers::agent_messages;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run_with_files(|store, files, _config, request| {
        Box::pin(agent_messages(store, files, request))
    })
    .await
}
