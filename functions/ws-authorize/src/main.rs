//! The `ws-authorize` Lambda function: the WebSocket API's `$connect` authorizer
//! (REQUEST, identity source `route.request.querystring.ticket`). It redeems the connect
//! ticket (single use) and allows the connection with its subscriber in the context, or
//! fails with `Unauthorized`, which API Gateway answers 401.

use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::ws::{Refused, authorize};

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let store = DynamoStore::from_lambda_env()?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
            let store = &store;
            async move {
                let decided = authorize(store, &event.payload, now_millis()).await;
                match &decided {
                    Ok(_) => tracing::info!("connect ticket redeemed"),
                    Err(Refused::Unauthorized) => tracing::info!("connect ticket refused"),
                    Err(err) => tracing::error!(error = %err, "connect ticket not redeemed"),
                }
                decided
            }
        },
    ))
    .await
}
