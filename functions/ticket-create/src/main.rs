//! The `ticket-create` Lambda function: `POST /api/client/ticket/create`.

use supportzen_shared::http::handlers::ticket_create;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run_with_files(|store, files, config, request| {
        Box::pin(ticket_create(store, files, config, request))
    })
    .await
}
