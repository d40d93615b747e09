//! DynamoDB Local for tests: a fresh table per test, and an interceptor that records
//! every round trip the SDK makes.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use std::sync::{Arc, Mutex};
use supportzen_shared::dynamo::{DynamoStore, client, schema};

/// Every attempt (HTTP round trip) the client made, by operation name, in order, and
/// the most that were under way at once.
#[derive(Clone, Debug, Default)]
pub struct RoundTrips {
    calls: Arc<Mutex<Vec<String>>>,
    /// Attempts under way now, and the most at once since the last `take_peak`.
    in_flight: Arc<Mutex<(usize, usize)>>,
}

impl RoundTrips {
    /// Takes the calls recorded so far, leaving the record empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }

    /// The most attempts under way at once since the last call (what a cold client
    /// opens as many connections for).
    pub fn take_peak(&self) -> usize {
        let (now, peak) = &mut *self.in_flight.lock().unwrap();
        std::mem::replace(peak, *now)
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
        self.calls.lock().unwrap().push(operation);
        let mut in_flight = self.in_flight.lock().unwrap();
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut in_flight = self.in_flight.lock().unwrap();
        in_flight.0 = in_flight.0.saturating_sub(1);
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
