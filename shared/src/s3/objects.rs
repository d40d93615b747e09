//! The few S3 calls attachments need, signed with Signature Version 4 and sent on hyper:
//! what a stored upload is (its size and first bytes, for the attach check), marking it
//! attached (so the bucket's lifecycle rule keeps it), and a presigned download link.
//! Four requests do not earn the S3 SDK, which would add its own megabyte to every
//! function that attaches or reads files.

use super::sigv4::Credentials;
use super::upload_form::{Bucket, upload_form};
use crate::domain::{ContentType, FileName, SNIFF_BYTES};
use crate::store::{
    DOWNLOAD_LINK_LIFETIME, FileStorage, StoredFile, UPLOAD_FORM_LIFETIME, UploadForm, disposition,
};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};

/// The tag a message's file carries once attached, replacing [`UNATTACHED_TAGGING`].
pub const ATTACHED_TAGGING: &str =
    "<Tagging><TagSet><Tag><Key>supportzen</Key><Value>attached</Value></Tag></TagSet></Tagging>";

/// How long one S3 call may take before the request gives up on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A stored object's size and declared type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectFacts {
    pub size: u64,
    pub content_type: Option<String>,
}

/// The attachments bucket, with the credentials that sign its requests.
#[derive(Clone)]
pub struct S3Objects {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    bucket: Bucket,
    credentials: Credentials,
}

/// Amazon Trust Services' root certificates, the DynamoDB client's too.
const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../dynamo/amazon-roots.pem");

/// A TLS configuration trusting [`AMAZON_TRUST_SERVICES_ROOTS`] only.
fn amazon_roots_config(
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS) {
        let certificate = certificate.map_err(|e| format!("the embedded roots: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("the embedded roots: {e}"))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An HTTP(S) client for AWS's endpoints, trusting Amazon Trust Services' roots (what
/// their certificates chain to, as the DynamoDB client does), or the platform's when
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` names a store. Loading the platform's whole store at
/// every init took about 3.5 ms of each cold start (docs/performance.md). S3 and SES use it.
pub(crate) fn aws_http_client() -> Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, String>
{
    let provider = || std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = HttpsConnectorBuilder::new();
    let builder = if std::env::var_os("SSL_CERT_FILE").is_some()
        || std::env::var_os("SSL_CERT_DIR").is_some()
    {
        builder
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("cannot load the platform's root certificates: {e}"))?
    } else {
        builder.with_tls_config(amazon_roots_config(provider())?)
    };
    let connector = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

impl S3Objects {
    /// A client for `bucket` ([`aws_http_client`]).
    pub fn new(bucket: Bucket, credentials: Credentials) -> Result<Self, String> {
        Ok(S3Objects {
            http: aws_http_client()?,
            bucket,
            credentials,
        })
    }

    /// The object's size and type, or `None` if nothing is stored under `key`.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectFacts>, String> {
        let (status, headers, _) = self.send("HEAD", key, "", Bytes::new(), &[], 0).await?;
        match status.as_u16() {
            200 => {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                let size = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .ok_or("S3 answered a HEAD without a Content-Length")?;
                Ok(Some(ObjectFacts {
                    size,
                    content_type: header("content-type").map(String::from),
                }))
            }
            404 => Ok(None),
            status => Err(format!("S3 answered HEAD with {status}")),
        }
    }

    /// The object's first `count` bytes (all of it if it is shorter).
    pub async fn first_bytes(&self, key: &str, count: usize) -> Result<Vec<u8>, String> {
        let range = format!("bytes=0-{}", count.saturating_sub(1));
        let (status, _, body) = self
            .send("GET", key, "", Bytes::new(), &[("range", &range)], count)
            .await?;
        if status != StatusCode::OK && status != StatusCode::PARTIAL_CONTENT {
            return Err(format!("S3 answered a ranged GET with {status}"));
        }
        let mut bytes = body.to_vec();
        bytes.truncate(count);
        Ok(bytes)
    }

    /// Tags the object as attached, so the lifecycle rule that deletes unattached
    /// uploads leaves it.
    pub async fn mark_attached(&self, key: &str) -> Result<(), String> {
        let tagging = Bytes::from_static(ATTACHED_TAGGING.as_bytes());
        let (status, _, _) = self.send("PUT", key, "tagging", tagging, &[], 1024).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("S3 answered PUT tagging with {status}"))
        }
    }

    /// The object's tag set as S3 answers it (`<Tagging>…</Tagging>`): whether it is
    /// kept (attached) or due to expire (unattached). For checks and operators; no
    /// function's role may call it (s3:GetObjectTagging is granted to none).
    pub async fn tagging(&self, key: &str) -> Result<String, String> {
        let (status, _, body) = self
            .send("GET", key, "tagging", Bytes::new(), &[], 64 * 1024)
            .await?;
        if status.is_success() {
            Ok(String::from_utf8_lossy(&body).into_owned())
        } else {
            Err(format!("S3 answered GET tagging with {status}"))
        }
    }

    /// The bucket and credentials Lambda gives a function: `ATTACHMENTS_BUCKET`,
    /// `AWS_REGION` and the role's keys; `AWS_ENDPOINT_URL_S3`, if set, names an
    /// S3-compatible server addressed path style (the tests' stand-in).
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let name = var("ATTACHMENTS_BUCKET").ok_or("ATTACHMENTS_BUCKET is not set")?;
        let region = var("AWS_REGION").ok_or("AWS_REGION is not set")?;
        let bucket = match var("AWS_ENDPOINT_URL_S3") {
            Some(server) => Bucket::path_style(&name, &region, &server),
            None => Bucket::aws(&name, &region),
        };
        let credentials = Credentials {
            access_key_id: var("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")
                .ok_or("AWS_SECRET_ACCESS_KEY is not set")?,
            session_token: var("AWS_SESSION_TOKEN"),
        };
        Self::new(bucket, credentials)
    }

    /// A presigned GET of `key`, valid from `now` for `lifetime`, that S3 answers with
    /// `content_type` and `disposition` whatever the object was stored with.
    pub fn download_url(
        &self,
        key: &str,
        content_type: &str,
        disposition: &str,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<String, String> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response-content-disposition", disposition)
            .append_pair("response-content-type", content_type)
            .finish()
            .replace('+', "%20");
        let uri = format!("{}?{query}", self.object_url(key, ""));
        let mut request = Request::get(&uri)
            .body(())
            .map_err(|e| format!("not a request: {e}"))?;
        self.sign(&mut request, b"", now, Some(lifetime))?;
        Ok(request.uri().to_string())
    }

    fn object_url(&self, key: &str, subresource: &str) -> String {
        let encoded: Vec<String> = key
            .split('/')
            .map(|segment| {
                url::form_urlencoded::byte_serialize(segment.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            })
            .collect();
        let path = format!("{}/{}", self.bucket.url, encoded.join("/"));
        if subresource.is_empty() {
            path
        } else {
            format!("{path}?{subresource}")
        }
    }

    /// Sends one signed request and reads at most `body_limit` bytes of its answer.
    async fn send(
        &self,
        method: &str,
        key: &str,
        subresource: &str,
        body: Bytes,
        headers: &[(&str, &str)],
        body_limit: usize,
    ) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.object_url(key, subresource));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(Full::new(body.clone()))
            .map_err(|e| format!("not a request: {e}"))?;
        self.sign(&mut request, &body, SystemTime::now(), None)?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("S3 could not be reached: {e}"))?;
            let (parts, body) = response.into_parts();
            // What S3 says past the limit (an error document) is not needed.
            let body = match Limited::new(body, body_limit.max(1)).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => Bytes::new(),
            };
            Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("S3 gave no answer within {} s", CALL_TIMEOUT.as_secs()))?
    }

    /// Signs `request` in its headers, or in its query for `presigned` that long.
    fn sign<B>(
        &self,
        request: &mut Request<B>,
        body: &[u8],
        now: SystemTime,
        presigned: Option<Duration>,
    ) -> Result<(), String> {
        let identity: Identity = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            self.credentials.session_token.clone(),
            None,
            "supportzen",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if let Some(lifetime) = presigned {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(lifetime);
        } else {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.bucket.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| format!("cannot sign for S3: {e}"))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let uri = request.uri().to_string();
        let signable_body = match presigned {
            Some(_) => SignableBody::UnsignedPayload,
            None => SignableBody::Bytes(body),
        };
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.into_iter(),
            signable_body,
        )
        .map_err(|e| format!("cannot sign for S3: {e}"))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| format!("cannot sign for S3: {e}"))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

impl FileStorage for S3Objects {
    fn upload_form(
        &self,
        key: &str,
        content_type: ContentType,
        size: u64,
        now: SystemTime,
    ) -> Result<UploadForm, String> {
        Ok(upload_form(
            &self.bucket,
            &self.credentials,
            key,
            content_type.as_str(),
            size,
            now,
            UPLOAD_FORM_LIFETIME,
        ))
    }

    async fn stored(&self, key: &str) -> Result<Option<StoredFile>, String> {
        let Some(facts) = self.head(key).await? else {
            return Ok(None);
        };
        let first_bytes = self.first_bytes(key, SNIFF_BYTES).await?;
        Ok(Some(StoredFile {
            size: facts.size,
            first_bytes,
        }))
    }

    async fn mark_attached(&self, key: &str) -> Result<(), String> {
        S3Objects::mark_attached(self, key).await
    }

    fn download_url(
        &self,
        key: &str,
        content_type: ContentType,
        name: &FileName,
        now: SystemTime,
    ) -> Result<String, String> {
        S3Objects::download_url(
            self,
            key,
            content_type.as_str(),
            &disposition(content_type, name),
            now,
            DOWNLOAD_LINK_LIFETIME,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_amazon_roots_make_a_tls_configuration() {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        amazon_roots_config(provider).unwrap();
    }
    use std::time::UNIX_EPOCH;

    #[test]
    fn download_links_are_presigned_and_override_type_and_disposition() {
        let objects = S3Objects::new(
            Bucket::aws("attachments-bucket", "eu-west-1"),
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "secret".into(),
                session_token: Some("token/with+chars".into()),
            },
        )
        .unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_451_347_200);
        let url = objects
            .download_url(
                "uploads/customer/ab/att-1",
                "application/pdf",
                "attachment; filename=\"a b.pdf\"",
                now,
                Duration::from_secs(900),
            )
            .unwrap();
        let url = url::Url::parse(&url).unwrap();
        assert_eq!(
            url.host_str(),
            Some("attachments-bucket.s3.eu-west-1.amazonaws.com")
        );
        assert_eq!(url.path(), "/uploads/customer/ab/att-1");
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["response-content-type"], "application/pdf");
        assert_eq!(
            query["response-content-disposition"],
            "attachment; filename=\"a b.pdf\""
        );
        assert_eq!(query["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(
            query["X-Amz-Credential"],
            "AKIDEXAMPLE/20151229/eu-west-1/s3/aws4_request"
        );
        assert_eq!(query["X-Amz-Date"], "20151229T000000Z");
        assert_eq!(query["X-Amz-Expires"], "900");
        assert_eq!(query["X-Amz-Security-Token"], "token/with+chars");
        assert_eq!(query["X-Amz-Signature"].len(), 64);
        // Another expiry is another signature.
        let later = objects
            .download_url(
                "uploads/customer/ab/att-1",
                "application/pdf",
                "attachment; filename=\"a b.pdf\"",
                now,
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(!later.contains(&query["X-Amz-Signature"]));
    }
}
