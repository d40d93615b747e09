//! The `webhook-deliver` function: each SQS message carries one [`Delivery`] (queued by
//! `events-stream`), and each receipt of it is one attempt, made with the endpoint as it
//! is now (URL, secret, enabled) and signed at the attempt's time:
//!
//! - 2xx: done (the message is deleted);
//! - 410 Gone: the endpoint is disabled, and the message deleted;
//! - anything else: the message is hidden for the next wait of [`RETRY_DELAYS`] (its
//!   receive count is the attempt's number) and reported failed, so SQS hands it over
//!   again then. After the eighth attempt there is no wait left: the queue's redrive
//!   policy (`maxReceiveCount` 8) moves it to the dead-letter queue at its next receipt,
//!   24 hours after the first attempt.
//!
//! A message for an endpoint removed, disabled or no longer subscribed is dropped. One
//! that is not a delivery is reported failed without a wait, so it ends in the
//! dead-letter queue to be looked at. These decisions are the local server's too
//! ([`Delivery::recipient`], [`Next::after`]).
//!
//! The handler only needs narrow traits ([`Attempt`], [`Visibility`] and the store's
//! [`WebhookRegistry`]), so it is tested with in-memory fakes; `sdk.rs` holds the SQS
//! side.

pub mod sdk;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use futures_util::future::join_all;
use std::future::Future;
use std::time::Duration;
use supportzen_shared::events::WebhookEndpoint;
use supportzen_shared::events::delivery::{Delivery, Failed, Next, Outcome};
use supportzen_shared::events::webhooks::RETRY_DELAYS;
use supportzen_shared::metrics::{Counter, Counters};
use supportzen_shared::store::WebhookRegistry;
use supportzen_shared::webhook_client::WebhookClient;

/// One delivery attempt (the shared client, or a fake).
pub trait Attempt {
    fn attempt(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &Delivery,
    ) -> impl Future<Output = Outcome> + Send;
}

impl Attempt for WebhookClient {
    fn attempt(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &Delivery,
    ) -> impl Future<Output = Outcome> + Send {
        WebhookClient::attempt(self, endpoint, delivery)
    }
}

/// Hides a received message until its next attempt is due (`ChangeMessageVisibility`).
pub trait Visibility {
    fn hide_for(
        &self,
        receipt_handle: &str,
        wait: Duration,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Handled {
    /// Delete it: delivered, or nothing more to do.
    Done,
    /// Keep it: it comes back for another attempt, or goes to the dead-letter queue.
    Again,
}

/// Attempts every message of the batch at once and names those to keep.
pub async fn handle<S, A, V>(
    store: &S,
    client: &A,
    visibility: &V,
    messages: Vec<SqsMessage>,
    counters: &Counters,
) -> SqsBatchResponse
where
    S: WebhookRegistry + Sync,
    A: Attempt + Sync,
    V: Visibility + Sync,
{
    // One read of the endpoints for the batch: a few items, strongly consistent.
    let endpoints = match store.webhooks().await {
        Ok(endpoints) => Some(endpoints),
        Err(err) => {
            tracing::warn!(error = %err, "webhook endpoints unreadable; the batch waits");
            None
        }
    };
    let attempts = messages.iter().map(|message| async {
        let handled = one(
            store,
            client,
            visibility,
            endpoints.as_deref(),
            message,
            counters,
        )
        .await;
        (message.message_id.clone(), handled)
    });
    let mut response = SqsBatchResponse::default();
    for (message_id, handled) in join_all(attempts).await {
        match (handled, message_id) {
            (Handled::Done, _) => {}
            (Handled::Again, Some(id)) => {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
            (Handled::Again, None) => {
                tracing::error!("a message without a messageId cannot be kept");
            }
        }
    }
    response
}

/// One message: one attempt, then what to do with the message.
async fn one<S, A, V>(
    store: &S,
    client: &A,
    visibility: &V,
    endpoints: Option<&[WebhookEndpoint]>,
    message: &SqsMessage,
    counters: &Counters,
) -> Handled
where
    S: WebhookRegistry + Sync,
    A: Attempt + Sync,
    V: Visibility + Sync,
{
    let delivery: Delivery = match message.body.as_deref().map(serde_json::from_str) {
        Some(Ok(delivery)) => delivery,
        Some(Err(err)) => {
            tracing::error!(error = %err, "not a delivery; to the dead-letter queue");
            return Handled::Again;
        }
        None => {
            tracing::error!("a message without a body; to the dead-letter queue");
            return Handled::Again;
        }
    };
    // The attempt's number: 1 at the first receipt. Lambda always sets it.
    let attempt = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(1);
    let (endpoint_id, event_id) = (delivery.endpoint_id.as_str(), delivery.event_id.as_str());
    let outcome = match endpoints {
        None => Outcome::Retry("webhook endpoints unreadable".into()),
        Some(endpoints) => {
            let endpoint = endpoints.iter().find(|e| e.id == delivery.endpoint_id);
            let Some(endpoint) = delivery.recipient(endpoint) else {
                tracing::info!(
                    endpoint_id,
                    event_id,
                    "endpoint removed, disabled or no longer subscribed; delivery dropped"
                );
                return Handled::Done;
            };
            client.attempt(endpoint, &delivery).await
        }
    };
    match Next::after(attempt, &outcome, &RETRY_DELAYS) {
        Next::Done => {
            counters.add(Counter::WebhookDelivered, 1);
            tracing::info!(endpoint_id, event_id, attempt, "delivered");
            Handled::Done
        }
        Next::Disable => match store.disable_webhook(endpoint_id).await {
            Ok(_) => {
                tracing::warn!(endpoint_id, event_id, "endpoint answered 410: disabled");
                Handled::Done
            }
            // The next attempt meets the 410 again and disables it then.
            Err(err) => {
                tracing::error!(endpoint_id, error = %err, "endpoint answered 410 but is not disabled yet");
                keep(
                    visibility,
                    message,
                    attempt,
                    Failed::after(attempt, &RETRY_DELAYS),
                )
                .await
            }
        },
        Next::Failed { reason, then } => {
            counters.add(
                match then {
                    Failed::Dead => Counter::WebhookDead,
                    Failed::RetryAfter(_) => Counter::WebhookFailed,
                },
                1,
            );
            tracing::warn!(endpoint_id, event_id, attempt, reason, "attempt failed");
            keep(visibility, message, attempt, then).await
        }
    }
}

/// Keeps the message after failed attempt number `attempt`: hidden until the next
/// attempt is due or, when that was the last, left to the redrive policy.
async fn keep<V: Visibility>(
    visibility: &V,
    message: &SqsMessage,
    attempt: u32,
    then: Failed,
) -> Handled {
    match (then, message.receipt_handle.as_deref()) {
        (Failed::RetryAfter(wait), Some(handle)) => {
            if let Err(err) = visibility.hide_for(handle, wait).await {
                // It comes back after the queue's visibility timeout instead: sooner.
                tracing::warn!(error = err, "the retry's wait is not set");
            }
        }
        (Failed::RetryAfter(_), None) => {
            tracing::warn!("a message without a receiptHandle cannot wait")
        }
        (Failed::Dead, _) => {
            tracing::error!(attempt, "last attempt failed; to the dead-letter queue")
        }
    }
    Handled::Again
}

#[cfg(test)]
mod tests;
