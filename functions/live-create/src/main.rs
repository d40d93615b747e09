//! The `live-create` Lambda function: `POST /api/client/live/create`.

use supportzen_shared::handlers::live_create;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(live_create(store, config, request))
    })
    .await
}
