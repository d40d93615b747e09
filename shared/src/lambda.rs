//! What every Lambda binary's `main` does: JSON logs, configuration and the DynamoDB
//! client built once per container, then the runtime loop calling one handler.

use crate::config::Config;
use crate::dynamo::DynamoStore;
use crate::s3::S3Objects;
use lambda_http::{Body, Error, Request, Response, service_fn};
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use tracing_subscriber::filter::LevelFilter;

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
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(handler(&store, &files, &config, request).await)
    }))
    .await
}

/// Runs `handler` under the Lambda runtime until the container is shut down.
/// Fails at init (so Lambda reports an init error) if `TABLE_NAME` or
/// `TRUST_FIRST_REQUEST` is missing or malformed.
pub async fn run(handler: Handler) -> Result<(), Error> {
    init_logging();
    let config = Config::from_env()?;
    let store = DynamoStore::from_lambda_env()?;
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(handler(&store, &config, request).await)
    }))
    .await
}

/// Logs as `lambda_runtime`'s default subscriber does, without its `EnvFilter`: JSON lines
/// when Lambda's `LoggingConfig` says `AWS_LAMBDA_LOG_FORMAT=JSON`, at the level of
/// `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO). Only a level, no per-module
/// directives: that filter's regex engine added 0.32 MiB to every bootstrap.
pub fn init_logging() {
    let lookup = |name: &str| std::env::var(name).ok();
    let collector = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(log_level(lookup));
    let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        collector.json().init()
    } else {
        collector.init()
    }
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
