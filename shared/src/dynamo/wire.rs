//! DynamoDB's reads (`GetItem`, `BatchGetItem`, `Query`) sent by us: the JSON protocol,
//! signed with Signature Version 4, over the HTTP client the SDK's writes use too
//! ([`AwsHttp`]).
//!
//! Why not the SDK: on a cold container its first calls were most of a read route's
//! cold start (docs/performance.md, issue 21): its orchestrator, endpoint rules and
//! identity cache run for the first time, and its JSON reader fills a map per item
//! through code that nothing else touches. A read is a request body, a signature and a
//! parse into the SDK's own `AttributeValue`s, so the aggregates' decoders are
//! unchanged. Writes, with their conditions and cancellation reasons, stay with the SDK.
//!
//! The reads follow the SDK client's own configuration: its region, its credentials
//! provider, its retry settings (attempts, backoff) and its timeouts (per attempt, per
//! call). They retry throttling (the codes `errors::is_retryable_code` lists), any 5xx,
//! an expired token, and no answer; after the last attempt those are 503s, as a
//! missing table is at once. An answer that cannot be read is a 503 too, as the SDK's
//! `ResponseError` is; anything else DynamoDB refuses is a 500.

use super::errors::{is_retryable_code, unavailable};
use super::items::Item;
use super::table::{QueryPage, random_below};
use crate::aws_http::{self, AwsHttp, Unanswered};
use crate::store::StoreError;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_dynamodb::operation::query::builders::QueryInputBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sigv4::http_request::{SignableBody, SigningSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Credentials are fetched again this long before they expire.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// How the reads retry and how long they wait: the SDK client's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patience {
    /// Attempts at one call, the first included.
    pub attempts: u32,
    /// The ceiling of the first retry's random wait; it doubles for each retry after.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub attempt_timeout: Option<Duration>,
    pub call_timeout: Option<Duration>,
}

impl Patience {
    /// The settings of a built SDK configuration (the SDK's defaults where it has none).
    pub fn of(config: &aws_sdk_dynamodb::Config) -> Self {
        let retry = config
            .retry_config()
            .cloned()
            .unwrap_or_else(aws_smithy_types::retry::RetryConfig::standard);
        let timeouts = config.timeout_config();
        Patience {
            attempts: retry.max_attempts().max(1),
            initial_backoff: retry.initial_backoff(),
            max_backoff: retry.max_backoff(),
            attempt_timeout: timeouts.and_then(|t| t.operation_attempt_timeout()),
            call_timeout: timeouts.and_then(|t| t.operation_timeout()),
        }
    }

    /// Full jitter: a random wait below `initial_backoff` × 2^(retry - 1), at most
    /// `max_backoff`. The randomness is a UUIDv7's random bits.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(self.max_backoff);
        ceiling.mul_f64(random_below(1_000_000) as f64 / 1_000_000.0)
    }
}

/// Where reads go and what signs them. Cloning shares the client and the credentials.
#[derive(Clone)]
pub struct WireReads {
    http: AwsHttp,
    /// Where every request goes: the endpoint's root, `https://…/`.
    url: Arc<str>,
    region: Arc<str>,
    credentials: SharedCredentialsProvider,
    /// The last credentials the provider gave, until they are near their expiry.
    cached: Arc<tokio::sync::Mutex<Option<Credentials>>>,
    patience: Patience,
}

impl fmt::Debug for WireReads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireReads")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

impl WireReads {
    /// Reads at `endpoint` (e.g. `https://dynamodb.eu-west-1.amazonaws.com`) in `region`,
    /// signed with what `credentials` provides.
    pub fn new(
        http: AwsHttp,
        endpoint: &str,
        region: &str,
        credentials: SharedCredentialsProvider,
        patience: Patience,
    ) -> Self {
        WireReads {
            http,
            url: format!("{}/", endpoint.trim_end_matches('/')).into(),
            region: region.into(),
            credentials,
            cached: Arc::default(),
            patience,
        }
    }

    /// `GetItem`, strongly consistent.
    pub(super) async fn get_item(
        &self,
        table: &str,
        key: &Item,
        projection: Option<&str>,
        operation: &str,
    ) -> Result<Option<Item>, StoreError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct GetItem<'a> {
            table_name: &'a str,
            key: WireItem<'a>,
            consistent_read: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            projection_expression: Option<&'a str>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            item: Option<ItemIn>,
        }
        let body = GetItem {
            table_name: table,
            key: WireItem(key),
            consistent_read: true,
            projection_expression: projection,
        };
        let answer: Answer = self.call("GetItem", &body, operation).await?;
        Ok(answer.item.map(|i| i.0))
    }

    /// `BatchGetItem` of `keys` in `table`, strongly consistent: what it found, and the
    /// keys DynamoDB left unprocessed.
    pub(super) async fn batch_get_item(
        &self,
        table: &str,
        keys: &[Item],
        projection: Option<&str>,
        operation: &str,
    ) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Keys<'a> {
            keys: Vec<WireItem<'a>>,
            consistent_read: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            projection_expression: Option<&'a str>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct BatchGet<'a> {
            request_items: HashMap<&'a str, Keys<'a>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Unprocessed {
            #[serde(default)]
            keys: Vec<ItemIn>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[serde(default)]
            responses: HashMap<String, Vec<ItemIn>>,
            #[serde(default)]
            unprocessed_keys: HashMap<String, Unprocessed>,
        }
        let keys = Keys {
            keys: keys.iter().map(WireItem).collect(),
            consistent_read: true,
            projection_expression: projection,
        };
        let body = BatchGet {
            request_items: HashMap::from([(table, keys)]),
        };
        let mut answer: Answer = self.call("BatchGetItem", &body, operation).await?;
        let found = answer.responses.remove(table).unwrap_or_default();
        let rest = answer
            .unprocessed_keys
            .remove(table)
            .map(|u| u.keys)
            .unwrap_or_default();
        Ok((
            found.into_iter().map(|i| i.0).collect(),
            rest.into_iter().map(|i| i.0).collect(),
        ))
    }

    /// One page of the query `input` describes, from `start`.
    pub(super) async fn query(
        &self,
        table: &str,
        input: &QueryInputBuilder,
        start: Option<&Item>,
        operation: &str,
    ) -> Result<QueryPage, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[serde(default)]
            items: Vec<ItemIn>,
            last_evaluated_key: Option<ItemIn>,
        }
        let body = QueryRequest::of(table, input, start)
            .map_err(|e| StoreError::Internal(format!("{operation}: {e}")))?;
        let answer: Answer = self.call("Query", &body, operation).await?;
        Ok(QueryPage {
            items: answer.items.into_iter().map(|i| i.0).collect(),
            next: answer.last_evaluated_key.map(|i| i.0),
        })
    }

    /// Sends `body` as `target`, retrying what may succeed later, and parses the answer.
    async fn call<B: Serialize, A: for<'de> Deserialize<'de>>(
        &self,
        target: &str,
        body: &B,
        operation: &str,
    ) -> Result<A, StoreError> {
        let body = Bytes::from(
            serde_json::to_vec(body)
                .map_err(|e| StoreError::Internal(format!("{operation}: {e}")))?,
        );
        let attempts = async {
            let mut attempt = 1;
            loop {
                let outcome = within(self.patience.attempt_timeout, self.attempt(target, &body))
                    .await
                    .unwrap_or_else(|| {
                        Err(Failure::Transient(
                            "DynamoDB did not answer in time".to_string(),
                        ))
                    });
                match outcome {
                    Ok(answer) => {
                        // As the SDK classes an answer it cannot read (a `ResponseError`):
                        // a body cut short by a proxy reads the same.
                        return serde_json::from_slice(&answer).map_err(|e| {
                            unavailable(format!(
                                "{operation}: DynamoDB's answer is not understood: {e}"
                            ))
                        });
                    }
                    Err(Failure::Transient(_)) if attempt < self.patience.attempts => {
                        tokio::time::sleep(self.patience.backoff(attempt)).await;
                        attempt += 1;
                    }
                    Err(Failure::Transient(reason) | Failure::Missing(reason)) => {
                        return Err(unavailable(format!("{operation}: {reason}")));
                    }
                    Err(Failure::Refused(reason)) => {
                        return Err(StoreError::Internal(format!("{operation}: {reason}")));
                    }
                }
            }
        };
        within(self.patience.call_timeout, attempts)
            .await
            .unwrap_or_else(|| {
                Err(unavailable(format!(
                    "{operation}: DynamoDB did not answer in time"
                )))
            })
    }

    /// One signed request and its whole answer.
    async fn attempt(&self, target: &str, body: &Bytes) -> Result<Bytes, Failure> {
        let mut request = Request::post(&*self.url)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{target}"))
            .body(Full::new(body.clone()))
            .map_err(|e| Failure::Refused(format!("not a request: {e}")))?;
        let credentials = self.credentials().await?;
        self.sign(&mut request, body, credentials)
            .map_err(Failure::Refused)?;
        let response = self.http.send(request).await.map_err(|e| match e.kind {
            Unanswered::Connect => Failure::Transient(format!("cannot connect to DynamoDB: {e}")),
            Unanswered::ConnectTimeout => {
                Failure::Transient("timed out connecting to DynamoDB".to_string())
            }
            Unanswered::BrokenOff => Failure::Transient(format!("no answer from DynamoDB: {e}")),
            Unanswered::TooLarge => Failure::Refused(format!("DynamoDB's answer: {e}")),
        })?;
        let status = response.status();
        let answer = response.into_body();
        if status.is_success() {
            return Ok(answer);
        }
        let (code, message) = error_code(&answer);
        let reason = match (&code, &message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            _ => format!("DynamoDB answered {status}"),
        };
        if is_credentials_refusal(code.as_deref()) {
            self.forget_credentials().await;
        }
        if status.is_server_error()
            || is_retryable_code(code.as_deref())
            || code.as_deref() == Some("ExpiredTokenException")
        {
            Err(Failure::Transient(reason))
        } else if code.as_deref() == Some("ResourceNotFoundException") {
            Err(Failure::Missing(reason))
        } else {
            Err(Failure::Refused(reason))
        }
    }

    /// The credentials to sign with: the last ones the provider gave while they are
    /// good for [`CREDENTIALS_MARGIN`] more, else new ones. One refresh at a time: reads
    /// waiting for it take what it fetched.
    async fn credentials(&self) -> Result<Credentials, Failure> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + CREDENTIALS_MARGIN)
        };
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            let reason = format!(
                "no AWS credentials to sign with: {}",
                aws_http::innermost(&e)
            );
            // None were found: a configuration to mend, which no retry changes.
            if matches!(e, CredentialsError::CredentialsNotLoaded(_)) {
                Failure::Refused(reason)
            } else {
                Failure::Transient(reason)
            }
        })?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    /// Drops the cached credentials after DynamoDB refused them, so that the next
    /// attempt asks the provider again.
    async fn forget_credentials(&self) {
        *self.cached.lock().await = None;
    }

    fn sign(
        &self,
        request: &mut Request<Full<Bytes>>,
        body: &[u8],
        credentials: Credentials,
    ) -> Result<(), String> {
        aws_http::sign(
            request,
            SignableBody::Bytes(body),
            &Identity::from(credentials),
            ("dynamodb", &self.region),
            SigningSettings::default(),
            SystemTime::now(),
        )
    }
}

/// A `Query` request: what the SDK's builder describes, written as the SDK would.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryRequest<'a> {
    table_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    select: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consistent_read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scan_index_forward: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusive_start_key: Option<WireItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    projection_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_condition_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression_attribute_names: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression_attribute_values: Option<WireItem<'a>>,
}

impl<'a> QueryRequest<'a> {
    /// The request for `input` on `table`, from `start`. The legacy parameters
    /// (`KeyConditions`, `QueryFilter`, ...) and consumed-capacity reports are refused
    /// rather than dropped: no query here uses them.
    fn of(
        table: &'a str,
        input: &'a QueryInputBuilder,
        start: Option<&'a Item>,
    ) -> Result<Self, &'static str> {
        if input.get_key_conditions().is_some()
            || input.get_query_filter().is_some()
            || input.get_attributes_to_get().is_some()
            || input.get_conditional_operator().is_some()
            || input.get_return_consumed_capacity().is_some()
        {
            return Err("a query with a parameter these reads do not send");
        }
        Ok(QueryRequest {
            table_name: table,
            index_name: input.get_index_name().as_deref(),
            select: input.get_select().as_ref().map(|s| s.as_str()),
            limit: *input.get_limit(),
            consistent_read: *input.get_consistent_read(),
            scan_index_forward: *input.get_scan_index_forward(),
            exclusive_start_key: start.map(WireItem),
            projection_expression: input.get_projection_expression().as_deref(),
            filter_expression: input.get_filter_expression().as_deref(),
            key_condition_expression: input.get_key_condition_expression().as_deref(),
            expression_attribute_names: input.get_expression_attribute_names().as_ref(),
            expression_attribute_values: input
                .get_expression_attribute_values()
                .as_ref()
                .map(WireItem),
        })
    }
}

/// `work`'s output, or `None` if `limit` passed first (never, without a limit).
async fn within<T>(limit: Option<Duration>, work: impl Future<Output = T>) -> Option<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work).await.ok(),
        None => Some(work.await),
    }
}

/// Why an attempt failed.
enum Failure {
    /// Throttled, a server error, or no answer: another attempt may succeed.
    Transient(String),
    /// The table is not there: an outage, not a bug, and not retried.
    Missing(String),
    /// DynamoDB refused the request itself: a bug or a misconfiguration.
    Refused(String),
}

/// Whether DynamoDB refused the request's credentials (expired, unknown, or the
/// signature not theirs): new ones may be needed.
fn is_credentials_refusal(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ExpiredTokenException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "IncompleteSignatureException"
        )
    )
}

/// The error's code (after the `#` of `__type`) and message, as DynamoDB's JSON
/// protocol answers them.
fn error_code(answer: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    struct Error {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    match serde_json::from_slice::<Error>(answer) {
        Ok(error) => (
            error
                .kind
                .map(|kind| kind.rsplit('#').next().unwrap_or_default().to_string()),
            error.message,
        ),
        Err(_) => (None, None),
    }
}

/// An item read from DynamoDB's JSON straight into the SDK's attribute values (which
/// the aggregates' decoders take): `{"name": {"S": "..."}, ...}`.
struct ItemIn(Item);

impl<'de> Deserialize<'de> for ItemIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Attributes;
        impl<'de> Visitor<'de> for Attributes {
            type Value = ItemIn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an item's attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ItemIn, A::Error> {
                let mut item = Item::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((name, ValueIn(value))) = map.next_entry::<String, ValueIn>()? {
                    item.insert(name, value);
                }
                Ok(ItemIn(item))
            }
        }
        deserializer.deserialize_map(Attributes)
    }
}

/// One attribute value in DynamoDB's JSON: `{"S": "..."}`, numbers as strings, binary
/// as base64.
struct ValueIn(AttributeValue);

impl<'de> Deserialize<'de> for ValueIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Tagged;
        impl<'de> Visitor<'de> for Tagged {
            type Value = ValueIn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attribute value such as {\"S\": \"...\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueIn, A::Error> {
                use serde::de::Error;
                let tag: String = map
                    .next_key()?
                    .ok_or_else(|| A::Error::custom("an attribute value with no type"))?;
                let value = match tag.as_str() {
                    "S" => AttributeValue::S(map.next_value()?),
                    "N" => AttributeValue::N(map.next_value()?),
                    "B" => AttributeValue::B(blob::<A::Error>(&map.next_value::<String>()?)?),
                    "BOOL" => AttributeValue::Bool(map.next_value()?),
                    "NULL" => AttributeValue::Null(map.next_value()?),
                    "M" => AttributeValue::M(map.next_value::<ItemIn>()?.0),
                    "L" => AttributeValue::L(
                        map.next_value::<Vec<ValueIn>>()?
                            .into_iter()
                            .map(|v| v.0)
                            .collect(),
                    ),
                    "SS" => AttributeValue::Ss(map.next_value()?),
                    "NS" => AttributeValue::Ns(map.next_value()?),
                    "BS" => AttributeValue::Bs(
                        map.next_value::<Vec<String>>()?
                            .iter()
                            .map(|b| blob::<A::Error>(b))
                            .collect::<Result<_, _>>()?,
                    ),
                    other => return Err(A::Error::custom(format!("an attribute of type {other}"))),
                };
                if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom("an attribute value with two types"));
                }
                Ok(ValueIn(value))
            }
        }
        deserializer.deserialize_map(Tagged)
    }
}

fn blob<E: serde::de::Error>(base64: &str) -> Result<Blob, E> {
    STANDARD
        .decode(base64)
        .map(Blob::new)
        .map_err(|e| E::custom(format!("binary that is not base64: {e}")))
}

/// An item written in DynamoDB's JSON.
struct WireItem<'a>(&'a Item);

impl Serialize for WireItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, &Wire(value))?;
        }
        map.end()
    }
}

/// One attribute value written in DynamoDB's JSON.
struct Wire<'a>(&'a AttributeValue);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::S(s) => map.serialize_entry("S", s)?,
            AttributeValue::N(n) => map.serialize_entry("N", n)?,
            AttributeValue::B(b) => map.serialize_entry("B", &STANDARD.encode(b.as_ref()))?,
            AttributeValue::Bool(b) => map.serialize_entry("BOOL", b)?,
            AttributeValue::Null(b) => map.serialize_entry("NULL", b)?,
            AttributeValue::M(m) => map.serialize_entry("M", &WireItem(m))?,
            AttributeValue::L(l) => map.serialize_entry("L", &WireList(l))?,
            AttributeValue::Ss(ss) => map.serialize_entry("SS", ss)?,
            AttributeValue::Ns(ns) => map.serialize_entry("NS", ns)?,
            AttributeValue::Bs(bs) => {
                let encoded: Vec<String> = bs.iter().map(|b| STANDARD.encode(b.as_ref())).collect();
                map.serialize_entry("BS", &encoded)?
            }
            other => {
                return Err(serde::ser::Error::custom(format!(
                    "an attribute value this client cannot write: {other:?}"
                )));
            }
        }
        map.end()
    }
}

struct WireList<'a>(&'a [AttributeValue]);

impl Serialize for WireList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for value in self.0 {
            seq.serialize_element(&Wire(value))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Item {
        let nested: Item = HashMap::from([("inner".to_string(), AttributeValue::N("-1.5".into()))]);
        HashMap::from([
            (
                "s".to_string(),
                AttributeValue::S("ünïcode \"quoted\"".into()),
            ),
            ("n".to_string(), AttributeValue::N("42".into())),
            (
                "b".to_string(),
                AttributeValue::B(Blob::new(vec![0, 159, 255])),
            ),
            ("t".to_string(), AttributeValue::Bool(true)),
            ("null".to_string(), AttributeValue::Null(true)),
            ("m".to_string(), AttributeValue::M(nested)),
            (
                "l".to_string(),
                AttributeValue::L(vec![
                    AttributeValue::S("a".into()),
                    AttributeValue::Bool(false),
                ]),
            ),
            (
                "ss".to_string(),
                AttributeValue::Ss(vec!["x".into(), "y".into()]),
            ),
            (
                "ns".to_string(),
                AttributeValue::Ns(vec!["1".into(), "2".into()]),
            ),
            (
                "bs".to_string(),
                AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2, 3])]),
            ),
        ])
    }

    #[test]
    fn every_kind_of_attribute_value_is_written_as_dynamodb_writes_it_and_read_back() {
        let item = every_kind();
        let written = serde_json::to_value(WireItem(&item)).unwrap();
        assert_eq!(written["s"], serde_json::json!({"S": "ünïcode \"quoted\""}));
        assert_eq!(written["n"], serde_json::json!({"N": "42"}));
        assert_eq!(written["b"], serde_json::json!({"B": "AJ//"}));
        assert_eq!(written["t"], serde_json::json!({"BOOL": true}));
        assert_eq!(written["null"], serde_json::json!({"NULL": true}));
        assert_eq!(
            written["m"],
            serde_json::json!({"M": {"inner": {"N": "-1.5"}}})
        );
        assert_eq!(
            written["l"],
            serde_json::json!({"L": [{"S": "a"}, {"BOOL": false}]})
        );
        assert_eq!(written["ss"], serde_json::json!({"SS": ["x", "y"]}));
        assert_eq!(written["ns"], serde_json::json!({"NS": ["1", "2"]}));
        assert_eq!(written["bs"], serde_json::json!({"BS": ["AQ==", "AgM="]}));
        let read: ItemIn = serde_json::from_value(written).unwrap();
        assert_eq!(read.0, item);
    }

    #[test]
    fn a_value_of_no_type_two_types_or_an_unknown_type_is_not_understood() {
        for bad in [
            r#"{"a": {}}"#,
            r#"{"a": {"S": "x", "N": "1"}}"#,
            r#"{"a": {"X": "x"}}"#,
            r#"{"a": {"B": "not base64!"}}"#,
            r#"{"a": {"N": 1}}"#,
        ] {
            assert!(serde_json::from_str::<ItemIn>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_query_is_sent_with_everything_its_builder_set() {
        use aws_sdk_dynamodb::operation::query::QueryInput;
        use aws_sdk_dynamodb::types::Select;
        let input = QueryInput::builder()
            .index_name("gsi1")
            .select(Select::SpecificAttributes)
            .limit(21)
            .consistent_read(true)
            .scan_index_forward(false)
            .projection_expression("#a0")
            .filter_expression("attribute_exists(x)")
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "gsi1pk")
            .expression_attribute_values(":pk", AttributeValue::S("USER#a".into()));
        let start: Item = HashMap::from([("pk".to_string(), AttributeValue::S("CONV#1".into()))]);
        let sent =
            serde_json::to_value(QueryRequest::of("t", &input, Some(&start)).unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({
                "TableName": "t",
                "IndexName": "gsi1",
                "Select": "SPECIFIC_ATTRIBUTES",
                "Limit": 21,
                "ConsistentRead": true,
                "ScanIndexForward": false,
                "ExclusiveStartKey": {"pk": {"S": "CONV#1"}},
                "ProjectionExpression": "#a0",
                "FilterExpression": "attribute_exists(x)",
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": "gsi1pk"},
                "ExpressionAttributeValues": {":pk": {"S": "USER#a"}},
            })
        );
        let bare = QueryInput::builder().key_condition_expression("pk = :pk");
        let sent = serde_json::to_value(QueryRequest::of("t", &bare, None).unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"TableName": "t", "KeyConditionExpression": "pk = :pk"})
        );
        let legacy =
            bare.return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
        assert!(QueryRequest::of("t", &legacy, None).is_err());
    }

    #[test]
    fn an_error_answer_gives_its_code_and_message() {
        let answer = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;
        assert_eq!(
            error_code(answer),
            (Some("ThrottlingException".into()), Some("slow down".into()))
        );
        let capitalised =
            br#"{"__type":"com.amazon.coral.validate#ValidationException","Message":"bad"}"#;
        assert_eq!(
            error_code(capitalised),
            (Some("ValidationException".into()), Some("bad".into()))
        );
        assert_eq!(error_code(b"<html>gateway</html>"), (None, None));
    }

    #[test]
    fn the_wait_before_a_retry_is_random_below_a_ceiling_that_doubles_up_to_the_maximum() {
        let patience = Patience {
            attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            attempt_timeout: None,
            call_timeout: None,
        };
        for _ in 0..200 {
            assert!(patience.backoff(1) < Duration::from_millis(100));
            assert!(patience.backoff(2) < Duration::from_millis(200));
            assert!(patience.backoff(9) <= Duration::from_millis(300));
        }
        let waits: std::collections::HashSet<_> = (0..50).map(|_| patience.backoff(2)).collect();
        assert!(waits.len() > 10, "jittered: {waits:?}");
    }
}
