//! The `webhook-deliver` Lambda function: the webhook queue's messages, one Standard
//! Webhooks delivery attempt each (see the library). Reports the messages to keep
//! (`ReportBatchItemFailures`).

// The SDK's futures nest deeper than rustc's default limit allows for their layout.
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::{DynamoStore, client};
use supportzen_shared::metrics::{self, Counters};
use supportzen_shared::webhook_client::WebhookClient;
use webhook_deliver::handle;
use webhook_deliver::sdk::SqsVisibility;

/// One batch at a time per container; its attempts overlap on one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let lookup = |name: &str| std::env::var(name).ok();
    let queue_url = lookup("WEBHOOK_QUEUE_URL").ok_or("WEBHOOK_QUEUE_URL is not set")?;
    let store = DynamoStore::from_lambda_env()?;
    let queue = SqsVisibility::new(&client::lambda_sdk_config(lookup)?, queue_url);
    // 127.0.0.1:9001 is the Lambda Runtime API, not a receiver.
    let webhooks = WebhookClient::new()?.refusing_local_addresses();
    let namespace = metrics::namespace_from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (store, webhooks, queue, namespace) = (&store, &webhooks, &queue, namespace.as_deref());
        async move {
            let counters = Counters::default();
            let response = handle(store, webhooks, queue, event.payload.records, &counters).await;
            counters.emit(namespace, now_millis());
            Ok::<_, Error>(response)
        }
    }))
    .await
}
