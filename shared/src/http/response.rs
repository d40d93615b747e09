//! The one place an outcome becomes HTTP: the status each [`ApiError`] maps to, the
//! `Retry-After` and `Idempotent-Replayed` headers, and the envelope the client API
//! documents, `{"status", "message", "data", "error"}`, always `application/json`.

use super::json_literal;
use crate::error::ApiError;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use std::future::Future;

/// The response header set (to `true`) on an answer that was given before.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

tokio::task_local! {
    /// Set while a Lambda function answers API Gateway ([`as_json_literals`]).
    static AS_JSON_LITERALS: ();
}

/// Runs `answering` with its JSON bodies written as JSON string literals, each marked
/// [`JsonLiteral`]: what API Gateway's response holds as its `body`, so that the answer
/// is written once rather than written and then escaped (`http::json_literal`). Only the
/// Lambda functions ask for it (`lambda.rs`); the local server and the tests read bodies
/// as they are sent.
pub async fn as_json_literals<F: Future>(answering: F) -> F::Output {
    AS_JSON_LITERALS.scope((), answering).await
}

/// The mark of a response whose body is its JSON written as a JSON string literal, quotes
/// included ([`as_json_literals`]). Only this file makes one: a plain body marked so
/// would reach API Gateway as invalid JSON.
#[derive(Clone, Copy, Debug)]
pub struct JsonLiteral(());

#[derive(Serialize)]
struct Envelope<'a, T> {
    status: &'static str,
    message: &'a str,
    data: Option<T>,
    error: Option<ErrorBody<'a>>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// On `conversation_closed`: the customer may open a new conversation that follows
    /// this one up (`follow_up_of` on the create routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    follow_up_allowed: Option<bool>,
}

/// `200` with `{"status":"success","message":…,"data":…,"error":null}`, and
/// `Idempotent-Replayed: true` when the answer is a repeat.
pub fn success<T: Serialize>(message: &str, data: &T, replayed: bool) -> Response<Body> {
    let envelope = Envelope {
        status: "success",
        message,
        data: Some(data),
        error: None,
    };
    let mut response = json(StatusCode::OK, &envelope);
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// The HTTP status of each error.
pub fn status(err: &ApiError) -> StatusCode {
    match err {
        ApiError::InvalidJson(_) | ApiError::InvalidField { .. } => StatusCode::BAD_REQUEST,
        ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Closed(_) | ApiError::Conflict { .. } => StatusCode::CONFLICT,
        ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::TooManyMessages { .. } | ApiError::TooManyNewAccounts { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The error's status with `{"status":"error","message":…,"data":null,"error":{code,message,field?}}`,
/// and `Retry-After` when the client should retry.
///
/// The body of an internal error says only "internal error": the details are for the logs.
pub fn failure(err: &ApiError) -> Response<Body> {
    let follow_up_allowed = matches!(err, ApiError::Closed(_)).then_some(true);
    let mut response = error_envelope(
        status(err),
        err.code(),
        &err.to_string(),
        err.field_name(),
        follow_up_allowed,
    );
    if let Some(wait) = err.retry_after() {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
    }
    response
}

/// An error envelope. [`failure`] builds the API's; the local server builds its own
/// routing errors (no such route, wrong method) with it, which API Gateway answers in
/// production.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    field: Option<&str>,
) -> Response<Body> {
    error_envelope(status, code, message, field, None)
}

fn error_envelope(
    status: StatusCode,
    code: &str,
    message: &str,
    field: Option<&str>,
    follow_up_allowed: Option<bool>,
) -> Response<Body> {
    let envelope = Envelope::<()> {
        status: "error",
        message,
        data: None,
        error: Some(ErrorBody {
            code,
            message,
            field,
            follow_up_allowed,
        }),
    };
    json(status, &envelope)
}

/// Said when an answer's data cannot be written as JSON, which our plain data types never
/// cause; a 500 rather than a panic all the same.
const UNSERIALIZABLE: &str = r#"{"status":"error","message":"internal error","data":null,"error":{"code":"internal_error","message":"internal error"}}"#;

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    // Room for most answers at once (a page of fifty messages is about 13 KB, 15 KB as a
    // literal), rather than growing from 128 bytes by doubling, a copy each time.
    let buffer = Vec::with_capacity(16 * 1024);
    let literal = AS_JSON_LITERALS.try_with(|()| ()).is_ok();
    let written = if literal {
        json_literal::to_literal(body, buffer)
    } else {
        let mut buffer = buffer;
        serde_json::to_writer(&mut buffer, body).map(|()| buffer)
    };
    let written = written
        .map_err(|e| e.to_string())
        .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()));
    let (status, text) = match written {
        Ok(text) => (status, text),
        Err(err) => {
            tracing::error!(%err, "response body does not serialize");
            let text = if literal {
                serde_json::to_string(UNSERIALIZABLE).unwrap_or_default()
            } else {
                UNSERIALIZABLE.to_string()
            };
            (StatusCode::INTERNAL_SERVER_ERROR, text)
        }
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if literal {
        response.extensions_mut().insert(JsonLiteral(()));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::time::Duration;

    fn body_json(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn success_has_exactly_the_documented_envelope() {
        let response = success(
            "Ticket created successfully.",
            &json!({"ticketId": "TKT-001"}),
            false,
        );
        assert_eq!(response.status(), 200);
        assert!(response.headers().get(REPLAYED_HEADER).is_none());
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            body_json(&response),
            json!({"status":"success","message":"Ticket created successfully.","data":{"ticketId":"TKT-001"},"error":null})
        );
    }

    #[tokio::test]
    async fn for_api_gateway_a_body_is_its_json_as_a_string_literal() {
        let data = json!({"text": "say \"hi\"\n"});
        let plain = success("Sent.", &data, false);
        let literal = as_json_literals(async { success("Sent.", &data, false) }).await;
        assert!(plain.extensions().get::<JsonLiteral>().is_none());
        assert!(literal.extensions().get::<JsonLiteral>().is_some());
        let text: String = serde_json::from_slice(literal.body().as_ref()).unwrap();
        assert_eq!(text.as_bytes(), plain.body().as_ref());
        assert_eq!(literal.headers(), plain.headers());
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
        assert_eq!(body["error"]["message"], "email is required");
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
