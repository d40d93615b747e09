//! The webhook HTTP client: one attempt to deliver one event to one endpoint
//! ([`WebhookClient::attempt`]), an adapter beside the DynamoDB store. One client, for
//! the local server and the `webhook-deliver` function alike: the hyper client over
//! rustls on *ring* of [`crate::https_client`] (no aws-lc, as for DynamoDB:
//! docs/performance.md), trusting the platform's roots, for `http` and `https` URLs.
//! Redirects are not followed: a 3xx is a failed attempt, like any non-2xx.
//! Production's client also refuses hosts that are loopback, link-local or unspecified
//! IP addresses ([`WebhookClient::refusing_local_addresses`]). What comes of an attempt
//! is decided in `events::delivery`.

use crate::events::delivery::{Delivery, Outcome};
use crate::events::webhooks::WebhookEndpoint;
use crate::https_client::{HttpsClient, Roots, https_client};
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use std::net::Ipv4Addr;
use std::time::Duration;

/// How long one attempt may take, connecting included, before it counts as failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// How much of a response's body is read (and thrown away), so that the connection can
/// be reused; a receiver's answer means nothing beyond its status.
const RESPONSE_BYTES_READ: usize = 4096;

/// How long reading that much may take; the status is already known by then.
const RESPONSE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The HTTP(S) client deliveries go out on. Build it once (it loads the platform's
/// roots) and share it: clones share one connection pool.
#[derive(Clone)]
pub struct WebhookClient {
    http: HttpsClient,
    /// Whether endpoints whose host is a loopback, link-local or unspecified IP address
    /// are refused (see [`WebhookClient::refusing_local_addresses`]).
    refuse_local: bool,
}

impl WebhookClient {
    /// A client trusting the platform's root certificates (`SSL_CERT_FILE` or
    /// `SSL_CERT_DIR` if set, else the system's store). Fails if there are none.
    pub fn new() -> Result<Self, String> {
        Ok(WebhookClient {
            http: https_client(Roots::Platform)?,
            refuse_local: false,
        })
    }

    /// The same client, refusing to connect where the host is a loopback, link-local or
    /// unspecified IP address, as written in the URL: each such attempt fails with a
    /// reason that says so, and is retried and in the end dead-lettered like any failed
    /// one. For `webhook-deliver`, where 127.0.0.1:9001 is the Lambda Runtime API. A host
    /// *name* that resolves to such an address is not checked; nor are private
    /// addresses, which the function (outside any VPC) cannot reach anyway. The local
    /// server does not refuse them: a receiver on the same machine is its usual case.
    pub fn refusing_local_addresses(self) -> Self {
        WebhookClient {
            refuse_local: true,
            ..self
        }
    }

    /// Makes one attempt to deliver `delivery` to `endpoint`, signed with its secret at
    /// the current time, within [`ATTEMPT_TIMEOUT`].
    pub async fn attempt(&self, endpoint: &WebhookEndpoint, delivery: &Delivery) -> Outcome {
        let timestamp = crate::domain::now_millis().div_euclid(1000);
        // Through `url` so that what `WebhookUrl` accepted (an IDN host, say) goes out
        // normalized, as `http::Uri` needs it, and is checked as it will be connected to
        // (`http://0x7f.1/` is 127.0.0.1).
        let Ok(url) = url::Url::parse(endpoint.url.as_str()) else {
            return Outcome::Retry(format!("endpoint {} has an unusable url", endpoint.id));
        };
        if self.refuse_local && local_address(&url) {
            return Outcome::Retry(format!(
                "endpoint {}'s host is a loopback, link-local or unspecified IP address: \
                 refused",
                endpoint.id
            ));
        }
        let request = match signed_request(&url, endpoint, delivery, timestamp) {
            Ok(request) => request,
            Err(reason) => return Outcome::Retry(reason),
        };
        let response = match tokio::time::timeout(ATTEMPT_TIMEOUT, self.http.request(request)).await
        {
            Err(_) => {
                return Outcome::Retry(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()));
            }
            Ok(Err(err)) => return Outcome::Retry(failure_reason(&err)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let body = Limited::new(response.into_body(), RESPONSE_BYTES_READ);
        // Whatever the body holds (or however slowly it comes), the status has answered.
        let _ = tokio::time::timeout(RESPONSE_READ_TIMEOUT, body.collect()).await;
        outcome(status)
    }
}

/// Whether `url`'s host is a loopback, link-local or unspecified IP address (IPv4, or
/// IPv6 including IPv4 written as IPv6): what reaches the machine itself or its
/// platform's endpoints (the Lambda Runtime API, instance metadata) rather than a
/// receiver.
fn local_address(url: &url::Url) -> bool {
    let v4 = |ip: Ipv4Addr| ip.is_loopback() || ip.is_link_local() || ip.is_unspecified();
    match url.host() {
        Some(url::Host::Ipv4(ip)) => v4(ip),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unicast_link_local()
                || ip.to_ipv4().is_some_and(v4)
        }
        Some(url::Host::Domain(_)) | None => false,
    }
}

/// The POST of `delivery` to `url` (`endpoint`'s) for one attempt at `timestamp` (Unix
/// seconds).
fn signed_request(
    url: &url::Url,
    endpoint: &WebhookEndpoint,
    delivery: &Delivery,
    timestamp: i64,
) -> Result<Request<Full<Bytes>>, String> {
    let signature = endpoint
        .secret
        .sign(&delivery.event_id, timestamp, &delivery.body);
    Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "SupportZen-Webhooks/1")
        .header("webhook-id", &delivery.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(Full::new(Bytes::from(delivery.body.clone())))
        .map_err(|_| {
            format!(
                "endpoint {} or event {} does not make a valid request",
                endpoint.id, delivery.event_id
            )
        })
}

/// What a response's status means for the delivery.
fn outcome(status: StatusCode) -> Outcome {
    if status.is_success() {
        Outcome::Delivered
    } else if status == StatusCode::GONE {
        Outcome::Gone
    } else {
        Outcome::Retry(format!("answered {status}"))
    }
}

/// Why a request got no answer, in words, e.g. "could not connect: connection refused":
/// its innermost cause (an OS error without its number), said of the connection or of the
/// exchange. hyper's and rustls' messages name no URL.
fn failure_reason(err: &hyper_util::client::legacy::Error) -> String {
    let mut innermost: &dyn std::error::Error = err;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    let cause = match innermost.downcast_ref::<std::io::Error>() {
        Some(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
            std::io::ErrorKind::TimedOut => "timed out".to_string(),
            _ => io
                .to_string()
                .split(" (os error")
                .next()
                .unwrap_or_default()
                .to_string(),
        },
        None => innermost.to_string(),
    };
    if err.is_connect() {
        format!("could not connect: {cause}")
    } else {
        format!("the request failed: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Author, ChatId, ConversationId, Email, MessageText, NewMessage};
    use crate::events::webhooks::WebhookUrl;
    use crate::events::{Event, EventType};
    use std::collections::HashMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn event() -> Event {
        let chat = ConversationId::Chat(ChatId::generate());
        let owner = Email::parse("ann@example.com").unwrap().user_id().clone();
        let message = NewMessage::now(
            Author::Customer,
            MessageText::parse("hello").unwrap(),
            None,
            None,
        );
        Event::message_created(Event::new_id(), &chat, &owner, &message)
    }

    fn endpoint(url: &str) -> WebhookEndpoint {
        WebhookEndpoint::new(
            WebhookUrl::parse(url).unwrap(),
            vec![EventType::MessageCreated],
        )
    }

    /// What the receiver saw of one request.
    struct Received {
        request_line: String,
        headers: HashMap<String, String>,
        body: String,
    }

    /// Accepts one connection on a fresh port, reads one request, answers `status`.
    async fn receiver(status: &'static str) -> (String, tokio::task::JoinHandle<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut read = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the request ended before its headers");
                read.extend_from_slice(&chunk[..n]);
                if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
            };
            let head = String::from_utf8(read[..head_end].to_vec()).unwrap();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap().to_string();
            let headers: HashMap<String, String> = lines
                .filter_map(|line| line.split_once(": "))
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
                .collect();
            let length: usize = headers["content-length"].parse().unwrap();
            while read.len() < head_end + length {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the request ended before its body");
                read.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8(read[head_end..head_end + length].to_vec()).unwrap();
            let response =
                format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            stream.write_all(response.as_bytes()).await.unwrap();
            Received {
                request_line,
                headers,
                body,
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_delivery_is_a_signed_post_of_the_thin_envelope() {
        let (url, received) = receiver("204 No Content").await;
        let endpoint = endpoint(&url);
        let event = event();
        let delivery = Delivery::new(&endpoint.id, &event, 1);
        let client = WebhookClient::new().unwrap();

        assert_eq!(
            client.attempt(&endpoint, &delivery).await,
            Outcome::Delivered
        );
        let received = received.await.unwrap();
        assert_eq!(received.request_line, "POST /hooks HTTP/1.1");
        assert_eq!(received.body, event.to_webhook_json());
        assert_eq!(received.headers["content-type"], "application/json");
        assert_eq!(received.headers["webhook-id"], event.id);
        let timestamp: i64 = received.headers["webhook-timestamp"].parse().unwrap();
        assert_eq!(
            received.headers["webhook-signature"],
            endpoint.secret.sign(&event.id, timestamp, &received.body)
        );
    }

    #[tokio::test]
    async fn gone_disables_and_other_statuses_retry() {
        let client = WebhookClient::new().unwrap();
        for (status, expected) in [
            ("410 Gone", Outcome::Gone),
            (
                "500 Internal Server Error",
                Outcome::Retry("answered 500 Internal Server Error".into()),
            ),
            (
                "301 Moved Permanently",
                Outcome::Retry("answered 301 Moved Permanently".into()),
            ),
            ("200 OK", Outcome::Delivered),
        ] {
            let (url, received) = receiver(status).await;
            let endpoint = endpoint(&url);
            let delivery = Delivery::new(&endpoint.id, &event(), 1);
            assert_eq!(client.attempt(&endpoint, &delivery).await, expected);
            received.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_and_the_reason_names_no_url() {
        // A port that was free a moment ago and has nobody listening now.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks?token=s3cr3t",
            listener.local_addr().unwrap()
        );
        drop(listener);
        let endpoint = endpoint(&url);
        let delivery = Delivery::new(&endpoint.id, &event(), 1);

        let outcome = WebhookClient::new()
            .unwrap()
            .attempt(&endpoint, &delivery)
            .await;
        let Outcome::Retry(reason) = outcome else {
            panic!("expected a retry, got {outcome:?}");
        };
        assert_eq!(reason, "could not connect: connection refused");
        assert!(
            !reason.contains("s3cr3t") && !reason.contains("/hooks"),
            "{reason}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_within_the_timeout_is_retried() {
        // A receiver that takes the connection and never answers; paused time lets the
        // 15 s pass at once.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(stream);
        });
        let endpoint = endpoint(&url);
        let delivery = Delivery::new(&endpoint.id, &event(), 1);

        let outcome = WebhookClient::new()
            .unwrap()
            .attempt(&endpoint, &delivery)
            .await;
        assert_eq!(outcome, Outcome::Retry("no answer within 15 s".into()));
        held.abort();
    }

    #[tokio::test]
    async fn a_refusing_client_does_not_connect_to_local_addresses() {
        let client = WebhookClient::new().unwrap().refusing_local_addresses();
        // Nobody listens at most of these: an attempt that connected would fail
        // otherwise (refused, or no answer), not with this reason.
        for url in [
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "http://127.1.2.3/",
            "http://0x7f.1/hooks",
            "http://2130706433/hooks",
            "http://0.0.0.0:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "https://[::1]/hooks",
            "http://[::]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
        ] {
            let endpoint = endpoint(url);
            let delivery = Delivery::new(&endpoint.id, &event(), 1);
            let outcome = client.attempt(&endpoint, &delivery).await;
            assert_eq!(
                outcome,
                Outcome::Retry(format!(
                    "endpoint {}'s host is a loopback, link-local or unspecified IP \
                     address: refused",
                    endpoint.id
                )),
                "{url}"
            );
        }
    }

    #[test]
    fn only_ip_literals_that_reach_the_machine_itself_count_as_local() {
        let local = |url: &str| local_address(&url::Url::parse(url).unwrap());
        for url in [
            "http://127.0.0.1/",
            "http://0x7f.1/",
            "http://169.254.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::abcd]/",
            "http://[::ffff:7f00:1]/",
        ] {
            assert!(local(url), "{url}");
        }
        // Host names are not resolved; private and public addresses are receivers.
        for url in [
            "http://localhost/",
            "https://hooks.example.com/",
            "http://10.0.0.7/",
            "http://192.168.1.2/",
            "http://203.0.113.9/",
            "http://[2001:db8::1]/",
            "http://[fd00::1]/",
        ] {
            assert!(!local(url), "{url}");
        }
    }
}
