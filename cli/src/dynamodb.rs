//! The CLI's side of DynamoDB: waiting for DynamoDB Local to come up, refusing to serve a
//! table that is not there, and turning failures into one sentence that says what to do.
//! The SDK's own detail is logged at `RUST_LOG=debug`.

use std::time::{Duration, Instant};
use supportzen_shared::dynamo::errors::describe;
use supportzen_shared::dynamo::schema::{self, TableProblem};
use supportzen_shared::store::StoreError;

/// How long `table create` waits for DynamoDB to accept connections: DynamoDB Local takes
/// a few seconds to start. (Its first run's npm install happens before it starts, and
/// `scripts/dynamodb-local --background` returns only once it listens.)
pub const CONNECT_WAIT: Duration = Duration::from_secs(60);

/// Where the SDK sends DynamoDB calls: the endpoint override, or AWS itself.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| "AWS (no AWS_ENDPOINT_URL_DYNAMODB set)".to_string())
}

/// What to do about a failure whose one-line description is `cause`, if we can tell.
fn hint(cause: &str, table: &str) -> Option<String> {
    if cause.contains("cannot connect") || cause.contains("timed out connecting") {
        Some(format!(
            "Is DynamoDB running at {}? For DynamoDB Local, start scripts/dynamodb-local PORT and export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:PORT in this shell too.",
            endpoint()
        ))
    } else if cause.contains("ResourceNotFoundException") {
        Some(format!(
            "The table {table} does not exist at {}: create it with supportzen table create --store dynamodb:{table}.",
            endpoint()
        ))
    } else if cause.contains("credential") {
        Some("No AWS credentials were found: for DynamoDB Local any will do (export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local); for AWS, set AWS_PROFILE or run aws sso login.".to_string())
    } else if cause.contains("signing region") {
        Some("No AWS region is set: export AWS_REGION (for DynamoDB Local any region will do, e.g. us-east-1).".to_string())
    } else {
        None
    }
}

/// One line for a failed operator command on `table`: what failed, why, and what to do.
pub fn explain(what: &str, cause: &str, table: &str) -> String {
    match hint(cause, table) {
        Some(hint) => format!("{what}: {cause}. {hint}"),
        None => format!("{what}: {cause}"),
    }
}

/// [`explain`] for a store operation.
pub fn explain_store(what: &str, err: &StoreError, table: &str) -> String {
    let cause = match err {
        StoreError::Unavailable { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    explain(what, &cause, table)
}

/// Waits until DynamoDB accepts connections, for at most [`CONNECT_WAIT`]; says once on
/// stderr that it is waiting. Other failures (credentials, region) are not waited out.
pub async fn wait_until_reachable(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), String> {
    let started = Instant::now();
    let mut said = false;
    loop {
        let err = match client.list_tables().limit(1).send().await {
            Ok(_) => return Ok(()),
            Err(err) => describe(&err),
        };
        let refused = err.contains("cannot connect") || err.contains("timed out connecting");
        if !refused || started.elapsed() >= CONNECT_WAIT {
            return Err(explain("cannot reach DynamoDB", &err, table));
        }
        if !said {
            eprintln!(
                "waiting up to {} s for DynamoDB at {} to accept connections (for DynamoDB Local: is scripts/dynamodb-local running? scripts/dynamodb-local --background PORT starts it and returns once it listens)...",
                CONNECT_WAIT.as_secs(),
                endpoint()
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Refuses to serve a table that is missing or laid out for another version.
pub async fn check_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), String> {
    schema::check_table(client, table).await.map_err(|problem| match problem {
        TableProblem::Missing => format!(
            "the table {table} does not exist at {}: create it with supportzen table create --store dynamodb:{table}",
            endpoint()
        ),
        TableProblem::OtherSchema(_) => format!("table {table}: {problem}"),
        TableProblem::Unreadable(cause) => explain(&format!("cannot read the table {table}"), &cause, table),
    })
}
