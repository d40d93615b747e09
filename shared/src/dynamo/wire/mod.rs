//! DynamoDB's calls sent by us: the JSON protocol, signed with Signature Version 4, over
//! the process's one HTTP client for AWS ([`AwsHttp`]). The reads are in [`reads`], the
//! writes (conditions, returned values, transactions and their cancellation reasons) in
//! [`writes`], the attribute values both carry in [`values`]. The items of the pages the
//! routes read most (messages, notes, inboxes, a customer's conversations, an agent's
//! conversation) skip the SDK's types: [`typed`] reads them straight into the
//! aggregates' item structs.
//!
//! Why not the SDK: on a cold container its first calls were most of a route's cold
//! start (docs/performance.md, issue 21): its orchestrator, endpoint rules and identity
//! cache run for the first time, and its JSON reader and writer go through code that
//! nothing else touches. A call is a request body, a signature and a parse into the
//! SDK's own `AttributeValue`s (or, for those pages, into the structs the decoders
//! take from `serde_dynamo`), so the aggregates' encoders and decoders are unchanged;
//! they still describe each call with the SDK's builders, which are only read here. The
//! SDK's client remains for what is not a store's request path (creating and
//! describing the table, the operators' tools).
//!
//! The calls follow the SDK client's own configuration: its region, its credentials
//! provider, its retry settings (attempts, backoff) and its timeouts (per attempt, per
//! call). They retry throttling and conflicts (the codes `errors::is_retryable_code`
//! lists), any 5xx, an expired token, and no answer, writes included (a transaction
//! keeps its client request token across them): what the SDK's standard retries take,
//! and the conflicts and expired tokens it leaves to the caller, which here would
//! retry them anyway. After the last attempt those are 503s, as a missing table is at
//! once. An answer that cannot be read is a 503 too, as the SDK's `ResponseError` is
//! (but an item that does not decode into its struct is a 500, as before);
//! anything else DynamoDB refuses is a 500, unless the caller reads the refusal (a
//! failed condition, a cancelled transaction).

mod reads;
mod typed;
mod values;
mod writes;

pub(super) use writes::Written;

use super::errors::{is_retryable_code, unavailable};
use super::table::random_below;
use crate::aws_http::{self, AwsHttp, Unanswered};
use crate::store::StoreError;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SigningSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Credentials are fetched again this long before they expire.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// How the calls retry and how long they wait: the SDK client's settings.
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

/// Where the calls go and what signs them. Cloning shares the client and the credentials.
#[derive(Clone)]
pub struct Wire {
    http: AwsHttp,
    /// Where every request goes: the endpoint's root, `https://…/`.
    url: Arc<str>,
    region: Arc<str>,
    credentials: SharedCredentialsProvider,
    /// The last credentials the provider gave, until they are near their expiry.
    cached: Arc<tokio::sync::Mutex<Option<Credentials>>>,
    patience: Patience,
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

impl Wire {
    /// Calls to `endpoint` (e.g. `https://dynamodb.eu-west-1.amazonaws.com`) in `region`,
    /// signed with what `credentials` provides.
    pub fn new(
        http: AwsHttp,
        endpoint: &str,
        region: &str,
        credentials: SharedCredentialsProvider,
        patience: Patience,
    ) -> Self {
        Wire {
            http,
            url: format!("{}/", endpoint.trim_end_matches('/')).into(),
            region: region.into(),
            credentials,
            cached: Arc::default(),
            patience,
        }
    }

    /// Sends `body` as `target` and parses the answer; a refusal is a 500.
    async fn call<B: Serialize, A: for<'de> Deserialize<'de>>(
        &self,
        target: &str,
        body: &B,
        operation: &str,
    ) -> Result<A, StoreError> {
        self.call_reading(target, body, operation, understood).await
    }

    /// [`call`](Self::call), the answer read by `read`.
    async fn call_reading<B: Serialize, A>(
        &self,
        target: &str,
        body: &B,
        operation: &str,
        read: fn(&[u8], &str) -> Result<A, StoreError>,
    ) -> Result<A, StoreError> {
        match self.exchange(target, body, operation).await? {
            Ok(answer) => read(&answer, operation),
            Err(refusal) => Err(refusal.into_error(operation)),
        }
    }

    /// Sends `body` as `target`, retrying what may succeed later: DynamoDB's answer, or
    /// its refusal of the request, which no retry would change.
    async fn exchange<B: Serialize>(
        &self,
        target: &str,
        body: &B,
        operation: &str,
    ) -> Result<Result<Bytes, Refusal>, StoreError> {
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
                    Ok(answer) => return Ok(Ok(answer)),
                    Err(Failure::Transient(_)) if attempt < self.patience.attempts => {
                        tokio::time::sleep(self.patience.backoff(attempt)).await;
                        attempt += 1;
                    }
                    Err(Failure::Transient(reason) | Failure::Missing(reason)) => {
                        return Err(unavailable(format!("{operation}: {reason}")));
                    }
                    Err(Failure::Refused(refusal)) => return Ok(Err(refusal)),
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
            .map_err(|e| Failure::Refused(Refusal::of(format!("not a request: {e}"))))?;
        let credentials = self.credentials().await?;
        self.sign(&mut request, body, credentials)
            .map_err(|e| Failure::Refused(Refusal::of(e)))?;
        let response = self.http.send(request).await.map_err(|e| match e.kind {
            Unanswered::Connect => Failure::Transient(format!("cannot connect to DynamoDB: {e}")),
            Unanswered::ConnectTimeout => {
                Failure::Transient("timed out connecting to DynamoDB".to_string())
            }
            Unanswered::BrokenOff => Failure::Transient(format!("no answer from DynamoDB: {e}")),
            Unanswered::TooLarge => {
                Failure::Refused(Refusal::of(format!("DynamoDB's answer: {e}")))
            }
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
            Err(Failure::Refused(Refusal {
                code,
                reason,
                answer,
            }))
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
                Failure::Refused(Refusal::of(reason))
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
    /// DynamoDB refused the request itself (a failed condition, or a bug or a
    /// misconfiguration), or it could not be sent.
    Refused(Refusal),
}

/// A request DynamoDB refused (a 4xx that no retry would change), or that could not be
/// sent at all.
struct Refusal {
    /// DynamoDB's error code, e.g. `ConditionalCheckFailedException`.
    code: Option<String>,
    /// The code and message, or why there was no answer to read.
    reason: String,
    /// DynamoDB's whole answer: a failed condition's old item, a transaction's
    /// cancellation reasons.
    answer: Bytes,
}

impl Refusal {
    /// A request that was not sent, or not answered in a way to read.
    fn of(reason: String) -> Self {
        Refusal {
            code: None,
            reason,
            answer: Bytes::new(),
        }
    }

    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// A refusal the caller does not read: a bug or a misconfiguration.
    fn into_error(self, operation: &str) -> StoreError {
        StoreError::Internal(format!("{operation}: {}", self.reason))
    }
}

/// DynamoDB's answer to `operation`, parsed. One that cannot be parsed is classed as the
/// SDK classes it (a `ResponseError`, retryable): a body cut short by a proxy reads the
/// same.
fn understood<A: for<'de> Deserialize<'de>>(
    answer: &[u8],
    operation: &str,
) -> Result<A, StoreError> {
    serde_json::from_slice(answer).map_err(|e| {
        unavailable(format!(
            "{operation}: DynamoDB's answer is not understood: {e}"
        ))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
