//! The `unsubscribe` Lambda function: `POST /api/client/unsubscribe?token=…`, the
//! one-click unsubscribe of the unread-reply emails (RFC 8058), and `GET` of the same
//! route, the body link's confirmation page (which changes nothing). No sign-in: the
//! token is an HMAC over the user id with `UNSUBSCRIBE_SECRET`.

use supportzen_shared::http::handlers::unsubscribe;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(unsubscribe(store, config, request))
    })
    .await
}
