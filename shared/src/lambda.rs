//! What every Lambda binary's `main` does: JSON logs, configuration and the DynamoDB
//! client built once per container, then the runtime loop calling one handler.

use crate::config::Config;
use crate::dynamo::DynamoStore;
use crate::http::api_gateway::HttpApiResponse;
use crate::http::response::as_json_literals;
use crate::s3::S3Objects;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Error, LambdaEvent, Request, RequestExt, Response, service_fn};
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::util::SubscriberInitExt;

/// A handler bound to the production store.
pub type Handler = for<'a> fn(
    &'a DynamoStore,
    &'a Config,
    Request,
) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// A handler bound to the production store and the attachments bucket.
pub type FilesHandler = for<'a> fn(
    &'a DynamoStore,
    &'a S3Objects,
    &'a Config,
    Request,
) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// [`run`] for a function that signs or checks attachments: it also fails at init
/// unless `ATTACHMENTS_BUCKET`, `AWS_REGION` and the role's credentials are set.
pub async fn run_with_files(handler: FilesHandler) -> Result<(), Error> {
    init_logging();
    let config = Config::from_env()?;
    let store = DynamoStore::from_lambda_env()?;
    let files = S3Objects::from_env()?;
    serve(|request| handler(&store, &files, &config, request)).await
}

/// Runs `handler` under the Lambda runtime until the container is shut down.
/// Fails at init (so Lambda reports an init error) if `TABLE_NAME` or
/// `TRUST_FIRST_REQUEST` is missing or malformed.
pub async fn run(handler: Handler) -> Result<(), Error> {
    init_logging();
    let config = Config::from_env()?;
    let store = DynamoStore::from_lambda_env()?;
    serve(|request| handler(&store, &config, request)).await
}

/// Answers each event of API Gateway's HTTP API (payload format 2.0, the only kind these
/// functions are routed) with `handler`'s response. The request is the one
/// `lambda_http::run` would build (its conversion, from the event type it parses
/// into); the response is written by [`HttpApiResponse`], its JSON body written once, as
/// the string literal the answer holds ([`as_json_literals`]): `lambda_http` would take
/// the body as text and escape it again, about half of what a page of messages costs
/// beyond its store calls (docs/performance.md, "One pass for an answer's JSON").
/// `lambda_http` also copies the X-Ray trace id into an `x-amzn-trace-id` request
/// header, which no handler reads; the logs have it from the invocation's span.
/// `LambdaRequest` is `lambda_http`'s own (hidden) type for what it parses; its
/// conversion to a `Request` is the one `lambda_http::run` and `request::from_str` use.
async fn serve<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    lambda_http::lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let request = Request::from(LambdaRequest::ApiGatewayV2(event.payload))
            .with_lambda_context(event.context);
        let answering = as_json_literals(handler(request));
        async move { Ok::<_, Error>(HttpApiResponse::from(answering.await)) }
    }))
    .await
}

/// Logs as `lambda_runtime`'s default subscriber does, without its `EnvFilter`: JSON lines
/// when Lambda's `LoggingConfig` says `AWS_LAMBDA_LOG_FORMAT=JSON`, at the level of
/// `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO). Only a level, no per-module
/// directives: that filter's regex engine added 0.32 MiB to every bootstrap. The
/// functions' release builds leave lines below INFO out altogether (this crate's `lambda`
/// feature), so there DEBUG and TRACE write what INFO writes.
pub fn init_logging() {
    let lookup = |name: &str| std::env::var(name).ok();
    let level = log_level(lookup);
    let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        json_logs(level, std::io::stdout).init()
    } else {
        tracing_subscriber::fmt()
            .with_target(false)
            .without_time()
            .with_max_level(level)
            .init()
    }
}

/// JSON lines, each carrying the span `lambda_runtime` opens per invocation: its
/// `requestId` and, when X-Ray traces the function, its `xrayTraceId`, so a trace and its
/// log lines find each other.
fn json_logs<W>(level: LevelFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level)
        .json()
        .with_writer(writer)
        .finish()
}

fn log_level(lookup: impl Fn(&str) -> Option<String>) -> LevelFilter {
    lookup("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| lookup("RUST_LOG"))
        .and_then(|level| LevelFilter::from_str(level.trim()).ok())
        .unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What a test's subscriber wrote.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_json_line_of_an_invocation_names_its_request_and_trace() {
        let written = Written::default();
        let writer = written.clone();
        let mut context = lambda_http::lambda_runtime::Context::default();
        context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
        context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into());
        let subscriber = json_logs(LevelFilter::INFO, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = lambda_http::lambda_runtime::layers::trace::request_span(&context);
            let _entered = span.enter();
            tracing::warn!(route = "live-chat", "store unavailable");
            tracing::debug!("below the level: not written");
        });
        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["fields"]["message"], "store unavailable");
        assert_eq!(
            lines[0]["span"]["xrayTraceId"],
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
        );
        assert_eq!(
            lines[0]["span"]["requestId"],
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
        );
    }

    #[test]
    fn the_log_level_comes_from_lambda_then_rust_log() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(log_level(env(&[])), LevelFilter::INFO);
        assert_eq!(
            log_level(env(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")])),
            LevelFilter::DEBUG
        );
        assert_eq!(
            log_level(env(&[
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
                ("RUST_LOG", "trace")
            ])),
            LevelFilter::WARN
        );
        assert_eq!(log_level(env(&[("RUST_LOG", "error")])), LevelFilter::ERROR);
        assert_eq!(
            log_level(env(&[("RUST_LOG", "my_crate=debug")])),
            LevelFilter::INFO
        );
    }
}
