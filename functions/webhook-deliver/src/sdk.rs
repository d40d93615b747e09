//! The SQS side of [`crate::handle`]: setting a received message's wait before its next
//! attempt. On the shared HTTPS client (rustls on ring) of `dynamo::client`.

use crate::Visibility;
use aws_sdk_sqs::error::DisplayErrorContext;
use std::time::Duration;

/// SQS hides a message for at most 12 hours; every wait of the schedule is shorter.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// The webhook queue.
pub struct SqsVisibility {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsVisibility {
    pub fn new(config: &aws_config::SdkConfig, url: String) -> Self {
        SqsVisibility {
            client: aws_sdk_sqs::Client::new(config),
            url,
        }
    }
}

impl Visibility for SqsVisibility {
    async fn hide_for(&self, receipt_handle: &str, wait: Duration) -> Result<(), String> {
        let seconds = i32::try_from(wait.min(MAX_VISIBILITY).as_secs())
            .expect("twelve hours of seconds fit an i32");
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DisplayErrorContext(&e).to_string())
    }
}
