//! The `attachment-upload` Lambda function: `POST /api/client/attachments`: declares a customer's upload and answers a signed S3 upload form.

use supportzen_shared::http::handlers::attachment_upload;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run_with_files(|store, files, config, request| {
        Box::pin(attachment_upload(store, files, config, request))
    })
    .await
}
