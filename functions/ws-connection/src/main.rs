//! The `ws-connection` Lambda function: the WebSocket API's `$connect` and `$disconnect`
//! routes, which list the connection under its subscriber (from the authorizer's
//! context) for API Gateway's two hours, and unlist it.

use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::ws::connection_route;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let store = DynamoStore::from_lambda_env()?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let store = &store;
            async move {
                Ok::<_, Error>(connection_route(store, &event.payload, now_millis()).await)
            }
        },
    ))
    .await
}
