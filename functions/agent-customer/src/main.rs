//! The `agent-customer` Lambda function: `GET /api/agent/customers?email=`, a customer's
//! profile and their conversations, for agents whose JWT API Gateway's authorizer
//! verified.

use supportzen_shared::http::handlers::agent_customer;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, _config, request| {
        Box::pin(agent_customer(store, request))
    })
    .await
}
