//! The `due-work` Lambda function: invoked every minute by an EventBridge schedule
//! (asynchronously: a failed run is retried, then sent to the dead-letter queue), it
//! runs `flows::due::sweep` at the invocation's time, as `supportzen serve`'s timer does
//! locally. It answers what the sweep did, `{"woken": n, "skipped": m}`; a store failure
//! fails the invocation (what was done stays done, and the next sweep finds the rest).

use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::flows::due::sweep;

/// One sweep at a time per container.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let store = DynamoStore::from_lambda_env()?;
    lambda_runtime::run(service_fn(|_event: LambdaEvent<serde_json::Value>| {
        let store = &store;
        async move {
            let report = sweep(store, now_millis()).await?;
            tracing::info!(
                woken = report.woken,
                skipped = report.skipped,
                "due work done"
            );
            Ok::<_, Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
