//! The `agent-read` Lambda function: `POST /api/agent/conversations/{id}/read`, the agents'
//! shared read mark, for agents whose JWT API Gateway's authorizer verified.

use supportzen_shared::http::handlers::agent_read;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, _config, request| Box::pin(agent_read(store, request)))
        .await
}
