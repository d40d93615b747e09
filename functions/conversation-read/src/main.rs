//! The `conversation-read` Lambda function: `POST /api/client/conversations/{id}/read`,
//! the customer's read mark.

use supportzen_shared::http::handlers::conversation_read;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(conversation_read(store, config, request))
    })
    .await
}
