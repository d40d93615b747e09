//! The `realtime-ticket` Lambda function: `POST /api/client/realtime/ticket`.

use supportzen_shared::http::handlers::realtime_ticket;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(realtime_ticket(store, config, request))
    })
    .await
}
