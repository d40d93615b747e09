//! `supportzen invoke`: what `sam local invoke` does, without Docker. Reads an
//! API Gateway HTTP API (payload 2.0) event, runs one function's handler on it and
//! returns the Lambda proxy response API Gateway would receive.

use crate::files::FileStore;
use serde_json::Value;
use supportzen_shared::Config;
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::http::api_gateway::HttpApiResponse;
use supportzen_shared::http::response::as_json_literals;
use supportzen_shared::http::{Backend, dispatch};
use supportzen_shared::s3::S3Objects;

/// Runs the function of `endpoint` on the event JSON and returns the Lambda response as JSON.
pub async fn invoke<S: Backend>(
    store: &S,
    config: &Config,
    endpoint: Endpoint,
    event_json: &str,
) -> Result<Value, String> {
    let request = lambda_http::request::from_str(event_json)
        .map_err(|e| format!("not an API Gateway HTTP API event: {e}"))?;
    // As the Lambda function answers: its JSON written as the string literal API
    // Gateway's answer holds, and that answer written by the same code.
    let response = as_json_literals(async {
        match S3Objects::from_env() {
            Ok(files) => Ok::<_, String>(dispatch(endpoint, store, &files, config, request).await),
            // Without a bucket, links are signed by a local file store that no server
            // serves: enough to see the answers' shape, not to download.
            Err(_) => {
                let dir = std::env::temp_dir().join("supportzen-invoke-files");
                let files = FileStore::open(&dir, "http://127.0.0.1:3000")?;
                Ok(dispatch(endpoint, store, &files, config, request).await)
            }
        }
    })
    .await?;
    serde_json::to_value(HttpApiResponse::from(response))
        .map_err(|e| format!("the answer does not serialize: {e}"))
}
