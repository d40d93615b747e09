//! `supportzen invoke`: what `sam local invoke` does, without Docker. Reads an
//! API Gateway HTTP API (payload 2.0) event, runs one function's handler on it and
//! returns the Lambda proxy response API Gateway would receive.

use crate::files::FileStore;
use lambda_http::Body;
use serde_json::{Map, Value, json};
use supportzen_shared::Config;
use supportzen_shared::endpoint::Endpoint;
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
    let response = match S3Objects::from_env() {
        Ok(files) => dispatch(endpoint, store, &files, config, request).await,
        // Without a bucket, links are signed by a local file store that no server
        // serves: enough to see the answers' shape, not to download.
        Err(_) => {
            let dir = std::env::temp_dir().join("supportzen-invoke-files");
            let files = FileStore::open(&dir, "http://127.0.0.1:3000")?;
            dispatch(endpoint, store, &files, config, request).await
        }
    };
    let (parts, body) = response.into_parts();
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                Value::from(value.to_str().unwrap_or_default()),
            )
        })
        .collect();
    let body = match body {
        Body::Empty => String::new(),
        other => String::from_utf8_lossy(&other).into_owned(),
    };
    Ok(json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": body,
        "isBase64Encoded": false,
    }))
}
