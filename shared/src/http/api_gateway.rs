//! The answer a Lambda function gives API Gateway's HTTP API: payload format 2.0's
//! `statusCode`, `headers`, `cookies`, `isBase64Encoded` and `body`. A body already
//! written as a JSON string literal ([`JsonLiteral`]) goes in as it is instead of being
//! escaped a second time. Otherwise as `lambda_http` writes it, but that a header given
//! more than once has its values joined with commas (as the HTTP API's own payload does;
//! `lambda_http` keeps the first), a value or cookie that is not UTF-8 is written lossily
//! rather than failing the answer, and the empty `multiValueHeaders`, which the HTTP API
//! ignores, is left out.

use super::response::JsonLiteral;
use lambda_http::Body;
use lambda_http::http::header::SET_COOKIE;
use lambda_http::http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use std::borrow::Cow;

/// A handler's response as API Gateway's HTTP API reads it.
#[derive(Debug)]
pub struct HttpApiResponse {
    status: StatusCode,
    headers: HeaderMap,
    /// `Set-Cookie` values: the HTTP API takes them here, not among the headers.
    cookies: Vec<String>,
    body: Body,
    /// The body is a [`JsonLiteral`].
    literal: bool,
}

impl From<Response<Body>> for HttpApiResponse {
    fn from(response: Response<Body>) -> Self {
        let (mut parts, body) = response.into_parts();
        let literal = parts.extensions.remove::<JsonLiteral>().is_some();
        let cookies = parts
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|cookie| String::from_utf8_lossy(cookie.as_bytes()).into_owned())
            .collect();
        parts.headers.remove(SET_COOKIE);
        HttpApiResponse {
            status: parts.status,
            headers: parts.headers,
            cookies,
            literal: literal && matches!(body, Body::Text(_)),
            body,
        }
    }
}

impl Serialize for HttpApiResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut answer = serializer.serialize_struct("HttpApiResponse", 5)?;
        answer.serialize_field("statusCode", &self.status.as_u16())?;
        answer.serialize_field("headers", &Headers(&self.headers))?;
        answer.serialize_field("cookies", &self.cookies)?;
        let binary = matches!(self.body, Body::Binary(_));
        answer.serialize_field("isBase64Encoded", &binary)?;
        match &self.body {
            Body::Empty => answer.skip_field("body")?,
            Body::Text(text) if self.literal => answer.serialize_field("body", &RawJson(text))?,
            // Text as a string, bytes in base64, as `lambda_http` writes them.
            body => answer.serialize_field("body", body)?,
        }
        answer.end()
    }
}

/// Each header once, its values joined with commas, as the HTTP API combines them.
struct Headers<'a>(&'a HeaderMap);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            let mut values = self.0.get_all(name).iter();
            let first = values.next().map(text).unwrap_or_default();
            match values.next() {
                None => map.serialize_entry(name.as_str(), &first)?,
                Some(second) => {
                    let mut joined = [first, text(second)].join(",");
                    for value in values {
                        joined.push(',');
                        joined.push_str(&text(value));
                    }
                    map.serialize_entry(name.as_str(), &joined)?
                }
            }
        }
        map.end()
    }
}

fn text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

/// The name `serde_json` gives the one field of its `RawValue`'s serialized form.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Text that is JSON already, written as it is, the way `serde_json` writes its own
/// `RawValue`. Making a `RawValue` would check the text first, a scan that costs as much
/// as the escaping it saves (docs/performance.md). The runtime writes the answer with
/// `serde_json`; `a_literal_body_goes_in_as_it_is` below fails if it stops reading this.
struct RawJson<'a>(&'a str);

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.0)?;
        raw.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::{as_json_literals, success};
    use serde_json::{Value, json};

    fn answer(response: Response<Body>) -> Value {
        serde_json::from_slice(&serde_json::to_vec(&HttpApiResponse::from(response)).unwrap())
            .unwrap()
    }

    #[tokio::test]
    async fn a_literal_body_goes_in_as_it_is() {
        let data = json!({"text": "say \"hi\"\n", "path": "C:\\temp"});
        let plain = success("Sent.", &data, true);
        let literal = as_json_literals(async { success("Sent.", &data, true) }).await;
        let bytes = serde_json::to_vec(&HttpApiResponse::from(literal)).unwrap();
        let written = String::from_utf8(bytes).unwrap();
        let expected = format!(
            r#"{{"statusCode":200,"headers":{{"content-type":"application/json","idempotent-replayed":"true"}},"cookies":[],"isBase64Encoded":false,"body":{}}}"#,
            serde_json::to_string(std::str::from_utf8(plain.body().as_ref()).unwrap()).unwrap()
        );
        assert_eq!(written, expected);
    }

    #[test]
    fn other_text_is_escaped_as_lambda_http_escapes_it() {
        let mut response = Response::new(Body::Text("<p>\"Unsubscribed\"</p>".into()));
        *response.status_mut() = StatusCode::OK;
        assert_eq!(
            answer(response),
            json!({"statusCode": 200, "headers": {}, "cookies": [], "isBase64Encoded": false,
                   "body": "<p>\"Unsubscribed\"</p>"})
        );
    }

    #[test]
    fn an_empty_body_is_left_out_and_bytes_go_in_base64() {
        let mut empty = Response::new(Body::Empty);
        *empty.status_mut() = StatusCode::NO_CONTENT;
        assert_eq!(
            answer(empty),
            json!({"statusCode": 204, "headers": {}, "cookies": [], "isBase64Encoded": false})
        );
        let binary = Response::new(Body::Binary(vec![0, 159, 146, 150]));
        let written = answer(binary);
        assert_eq!(written["isBase64Encoded"], true);
        assert_eq!(written["body"], "AJ+Slg==");
    }

    #[test]
    fn cookies_go_apart_and_repeated_headers_are_joined() {
        let mut response = Response::new(Body::Empty);
        let headers = response.headers_mut();
        headers.append(SET_COOKIE, HeaderValue::from_static("a=1; Secure"));
        headers.append(SET_COOKIE, HeaderValue::from_static("b=2"));
        headers.append("vary", HeaderValue::from_static("origin"));
        headers.append("vary", HeaderValue::from_static("accept"));
        let written = answer(response);
        assert_eq!(written["cookies"], json!(["a=1; Secure", "b=2"]));
        assert_eq!(written["headers"], json!({"vary": "origin,accept"}));
    }
}
