//! The registered webhook endpoints.

use super::StoreError;
use crate::events::{WebhookEndpoint, WebhookSubscription};
use std::future::Future;

/// The registered webhook endpoints.
pub trait WebhookRegistry {
    fn add_webhook(
        &self,
        endpoint: &WebhookEndpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every endpoint, enabled or not, oldest first.
    fn webhooks(&self) -> impl Future<Output = Result<Vec<WebhookEndpoint>, StoreError>> + Send;

    /// Every endpoint's subscription (no URL, no secret), oldest first: what deciding
    /// whom an event goes to reads.
    fn subscriptions(
        &self,
    ) -> impl Future<Output = Result<Vec<WebhookSubscription>, StoreError>> + Send;

    /// Stops deliveries to it (after a 410). `false` if there is no such endpoint.
    fn disable_webhook(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes it. `false` if there is no such endpoint.
    fn remove_webhook(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
