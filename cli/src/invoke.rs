//! `supportzen invoke`: what `sam local invoke` does, without Docker. Reads an
//! API Gateway HTTP API (payload 2.0) event, runs one function's handler on it and
//! returns the Lambda proxy response API Gateway would receive.

use lambda_http::Body;
use serde_json::{Map, Value, json};
use supportzen_shared::Config;
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::http::{Backend, dispatch};

/// Runs the function of `endpoint` on the event JSON and returns the Lambda response as JSON.
pub async fn invoke<S: Backend>(
    store: &S,
    config: &Config,
    endpoint: Endpoint,
    event_json: &str,
) -> Result<Value, String> {
    let request = lambda_http::request::from_str(event_json)
        .map_err(|e| format!("not an API Gateway HTTP API event: {e}"))?;
    let response = dispatch(endpoint, store, config, request).await;
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
