//! The `agent-attachment-upload` Lambda function: `POST /api/agent/attachments`: declares an agent's upload and answers a signed S3 upload form, for agents whose JWT API Gateway's
//! authorizer verified.

use supportzen_shared::http::handlers::agent_attachment_upload;

/// One request at a time per container: a single-threaded runtime spares the thread
/// start-up and cross-thread wake-ups (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    supportzen_shared::lambda::run_with_files(|store, files, config, request| {
        Box::pin(agent_attachment_upload(store, files, config, request))
    })
    .await
}
