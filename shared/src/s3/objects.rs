//! The few S3 calls attachments need, signed with Signature Version 4 and sent on hyper:
//! what a stored upload is (its size, version and first bytes, for the attach check),
//! copying the version checked to the key a message keeps (tagged attached, so the
//! bucket's lifecycle rule leaves it), re-tagging a copy no message took, and a presigned
//! download link. Five requests do not earn the S3 SDK, which would add its own megabyte
//! to every function that attaches or reads files.

use super::sigv4::Credentials;
use super::upload_form::{Bucket, UNATTACHED_TAGGING, upload_form};
use crate::aws_http;
use crate::domain::{ContentType, FileName, SNIFF_BYTES};
use crate::https_client::{HttpsClient, Roots, https_client};
use crate::store::{
    DOWNLOAD_LINK_LIFETIME, FileStorage, Kept, Stored, StoredFile, UPLOAD_FORM_LIFETIME,
    UploadForm, disposition,
};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use std::time::{Duration, SystemTime};

/// The tag a message's file carries once attached, replacing [`UNATTACHED_TAGGING`].
pub const ATTACHED_TAGGING: &str =
    "<Tagging><TagSet><Tag><Key>supportzen</Key><Value>attached</Value></Tag></TagSet></Tagging>";

/// [`ATTACHED_TAGGING`] as the `x-amz-tagging` header of a copy spells it.
const ATTACHED_TAG_HEADER: &str = "supportzen=attached";

/// How many times a check reads a file that is being replaced under it before giving up.
const READ_ATTEMPTS: usize = 3;

/// How long one S3 call may take before the request gives up on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A stored object's size, declared type and version (its ETag, quotes included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectFacts {
    pub size: u64,
    pub content_type: Option<String>,
    pub etag: Option<String>,
}

/// The attachments bucket, with the credentials that sign its requests.
#[derive(Clone)]
pub struct S3Objects {
    http: HttpsClient,
    bucket: Bucket,
    credentials: Credentials,
}

impl S3Objects {
    /// A client for `bucket` ([`aws_http_client`]).
    pub fn new(bucket: Bucket, credentials: Credentials) -> Result<Self, String> {
        let roots = Roots::for_aws(|name| std::env::var(name).ok());
        Ok(S3Objects {
            http: https_client(roots)?,
            bucket,
            credentials,
        })
    }

    /// The object's size and type, or `None` if nothing is stored under `key`.
    ///
    /// S3 answers a HEAD of a missing key with 404 only to a caller that may also list
    /// the bucket, and with 403 to any other. The functions' roles may read objects under
    /// their own prefix and list nothing (template.yaml), so on AWS a key that was never
    /// uploaded is a 403: both are read as nothing stored, which the attach turns into
    /// its 400 naming the file. (A HEAD's answer has no body to tell a refused signature
    /// from a missing key; a signature S3 refused would also fail the links it signs.)
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
                    etag: header("etag").map(String::from),
                }))
            }
            404 | 403 => Ok(None),
            status => Err(format!("S3 answered HEAD with {status}")),
        }
    }

    /// The object's first `count` bytes (all of it if it is shorter), of the version
    /// `etag` names if given: `None` if another version is stored now (412).
    pub async fn first_bytes(
        &self,
        key: &str,
        count: usize,
        etag: Option<&str>,
    ) -> Result<Option<Vec<u8>>, String> {
        let range = format!("bytes=0-{}", count.saturating_sub(1));
        let mut headers = vec![("range", range.as_str())];
        if let Some(etag) = etag {
            headers.push(("if-match", etag));
        }
        let (status, _, body) = self
            .send("GET", key, "", Bytes::new(), &headers, count)
            .await?;
        match status {
            StatusCode::PARTIAL_CONTENT => Ok(Some(body.to_vec())),
            // The whole object: only right for one no larger than the range (the body
            // was read up to `count` bytes, so a larger one failed above).
            StatusCode::OK if body.len() <= count => Ok(Some(body.to_vec())),
            StatusCode::PRECONDITION_FAILED => Ok(None),
            status => Err(format!("S3 answered a ranged GET with {status}")),
        }
    }

    /// Copies the object under `from` to `to` if it is still the version `etag` names,
    /// tagged attached (the copy's tags replace the upload's); [`Kept::Changed`] if
    /// another version is stored now. S3 copies within the bucket: no byte passes here.
    pub async fn copy(&self, from: &str, etag: Option<&str>, to: &str) -> Result<Kept, String> {
        let source = format!("/{}/{}", self.bucket.name, encode_key(from));
        let mut headers = vec![
            ("x-amz-copy-source", source.as_str()),
            ("x-amz-tagging-directive", "REPLACE"),
            ("x-amz-tagging", ATTACHED_TAG_HEADER),
        ];
        if let Some(etag) = etag {
            headers.push(("x-amz-copy-source-if-match", etag));
        }
        let (status, _, body) = self
            .send("PUT", to, "", Bytes::new(), &headers, 64 * 1024)
            .await?;
        match status {
            // A copy may fail after S3 has answered 200: the error is then the body.
            StatusCode::OK if String::from_utf8_lossy(&body).contains("<CopyObjectResult") => {
                Ok(Kept::Copied)
            }
            StatusCode::PRECONDITION_FAILED => Ok(Kept::Changed),
            status => Err(format!(
                "S3 answered CopyObject with {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )),
        }
    }

    /// Tags the object: `tagging` is a whole `<Tagging>` document.
    pub async fn put_tagging(&self, key: &str, tagging: &'static str) -> Result<(), String> {
        let tagging = Bytes::from_static(tagging.as_bytes());
        let (status, _, _) = self
            .send("PUT", key, "tagging", tagging, &[], 64 * 1024)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("S3 answered PUT tagging with {status}"))
        }
    }

    /// Deletes the object (S3 answers 204 whether or not it was there).
    pub async fn delete(&self, key: &str) -> Result<(), String> {
        let (status, _, _) = self
            .send("DELETE", key, "", Bytes::new(), &[], 64 * 1024)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("S3 answered DELETE with {status}"))
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
        let path = format!("{}/{}", self.bucket.url, encode_key(key));
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
            // Never read as empty: a body past the limit is an answer not understood.
            let body = Limited::new(body, body_limit.max(1))
                .collect()
                .await
                .map_err(|e| {
                    format!(
                        "S3's answer ({}) was not read: {e} (at most {body_limit} bytes expected)",
                        parts.status
                    )
                })?
                .to_bytes();
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
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if let Some(lifetime) = presigned {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(lifetime);
        } else {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let body = match presigned {
            Some(_) => SignableBody::UnsignedPayload,
            None => SignableBody::Bytes(body),
        };
        let identity = self.credentials.identity();
        let scope = ("s3", self.bucket.region.as_str());
        aws_http::sign(request, body, &identity, scope, settings, now)
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

    /// A HEAD, then the first bytes of the version it saw (If-Match its ETag), so that
    /// size, bytes and version are one upload's even if the form is posted again
    /// meanwhile (then read again, a few times at most, then [`Stored::Changing`]). An
    /// object without an ETag is an error: without one no version could be held to.
    async fn stored(&self, key: &str) -> Result<Stored, String> {
        for _ in 0..READ_ATTEMPTS {
            let Some(facts) = self.head(key).await? else {
                return Ok(Stored::Missing);
            };
            let etag = facts
                .etag
                .ok_or_else(|| format!("S3 answered a HEAD of {key} without an ETag"))?;
            let Some(first_bytes) = self.first_bytes(key, SNIFF_BYTES, Some(&etag)).await? else {
                continue;
            };
            return Ok(Stored::File(StoredFile {
                size: facts.size,
                first_bytes,
                version: Some(etag),
            }));
        }
        Ok(Stored::Changing)
    }

    async fn keep(&self, from: &str, version: Option<&str>, to: &str) -> Result<Kept, String> {
        self.copy(from, version, to).await
    }

    /// Re-tags the copy unattached: the lifecycle rule deletes it a day later, as it
    /// does uploads never attached (no function may delete objects).
    async fn release(&self, key: &str) -> Result<(), String> {
        self.put_tagging(key, UNATTACHED_TAGGING).await
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

/// `key` as a URL path: each segment percent-encoded, `/` kept.
fn encode_key(key: &str) -> String {
    let encoded: Vec<String> = key
        .split('/')
        .map(|segment| {
            url::form_urlencoded::byte_serialize(segment.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect();
    encoded.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};
    use std::time::UNIX_EPOCH;

    /// One answer of the stand-in server: status line, extra headers, body.
    type Answer = (&'static str, Vec<(&'static str, String)>, Vec<u8>);

    /// A server that gives `answers` in turn, one per connection, and keeps the head of
    /// each request it read (lower-cased); its address, and the heads.
    async fn serving(answers: Vec<Answer>) -> (String, Arc<Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            for (status, headers, body) in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request: Vec<u8> = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let read = socket.read(&mut buffer).await.unwrap();
                    if read == 0 {
                        break;
                    }
                    request.extend(&buffer[..read]);
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&request).to_lowercase());
                let mut head = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
                if !headers.iter().any(|(name, _)| *name == "content-length") {
                    head.push_str(&format!("content-length: {}\r\n", body.len()));
                }
                for (name, value) in &headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                socket.write_all(head.as_bytes()).await.unwrap();
                socket.write_all(&body).await.unwrap();
            }
        });
        (format!("http://{address}"), heads)
    }

    /// A server that answers every request with `status` and `body`, for `answers`
    /// requests; its address.
    async fn answering(status: &'static str, body: Vec<u8>, answers: usize) -> String {
        let answers = (0..answers)
            .map(|_| (status, Vec::new(), body.clone()))
            .collect();
        serving(answers).await.0
    }

    /// A HEAD's answer: an object of `size` bytes, with `etag` if given.
    fn head_of(size: u64, etag: Option<&str>) -> Answer {
        let mut headers = vec![("content-length", size.to_string())];
        if let Some(etag) = etag {
            headers.push(("etag", etag.to_string()));
        }
        ("200 OK", headers, Vec::new())
    }

    /// A stored object is read as one version: the ranged GET names the HEAD's ETag. An
    /// object S3 gives no ETag for is an error (no version could be held to), and one
    /// replaced at every read is [`Stored::Changing`] (the attach's 400), not an error.
    #[tokio::test]
    async fn a_stored_object_is_read_as_one_version() {
        let png = b"\x89PNG\r\n\x1a\n".to_vec();
        let (server, heads) = serving(vec![
            head_of(8, Some("\"v1\"")),
            ("206 Partial Content", Vec::new(), png.clone()),
        ])
        .await;
        let read = objects_at(&server).stored("uploads/k").await;
        let expected = StoredFile {
            size: 8,
            first_bytes: png,
            version: Some("\"v1\"".into()),
        };
        assert_eq!(read, Ok(Stored::File(expected)));
        let heads = heads.lock().unwrap().clone();
        assert!(heads[0].starts_with("head /b/uploads/k "), "{}", heads[0]);
        assert!(
            heads[1].contains("\r\nif-match: \"v1\"\r\n"),
            "{}",
            heads[1]
        );

        let (server, _) = serving(vec![head_of(8, None)]).await;
        let read = objects_at(&server).stored("uploads/k").await;
        assert!(matches!(&read, Err(e) if e.contains("ETag")), "{read:?}");

        let mut answers = Vec::new();
        for round in 0..READ_ATTEMPTS {
            answers.push(head_of(8, Some(["\"a\"", "\"b\"", "\"c\""][round % 3])));
            answers.push(("412 Precondition Failed", Vec::new(), Vec::new()));
        }
        let (server, heads) = serving(answers).await;
        let read = objects_at(&server).stored("uploads/k").await;
        assert_eq!(read, Ok(Stored::Changing));
        assert_eq!(heads.lock().unwrap().len(), 2 * READ_ATTEMPTS);
    }

    /// A key never uploaded is nothing stored, whether S3 says so with a 404 (to a caller
    /// that may list the bucket) or a 403 (to the functions' roles, which may not); any
    /// other failure is an error, never taken for a missing file.
    #[tokio::test]
    async fn a_missing_object_is_a_404_or_the_403_of_a_role_that_cannot_list() {
        for status in ["404 Not Found", "403 Forbidden"] {
            let server = answering(status, Vec::new(), 1).await;
            let read = objects_at(&server)
                .stored("uploads/customer/ab/att-1")
                .await;
            assert_eq!(read, Ok(Stored::Missing), "{status}");
        }
        for status in ["500 Internal Server Error", "400 Bad Request"] {
            let server = answering(status, Vec::new(), 1).await;
            let read = objects_at(&server).head("uploads/customer/ab/att-1").await;
            assert!(read.is_err(), "{status}: {read:?}");
        }
    }

    /// CopyObject names the source and the version checked, both signed; a 412 is
    /// another version stored meanwhile, and a 200 whose body is an `<Error>` (a copy
    /// that failed after S3 answered) is an error, never taken for a copy.
    #[tokio::test]
    async fn a_copy_names_the_version_checked_and_reads_the_answer_body() {
        let copied = b"<CopyObjectResult><ETag>\"v1\"</ETag></CopyObjectResult>".to_vec();
        let (server, heads) = serving(vec![("200 OK", Vec::new(), copied)]).await;
        let kept = objects_at(&server)
            .copy(
                "uploads/customer/ab/att 1",
                Some("\"v1\""),
                "files/customer/ab/att-1/c",
            )
            .await;
        assert_eq!(kept, Ok(Kept::Copied));
        let head = heads.lock().unwrap()[0].clone();
        assert!(
            head.starts_with("put /b/files/customer/ab/att-1/c "),
            "{head}"
        );
        for header in [
            "x-amz-copy-source: /b/uploads/customer/ab/att%201",
            "x-amz-copy-source-if-match: \"v1\"",
            "x-amz-tagging-directive: replace",
            "x-amz-tagging: supportzen=attached",
        ] {
            assert!(
                head.contains(&format!("\r\n{header}\r\n")),
                "{header} in {head}"
            );
        }
        let signed = head
            .split("signedheaders=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_default()
            .to_string();
        for name in [
            "x-amz-copy-source",
            "x-amz-copy-source-if-match",
            "x-amz-tagging",
        ] {
            assert!(signed.split(';').any(|n| n == name), "{name} in {signed}");
        }

        let server = answering("412 Precondition Failed", b"<Error/>".to_vec(), 1).await;
        let kept = objects_at(&server)
            .copy("uploads/k", Some("\"v1\""), "files/k")
            .await;
        assert_eq!(kept, Ok(Kept::Changed));
        let failed = b"<Error><Code>InternalError</Code></Error>".to_vec();
        let server = answering("200 OK", failed, 1).await;
        let kept = objects_at(&server)
            .copy("uploads/k", Some("\"v1\""), "files/k")
            .await;
        assert!(
            matches!(&kept, Err(e) if e.contains("InternalError")),
            "{kept:?}"
        );
    }

    fn objects_at(server: &str) -> S3Objects {
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        };
        S3Objects::new(Bucket::path_style("b", "us-east-1", server), credentials).unwrap()
    }

    /// The first bytes are a 206 of the range, or a 200 of an object no larger than it;
    /// a whole larger object, or an answer past the limit, is an error, never read as
    /// empty (which a text type's check would take for an empty text file).
    #[tokio::test]
    async fn first_bytes_are_the_range_or_an_error() {
        let server = answering("206 Partial Content", vec![b'a'; 512], 1).await;
        let read = objects_at(&server).first_bytes("k", 512, None).await;
        assert_eq!(read, Ok(Some(vec![b'a'; 512])));
        let server = answering("200 OK", b"short".to_vec(), 1).await;
        let read = objects_at(&server).first_bytes("k", 512, None).await;
        assert_eq!(read, Ok(Some(b"short".to_vec())));
        let server = answering("200 OK", vec![b'a'; 2000], 1).await;
        let read = objects_at(&server).first_bytes("k", 512, None).await;
        assert!(read.is_err(), "{read:?}");
        let server = answering("206 Partial Content", vec![b'a'; 2000], 1).await;
        let read = objects_at(&server).first_bytes("k", 512, None).await;
        assert!(read.is_err(), "{read:?}");
        let server = answering("412 Precondition Failed", Vec::new(), 1).await;
        let read = objects_at(&server)
            .first_bytes("k", 512, Some("\"e\""))
            .await;
        assert_eq!(read, Ok(None));
        let server = answering("403 Forbidden", b"<Error/>".to_vec(), 1).await;
        let read = objects_at(&server).first_bytes("k", 512, None).await;
        assert!(read.is_err(), "{read:?}");
    }

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
