//! The `ticket-append` Lambda function: `POST /api/client/ticket/append`.

use supportzen_shared::handlers::ticket_append;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(ticket_append(store, config, request))
    })
    .await
}
