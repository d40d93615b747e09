//! Classifies DynamoDB failures: what a client may retry (503 with `Retry-After`)
//! and what is a bug or misconfiguration (500).

use crate::store::StoreError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;
use std::time::Duration;

/// How long clients are asked to wait when DynamoDB is throttling or unreachable.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Error codes that mean "busy or briefly unavailable; the same request may succeed later".
const RETRYABLE_CODES: [&str; 9] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
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

/// Maps any SDK failure the operation did not handle itself. Connection failures and
/// timeouts (DynamoDB unreachable) are retryable; so are throttling and service errors,
/// which the SDK has already retried with backoff by the time they get here.
pub fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let retryable = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => is_retryable_code(service.err().code()),
        _ => false,
    };
    let reason = format!("{operation}: {}", DisplayErrorContext(err));
    if retryable {
        unavailable(reason)
    } else {
        StoreError::Internal(reason)
    }
}

/// True when any reason says the transaction was throttled or collided with another one.
pub fn cancelled_for_retryable_reason(reasons: &[CancellationReason]) -> bool {
    reasons
        .iter()
        .any(|reason| is_retryable_code(reason.code()))
}
