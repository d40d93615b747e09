//! The `live-chat` Lambda function: `POST /api/client/live/chat`.

use supportzen_shared::http::handlers::live_chat;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run_with_files(|store, files, config, request| {
        Box::pin(live_chat(store, files, config, request))
    })
    .await
}
