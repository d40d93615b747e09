//! What every Lambda binary's `main` does: JSON logs, configuration and the DynamoDB
//! client built once per container, then the runtime loop calling one handler.

use crate::config::Config;
use crate::dynamo::DynamoStore;
use lambda_http::{Body, Error, Request, Response, service_fn};
use std::future::Future;
use std::pin::Pin;

/// A handler bound to the production store.
pub type Handler = for<'a> fn(
    &'a DynamoStore,
    &'a Config,
    Request,
) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// Runs `handler` under the Lambda runtime until the container is shut down.
/// Fails at init (so Lambda reports an init error) if `TABLE_NAME` or
/// `TRUST_FIRST_REQUEST` is missing or malformed.
pub async fn run(handler: Handler) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let store = DynamoStore::from_env().await?;
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Error>(handler(&store, &config, request).await)
    }))
    .await
}
