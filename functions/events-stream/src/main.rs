//! The `events-stream` Lambda function: the table's DynamoDB stream (`NEW_AND_OLD_IMAGES`)
//! as events, pushed to the WebSocket API's connections and queued for webhooks (see
//! the library). Reports failed records (`ReportBatchItemFailures`).

// The SDK's futures nest deeper than rustc's default limit allows for their layout.
#![recursion_limit = "256"]

use aws_lambda_events::dynamodb::Event;
use events_stream::handle;
use events_stream::sdk::{ManagementApi, SqsQueue};
use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::{DynamoStore, client};
use supportzen_shared::metrics::{self, Counters};

/// One batch at a time per container; its posts overlap on one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let lookup = |name: &str| std::env::var(name).ok();
    let required = |name: &str| lookup(name).ok_or_else(|| format!("{name} is not set"));
    let store = DynamoStore::from_lambda_env()?;
    let config = client::lambda_sdk_config(lookup)?;
    let sockets = ManagementApi::new(&config, &required("WEBSOCKET_ENDPOINT")?);
    let queue = SqsQueue::new(&config, required("WEBHOOK_QUEUE_URL")?);
    let namespace = metrics::namespace_from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let (store, sockets, queue, namespace) = (&store, &sockets, &queue, namespace.as_deref());
        async move {
            let (now, counters) = (now_millis(), Counters::default());
            let response =
                handle(store, sockets, queue, event.payload.records, now, &counters).await;
            counters.emit(namespace, now);
            Ok::<_, Error>(response)
        }
    }))
    .await
}
