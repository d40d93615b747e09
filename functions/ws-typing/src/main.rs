//! The `ws-typing` Lambda function: the WebSocket API's `typing` route (see the library).

// The SDK's futures nest deeper than rustc's default limit allows for their layout.
#![recursion_limit = "256"]

use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::{DynamoStore, client};
use ws_typing::handle;
use ws_typing::sdk::ManagementApi;

/// One frame at a time per container; its posts overlap on one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let lookup = |name: &str| std::env::var(name).ok();
    let endpoint = lookup("WEBSOCKET_ENDPOINT").ok_or("WEBSOCKET_ENDPOINT is not set")?;
    let store = DynamoStore::from_lambda_env()?;
    let config = client::lambda_sdk_config(lookup)?;
    let sockets = ManagementApi::new(&config, &endpoint);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let (store, sockets) = (&store, &sockets);
            async move { Ok::<_, Error>(handle(store, sockets, &event.payload, now_millis()).await) }
        },
    ))
    .await
}
