//! The response envelope the client API documents:
//! `{"status", "message", "data", "error"}`, always `application/json`.

use crate::domain::REPLAYED_HEADER;
use crate::error::ApiError;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// A successful answer: the documented human message and the `data` object.
pub struct Success {
    pub message: &'static str,
    pub data: Value,
    /// The answer was given before, to an earlier request with the same idempotency key.
    pub replayed: bool,
}

/// `200` with `{"status":"success","message":…,"data":…,"error":null}`, and
/// `Idempotent-Replayed: true` when the answer is a repeat.
pub fn success(ok: Success) -> Response<Body> {
    let mut response = envelope(
        StatusCode::OK,
        &json!({
            "status": "success",
            "message": ok.message,
            "data": ok.data,
            "error": null,
        }),
    );
    if ok.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// The error's status with `{"status":"error","message":…,"data":null,"error":{code,message,field?}}`.
///
/// The body of an internal error says only "internal error": the details are for the logs.
pub fn failure(err: &ApiError) -> Response<Body> {
    let message = err.to_string();
    let mut response = envelope(
        err.status(),
        &json!({
            "status": "error",
            "message": message,
            "data": null,
            "error": ErrorBody { code: err.code(), message: message.clone(), field: err.field_name() },
        }),
    );
    if let Some(wait) = err.retry_after() {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
    }
    response
}

fn envelope(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn body_json(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn success_has_exactly_the_documented_envelope() {
        let response = success(Success {
            message: "Ticket created successfully.",
            data: json!({"ticketId": "TKT-001"}),
            replayed: false,
        });
        assert_eq!(response.status(), 200);
        assert!(response.headers().get(REPLAYED_HEADER).is_none());
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            body_json(&response),
            json!({"status":"success","message":"Ticket created successfully.","data":{"ticketId":"TKT-001"},"error":null})
        );
    }

    #[test]
    fn field_errors_name_the_field() {
        let response = failure(&ApiError::field("email", "is required"));
        assert_eq!(response.status(), 400);
        let body = body_json(&response);
        assert_eq!(body["status"], "error");
        assert_eq!(body["data"], Value::Null);
        assert_eq!(body["error"]["code"], "invalid_field");
        assert_eq!(body["error"]["field"], "email");
        assert_eq!(body["error"]["message"], "email: is required");
    }

    #[test]
    fn internal_errors_hide_their_details() {
        let response = failure(&ApiError::Internal("disk I/O error at /var/db".into()));
        assert_eq!(response.status(), 500);
        let text = std::str::from_utf8(response.body().as_ref()).unwrap();
        assert!(!text.contains("disk"), "{text}");
        assert!(body_json(&response)["error"].get("field").is_none());
    }

    #[test]
    fn unavailable_carries_retry_after() {
        let response = failure(&ApiError::Unavailable {
            retry_after: Duration::from_secs(2),
            reason: "throttled".into(),
        });
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(body_json(&response)["error"]["code"], "unavailable");
    }
}
