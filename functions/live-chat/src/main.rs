//! The `live-chat` Lambda function: `POST /api/client/live/chat`.

use supportzen_shared::handlers::live_chat;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run(|store, config, request| {
        Box::pin(live_chat(store, config, request))
    })
    .await
}
