//! The one error type every flow and handler returns. `http::response` is the one
//! place it becomes HTTP (status, headers, envelope).
//!
//! Each variant's message is exactly what the client may see. Internal details of an
//! [`ApiError::Internal`], the reason of an [`ApiError::Unavailable`] and the cause of an
//! [`ApiError::Unauthorized`] are logged with the request id and never put in a body.

use crate::auth::AuthError;
use crate::domain::Scope;
use crate::idempotency::ReplayError;
use crate::store::StoreError;
use std::time::Duration;

/// Everything that can go wrong while serving a request, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not a JSON object.
    #[error("request body must be a JSON object: {0}")]
    InvalidJson(String),
    /// One field is missing, of the wrong type or out of range: "kind is required",
    /// "email must be a valid email address" (each reason reads on from the field's name).
    #[error("{field} {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// Missing or malformed `Authorization` header, unknown user or wrong token. A
    /// missing or malformed header is named, so a client can fix its request; a
    /// well-formed credential that fails says no more than that (the cause is logged).
    #[error("{}", unauthorized_message(.0))]
    Unauthorized(AuthError),
    /// An agent's token is valid but lacks the scope the route needs.
    #[error("this token lacks the scope {}", .0.as_str())]
    Forbidden(Scope),
    /// No such chat or ticket, or it belongs to someone else (never reveals which).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The chat or ticket exists and is the caller's, but it is closed.
    #[error("this {0} is closed")]
    Closed(&'static str),
    /// The request conflicts with the conversation's state (other than being closed):
    /// `code` says how (`conversation_not_solved`, `rating_final`), `message` what to do.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    /// The `Idempotency-Key` was used before, by this user on this endpoint, with
    /// another body. Nothing is written; the client must pick a new key.
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    /// The body is larger than [`crate::http::request::MAX_BODY_BYTES`].
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The customer sent `per_minute` messages this minute; this one was not written.
    #[error("you sent {per_minute} messages this minute: send this one again after {}", seconds(*retry_after))]
    TooManyMessages {
        per_minute: u32,
        retry_after: Duration,
    },
    /// The request's address opened `per_hour` new accounts this hour (by trust on first
    /// request); this one was not created.
    #[error("{per_hour} new accounts were opened from this address this hour: try again after {}", seconds(*retry_after))]
    TooManyNewAccounts {
        per_hour: u32,
        retry_after: Duration,
    },
    /// The store is throttling or briefly unavailable; the client should retry.
    /// `reason` is for the logs only.
    #[error("the service is busy, retry after {}", seconds(*retry_after))]
    Unavailable {
        retry_after: Duration,
        reason: String,
    },
    /// Anything unexpected. The string is for the logs only.
    #[error("internal error")]
    Internal(String),
}

/// What a 401's body says: the header's shape, or nothing about a well-formed credential.
fn unauthorized_message(cause: &AuthError) -> &'static str {
    match cause {
        AuthError::MissingHeader => "missing Authorization header",
        AuthError::NotBearer => "malformed Authorization header: expected Bearer <token>",
        AuthError::Malformed => "malformed Authorization header: the token must be 64 hex digits",
        AuthError::UnknownUser | AuthError::WrongToken | AuthError::NoAgentClaims => {
            "authentication failed"
        }
    }
}

impl ApiError {
    pub fn field(field: &'static str, reason: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// Stable, machine-readable code for the `error.code` field.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Closed(_) => "conversation_closed",
            ApiError::Conflict { code, .. } => code,
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::TooManyMessages { .. } => "too_many_messages",
            ApiError::TooManyNewAccounts { .. } => "too_many_new_accounts",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The field at fault, when exactly one is.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            ApiError::InvalidField { field, .. } => Some(field),
            ApiError::IdempotencyKeyReused => Some("Idempotency-Key"),
            _ => None,
        }
    }

    /// Seconds the client should wait before retrying, for a `Retry-After` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Unavailable { retry_after, .. }
            | ApiError::TooManyMessages { retry_after, .. }
            | ApiError::TooManyNewAccounts { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl ApiError {
    /// Maps a store failure for a conversation of the given kind ("chat" or "ticket").
    pub fn from_store(err: StoreError, kind: &'static str) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound(kind),
            StoreError::Closed => ApiError::Closed(kind),
            // Only reached once a flow has read and tried again several times.
            StoreError::Changed => ApiError::Unavailable {
                retry_after: Duration::from_secs(1),
                reason: "conversation kept changing".into(),
            },
            // Only reached if a first-use race is lost twice; the caller's token was not the winner's.
            StoreError::UserExists => ApiError::Unauthorized(AuthError::WrongToken),
            // Only reached if an idempotency-key race is lost and the winner's receipt has
            // vanished by the time it is read; a retry will find the answer or write anew.
            StoreError::ReceiptExists => ApiError::Unavailable {
                retry_after: Duration::from_secs(1),
                reason: "idempotency key raced".into(),
            },
            StoreError::RateLimited {
                per_minute,
                retry_after,
            } => ApiError::TooManyMessages {
                per_minute,
                retry_after,
            },
            StoreError::AccountsLimited {
                per_hour,
                retry_after,
            } => ApiError::TooManyNewAccounts {
                per_hour,
                retry_after,
            },
            StoreError::Unavailable {
                retry_after,
                reason,
            } => ApiError::Unavailable {
                retry_after,
                reason,
            },
            StoreError::AttachmentUnavailable(id) => unavailable_attachment(&id),
            StoreError::UnknownMessage => {
                ApiError::field("up_to", "must be the id of a message in this conversation")
            }
            StoreError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

/// A message named an upload it may not attach: missing, someone else's, or attached
/// already. One answer for all three, so nobody learns whether another's id exists.
pub fn unavailable_attachment(id: &crate::domain::AttachmentId) -> ApiError {
    ApiError::field(
        "attachments",
        format!("names {id}, which is not an upload of yours waiting to be attached"),
    )
}

/// "1 second", "2 seconds": a wait as the client should hear it, at least a second.
fn seconds(wait: Duration) -> String {
    match wait.as_secs().max(1) {
        1 => "1 second".to_string(),
        n => format!("{n} seconds"),
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::Unauthorized(err)
    }
}

impl From<ReplayError> for ApiError {
    fn from(err: ReplayError) -> Self {
        match err {
            ReplayError::OtherBody => ApiError::IdempotencyKeyReused,
            ReplayError::Unreadable(detail) => ApiError::Internal(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_said_in_whole_seconds_with_the_right_number() {
        let busy = |secs| ApiError::Unavailable {
            retry_after: Duration::from_secs(secs),
            reason: String::new(),
        };
        assert_eq!(
            busy(1).to_string(),
            "the service is busy, retry after 1 second"
        );
        assert_eq!(
            busy(0).to_string(),
            "the service is busy, retry after 1 second"
        );
        assert_eq!(
            busy(3).to_string(),
            "the service is busy, retry after 3 seconds"
        );
    }
}
