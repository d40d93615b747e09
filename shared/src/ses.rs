//! Production's [`Mailer`]: Amazon SES v2 `SendEmail` with the raw MIME message (so the
//! `List-Unsubscribe` headers and both parts go as composed), one HTTPS POST signed with
//! Signature Version 4 by the SigV4 crate already in the tree for S3. One call does not
//! earn `aws-sdk-sesv2`, which would add its own megabyte to the function's bootstrap and
//! its initialisation to every cold start.

use crate::aws_http;
use crate::https_client::{HttpsClient, Roots, https_client};
use crate::notify::Mailer;
use crate::s3::Credentials;
use aws_sigv4::http_request::{SignableBody, SigningSettings};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full, Limited};
use lettre::Message;
use std::time::{Duration, SystemTime};

/// How long one SendEmail may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// SES v2 in one region (or an SES-compatible server: the tests' moto).
#[derive(Clone)]
pub struct SesMailer {
    http: HttpsClient,
    endpoint: String,
    region: String,
    credentials: Credentials,
}

impl SesMailer {
    /// `endpoint` is `https://email.<region>.amazonaws.com` on AWS.
    pub fn new(endpoint: &str, region: &str, credentials: Credentials) -> Result<Self, String> {
        Ok(SesMailer {
            http: https_client(Roots::for_aws(|name| std::env::var(name).ok()))?,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            credentials,
        })
    }

    /// What Lambda gives a function: `AWS_REGION` and the role's keys;
    /// `AWS_ENDPOINT_URL_SESV2`, if set, names an SES-compatible server instead.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = var("AWS_REGION").ok_or("AWS_REGION is not set")?;
        let endpoint = var("AWS_ENDPOINT_URL_SESV2")
            .unwrap_or_else(|| format!("https://email.{region}.amazonaws.com"));
        let credentials = Credentials {
            access_key_id: var("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")
                .ok_or("AWS_SECRET_ACCESS_KEY is not set")?,
            session_token: var("AWS_SESSION_TOKEN"),
        };
        Self::new(&endpoint, &region, credentials)
    }

    /// Sends one signed JSON request to `path` and answers the status and body.
    pub async fn call(&self, path: &str, body: Vec<u8>) -> Result<(u16, String), String> {
        let mut request = Request::post(format!("{}{path}", self.endpoint))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| format!("not a request: {e}"))?;
        self.sign(&mut request, &body)?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("SES could not be reached: {e}"))?;
            let status = response.status().as_u16();
            let body = match Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(_) => Bytes::new(),
            };
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("SES gave no answer within {} s", CALL_TIMEOUT.as_secs()))?
    }

    fn sign(&self, request: &mut Request<Full<Bytes>>, body: &[u8]) -> Result<(), String> {
        aws_http::sign(
            request,
            SignableBody::Bytes(body),
            &self.credentials.identity(),
            ("ses", &self.region),
            SigningSettings::default(),
            SystemTime::now(),
        )
    }
}

/// The `SendEmail` body for `message`: its raw MIME, its sender and recipients.
pub fn send_email_body(message: &Message) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let envelope = message.envelope();
    let from = envelope
        .from()
        .map(|a| a.to_string())
        .ok_or("the email has no sender")?;
    let to: Vec<String> = envelope.to().iter().map(|a| a.to_string()).collect();
    serde_json::to_vec(&serde_json::json!({
        "FromEmailAddress": from,
        "Destination": {"ToAddresses": to},
        "Content": {"Raw": {"Data": base64::engine::general_purpose::STANDARD.encode(message.formatted())}},
    }))
    .map_err(|e| e.to_string())
}

impl Mailer for SesMailer {
    async fn send(&self, message: &Message) -> Result<(), String> {
        let body = send_email_body(message)?;
        let (status, answer) = self.call("/v2/email/outbound-emails", body).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            // SES's error document names the reason (e.g. an unverified sender); it
            // holds no message content.
            Err(format!("SES answered SendEmail with {status}: {answer}"))
        }
    }
}
