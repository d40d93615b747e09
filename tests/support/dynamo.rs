//! DynamoDB Local for tests: a fresh table per test, and an interceptor that records
//! every round trip the SDK makes.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use std::sync::{Arc, Mutex};
use supportzen_shared::dynamo::{DynamoStore, client, schema};

/// Every attempt (HTTP round trip) the client made, by operation name, in order.
#[derive(Clone, Debug, Default)]
pub struct RoundTrips(Arc<Mutex<Vec<String>>>);

impl RoundTrips {
    /// Takes the calls recorded so far, leaving the record empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Intercept for RoundTrips {
    fn name(&self) -> &'static str {
        "RoundTrips"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_default();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// A client for DynamoDB Local, with `trips` recording its calls. Refuses to run
/// without `AWS_ENDPOINT_URL_DYNAMODB`, so tests never touch a real AWS account.
pub fn local_client(trips: &RoundTrips) -> aws_sdk_dynamodb::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "the DynamoDB tests need DynamoDB Local: run ./scripts/test, which starts it \
         and sets AWS_ENDPOINT_URL_DYNAMODB"
    );
    // The configuration the Lambda functions use, from the environment scripts/test sets.
    let config = client::lambda_config(|name| std::env::var(name).ok())
        .unwrap()
        .interceptor(trips.clone())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A store on a new, empty table of its own, and the record of its round trips.
pub async fn fresh_dynamo_store() -> (DynamoStore, RoundTrips) {
    let trips = RoundTrips::default();
    let client = local_client(&trips);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    schema::create_table(&client, &table)
        .await
        .expect("create a table on DynamoDB Local");
    trips.take();
    (DynamoStore::new(client, table), trips)
}
