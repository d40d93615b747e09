//! Classifies DynamoDB failures: what a client may retry (503 with `Retry-After`)
//! and what is a bug or misconfiguration (500). Each is described in one line (the
//! service's code and message, or what kept the call from being answered); the SDK's
//! full error context, which holds raw responses and debug structs, is logged at
//! `debug` level only: by the CLI with `RUST_LOG=debug`, never by the functions, whose
//! builds leave lines below INFO out (the crate's `lambda` feature).

use crate::store::StoreError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;
use std::time::Duration;

/// How long clients are asked to wait when DynamoDB is throttling or unreachable.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Error codes that mean "busy or briefly unavailable; the same request may succeed later".
const RETRYABLE_CODES: [&str; 10] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    // A global table's write colliding with one in another region (the SDK retries it).
    "ReplicatedWriteConflictException",
    // As they appear in a transaction's cancellation reasons:
    "ThrottlingError",
    "TransactionConflict",
];

pub fn is_retryable_code(code: Option<&str>) -> bool {
    code.is_some_and(|code| {
        RETRYABLE_CODES.contains(&code) || code == "ProvisionedThroughputExceeded"
    })
}

pub fn unavailable(reason: String) -> StoreError {
    StoreError::Unavailable {
        reason,
        retry_after: RETRY_AFTER,
    }
}

/// Maps any failure of an SDK call (the operators' scans and batch deletes; the store's
/// own calls are classed in `wire`) that the operation did not handle itself.
/// Connection failures and timeouts (DynamoDB unreachable) are retryable; so are
/// throttling and service errors, which the SDK has already retried with backoff by the
/// time they get here. A missing
/// table is a 503 too: the store is not there to answer, which no client can mend, but
/// which is an outage rather than a bug (the cause goes to the log).
pub fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let retryable = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code();
            is_retryable_code(code) || code == Some("ResourceNotFoundException")
        }
        _ => false,
    };
    let reason = format!("{operation}: {}", describe(&err));
    tracing::debug!(operation, error = %DisplayErrorContext(&err), "DynamoDB call failed");
    if retryable {
        unavailable(reason)
    } else {
        StoreError::Internal(reason)
    }
}

/// A conditional call's output, or `None` when DynamoDB refused it on its condition
/// (nothing was written); any other failure is [`classify`]'d.
pub fn unless_condition_failed<T, E, R>(
    operation: &str,
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(err)
            if err.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(err) => Err(classify(operation, err)),
    }
}

/// What went wrong, in one line: the service's error code and message, or why the
/// request got no answer (the innermost cause's first line, e.g. "Connection refused").
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => crate::aws_http::innermost(err),
            }
        }
        SdkError::TimeoutError(_) => "DynamoDB did not answer in time".to_string(),
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            format!(
                "cannot connect to DynamoDB: {}",
                crate::aws_http::innermost(err)
            )
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            "timed out connecting to DynamoDB".to_string()
        }
        _ => crate::aws_http::innermost(err),
    }
}

/// True when any reason says the transaction was throttled or collided with another one.
pub fn cancelled_for_retryable_reason(reasons: &[CancellationReason]) -> bool {
    reasons
        .iter()
        .any(|reason| is_retryable_code(reason.code()))
}
