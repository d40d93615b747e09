//! Where the local server's committed events go: the realtime sockets' hub and the
//! webhook outbox. (Production gets the same events from the table's stream instead; see
//! `functions/events-stream`.)

use crate::realtime::Hub;
use crate::webhooks::WebhookOutbox;
use std::sync::Arc;
use supportzen_shared::events::Event;
use supportzen_shared::store::{EventSink, WebhookRegistry};

/// Every local consumer of committed events.
#[derive(Clone)]
pub struct LocalSinks<S> {
    pub realtime: Arc<Hub>,
    /// Deliveries to the endpoints of store `S`; `None` where none are to be made (tests
    /// of other things).
    pub webhooks: Option<WebhookOutbox<S>>,
}

impl<S: WebhookRegistry + Send + Sync> EventSink for LocalSinks<S> {
    /// The sockets first: they are what people watch. Webhooks follow once the delivery
    /// is on disk.
    async fn publish(&self, event: Event) {
        let Some(webhooks) = &self.webhooks else {
            return self.realtime.as_ref().publish(event).await;
        };
        self.realtime.as_ref().publish(event.clone()).await;
        webhooks.publish(event).await;
    }
}
