//! The `due-work` Lambda function: invoked every minute by an EventBridge schedule
//! (asynchronously: a failed run is retried, then sent to the dead-letter queue), it
//! runs `flows::due::sweep_with` at the invocation's time, as `supportzen serve`'s timer
//! does locally: snoozes wake, customers get an email (SES v2) of agent replies they
//! left unread, and the assignee or the team one of customer messages no agent read. It answers what the sweep did (`flows::due::SweepReport`); a store
//! failure fails the invocation (what was done stays done, and the next sweep finds the
//! rest).

use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::flows::due::{Notices, sweep_with};
use supportzen_shared::notify::NoticeSettings;
use supportzen_shared::ses::SesMailer;

/// One sweep at a time per container.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let store = DynamoStore::from_lambda_env()?;
    let settings = NoticeSettings::from_lookup(|name| std::env::var(name).ok())?;
    let notices = Notices {
        mailer: SesMailer::from_env()?,
        settings,
    };
    lambda_runtime::run(service_fn(|_event: LambdaEvent<serde_json::Value>| {
        let (store, notices) = (&store, &notices);
        async move {
            let report = sweep_with(store, Some(notices), now_millis()).await?;
            tracing::info!(
                woken = report.woken,
                emailed = report.emailed,
                agents_emailed = report.agents_emailed,
                no_address = report.no_address,
                read = report.read,
                unsubscribed = report.unsubscribed,
                failed = report.failed,
                skipped = report.skipped,
                "due work done"
            );
            Ok::<_, Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
