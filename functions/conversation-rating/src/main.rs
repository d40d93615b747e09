//! The `conversation-rating` Lambda function: `POST /api/client/conversations/{id}/rating`,
//! a customer's rating of one of their solved conversations.

use supportzen_shared::http::handlers::conversation_rating;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(conversation_rating(store, config, request))
    })
    .await
}
