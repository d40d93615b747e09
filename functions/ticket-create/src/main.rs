//! The `ticket-create` Lambda function: `POST /api/client/ticket/create`.

use supportzen_shared::handlers::ticket_create;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(ticket_create(store, config, request))
    })
    .await
}
