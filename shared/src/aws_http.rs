//! The HTTP client of AWS calls: a store's DynamoDB reads and writes (`dynamo::wire`,
//! sent by us) and the AWS SDK's calls (creating and describing tables, SQS, the API
//! Gateway Management API), which reach it through the smithy `HttpClient` trait. A
//! store's calls share one, so one pool: a cold container opens one connection for a
//! read then a write, not one each. It is the hyper client over rustls on *ring* that S3, SES and
//! webhooks send on ([`crate::https_client`]), so the SDK's own HTTP client and its
//! second TLS stack are not in the bootstraps.

use crate::https_client::HttpsClient;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// The largest answer read: a page of a DynamoDB query or scan is at most 1 MB of items,
/// which its JSON writes in a few times that.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Told of every request as it is sent and when it ends: how the tests count round trips
/// (none in production).
pub trait Watch: Send + Sync + fmt::Debug {
    /// A request for `operation` (`GetItem`, `TransactWriteItems`, ...: its
    /// `X-Amz-Target` after the dot) is being sent.
    fn started(&self, operation: &str);
    /// It ended, answered or not.
    fn ended(&self);
}

/// An HTTP client for AWS's JSON APIs. Cloning shares the pool.
#[derive(Clone)]
pub struct AwsHttp {
    client: HttpsClient,
    watch: Option<Arc<dyn Watch>>,
}

impl fmt::Debug for AwsHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsHttp")
            .field("watch", &self.watch)
            .finish_non_exhaustive()
    }
}

/// Why a request got no answer, with the innermost cause in one line.
#[derive(Debug)]
pub struct NoAnswer {
    pub kind: Unanswered,
    pub cause: String,
}

/// How a request went unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unanswered {
    /// No connection could be opened (refused, unresolvable, unreachable).
    Connect,
    /// The TCP connection took longer than the client's connect timeout to open.
    ConnectTimeout,
    /// The connection failed or broke off after the request was sent (it may have been
    /// carried out: only an idempotent or token-carrying request may be sent again).
    BrokenOff,
    /// The answer was larger than [`MAX_ANSWER`]: sending again gives the same.
    TooLarge,
}

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cause)
    }
}

impl std::error::Error for NoAnswer {}

/// Tells the watch that a request ended when dropped: also when it timed out, its
/// future dropped unfinished.
struct Ended<'a>(&'a dyn Watch);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.ended();
    }
}

impl AwsHttp {
    pub fn new(client: HttpsClient) -> Self {
        AwsHttp {
            client,
            watch: None,
        }
    }

    /// The same client, telling `watch` of each request.
    pub fn watched(self, watch: Arc<dyn Watch>) -> Self {
        AwsHttp {
            watch: Some(watch),
            ..self
        }
    }

    /// Sends `request` and reads its whole answer.
    pub async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Bytes>, NoAnswer> {
        let Some(watch) = &self.watch else {
            return self.exchange(request).await;
        };
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit('.').next())
            .unwrap_or_default();
        watch.started(operation);
        let _ended = Ended(watch.as_ref());
        self.exchange(request).await
    }

    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Bytes>, NoAnswer> {
        let response = self.client.request(request).await.map_err(|e| {
            let kind = if !e.is_connect() {
                Unanswered::BrokenOff
            } else if timed_out(&e) {
                Unanswered::ConnectTimeout
            } else {
                Unanswered::Connect
            };
            NoAnswer {
                kind,
                cause: innermost(&e),
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| {
                let too_large = e.is::<http_body_util::LengthLimitError>();
                NoAnswer {
                    kind: if too_large {
                        Unanswered::TooLarge
                    } else {
                        Unanswered::BrokenOff
                    },
                    cause: format!("the answer broke off: {e}"),
                }
            })?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body))
    }
}

/// Signs `request` with Signature Version 4 as `identity`, for `service` in `region` at
/// `time`: in its headers, or in its query if `settings` say so (a presigned URL, whose
/// `body` is then `SignableBody::UnsignedPayload`). What S3's, SES's and DynamoDB's
/// calls of our own share.
pub fn sign<B>(
    request: &mut http::Request<B>,
    body: SignableBody<'_>,
    identity: &Identity,
    (service, region): (&str, &str),
    settings: SigningSettings,
    time: SystemTime,
) -> Result<(), String> {
    let failed = |e: &dyn fmt::Display| format!("cannot sign for {service}: {e}");
    let params = SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(request.method().as_str(), uri, headers.into_iter(), body)
        .map_err(|e| failed(&e))?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// Whether an I/O error in `err`'s source chain says it timed out.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(current) = cause {
        if current
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The first line of the deepest error in `err`'s source chain.
pub(crate) fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = err;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    let text = deepest.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches(':')
        .to_string()
}

/// The SDK's side: it asks for a connector per set of timeouts; ours are applied by the
/// SDK around each attempt (`client::timeouts`), so every setting gets the same client.
impl HttpClient for AwsHttp {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for AwsHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            // The SDK's requests to these APIs are JSON documents, always in memory.
            let bytes = body
                .bytes()
                .map(Bytes::copy_from_slice)
                .ok_or_else(|| ConnectorError::user("a streaming request body".into()))?;
            let response = this
                .send(http::Request::from_parts(parts, Full::new(bytes)))
                .await
                .map_err(|e| match e.kind {
                    // As the SDK's own client classed them: its retry rules read these.
                    Unanswered::Connect | Unanswered::BrokenOff => ConnectorError::io(e.into()),
                    Unanswered::ConnectTimeout => ConnectorError::timeout(e.into()),
                    Unanswered::TooLarge => ConnectorError::user(e.into()),
                })?;
            HttpResponse::try_from(response.map(SdkBody::from))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}
