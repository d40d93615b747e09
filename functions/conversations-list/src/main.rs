//! The `conversations-list` Lambda function: `GET /api/client/conversations`.

use supportzen_shared::http::handlers::conversations_list;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(conversations_list(store, config, request))
    })
    .await
}
