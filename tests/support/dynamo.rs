//! DynamoDB Local for tests: a fresh table per test, and a record of every round trip
//! the store's HTTP client makes (the store's calls, and the SDK's for tables).

use std::sync::{Arc, Mutex};
use supportzen_shared::aws_http::Watch;
use supportzen_shared::dynamo::client::Dynamo;
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

impl Watch for RoundTrips {
    fn started(&self, operation: &str) {
        self.calls.lock().unwrap().push(operation.to_string());
        let mut in_flight = self.in_flight.lock().unwrap();
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
    }

    fn ended(&self) {
        let mut in_flight = self.in_flight.lock().unwrap();
        in_flight.0 = in_flight.0.saturating_sub(1);
    }
}

/// DynamoDB Local as a store reaches it, with `trips` recording its calls. Refuses to
/// run without `AWS_ENDPOINT_URL_DYNAMODB`, so tests never touch a real AWS account.
pub fn local_dynamo(trips: &RoundTrips) -> Dynamo {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "the DynamoDB tests need DynamoDB Local: run ./scripts/test, which starts it \
         and sets AWS_ENDPOINT_URL_DYNAMODB"
    );
    // The configuration the Lambda functions use, from the environment scripts/test sets.
    client::lambda_config(|name| std::env::var(name).ok())
        .unwrap()
        .watched(Arc::new(trips.clone()))
        .build()
        .unwrap()
}

/// The SDK's client of [`local_dynamo`], for what is not the store's (tables, streams).
pub fn local_client(trips: &RoundTrips) -> aws_sdk_dynamodb::Client {
    local_dynamo(trips).client
}

/// A store on a new, empty table of its own, and the record of its round trips.
pub async fn fresh_dynamo_store() -> (DynamoStore, RoundTrips) {
    let trips = RoundTrips::default();
    let dynamo = local_dynamo(&trips);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    schema::create_table(&dynamo.client, &table)
        .await
        .expect("create a table on DynamoDB Local");
    trips.take();
    (DynamoStore::new(dynamo, table), trips)
}
