//! What realtime delivery and webhooks need from a store, as narrow traits: a function
//! that only issues tickets can only write tickets.

use super::tickets::Subscriber;
use super::webhooks::{WebhookEndpoint, WebhookSubscription};
use crate::store::StoreError;
use std::future::Future;

/// Keeps connect tickets, by digest, until they expire or are redeemed.
pub trait TicketIssuer {
    /// Stores a ticket (its digest) for `subscriber`, redeemable until `expires_at` (ms).
    fn put_ticket(
        &self,
        digest: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Redeems connect tickets, each once.
pub trait TicketRedeemer {
    /// Deletes the ticket and returns whom it was for, if it existed and had not expired
    /// at `now` (ms). Of two redemptions racing for one ticket, one gets it.
    fn take_ticket(
        &self,
        digest: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Subscriber>, StoreError>> + Send;
}

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

/// Who an event's connections are looked up for: its customer, or all agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    Customer(crate::domain::UserId),
    Agents,
}

impl Subscriber {
    /// The audience whose connections this subscriber's connection is listed under.
    pub fn audience(&self) -> Audience {
        match self {
            Subscriber::Customer(user) => Audience::Customer(user.clone()),
            Subscriber::Agent(_) => Audience::Agents,
        }
    }
}

/// Production's open WebSocket connections: API Gateway holds the sockets, the table
/// holds whom each is for, listed under its [`Audience`] so fan-out is a query, never a
/// scan. Items expire with API Gateway's two-hour connection limit.
pub trait ConnectionWriter {
    /// Lists `connection_id` (API Gateway's id) for `subscriber` until `expires_at` (ms).
    fn put_connection(
        &self,
        connection_id: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes exactly this connection, whenever it was made (on `$disconnect`).
    fn remove_connection(
        &self,
        connection_id: &str,
        audience: &Audience,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// After a post to this connection answered 410 Gone at `now` (ms): removes it only
    /// if it was made more than [`super::gateway::GONE_GRACE_MS`] before, since one still
    /// being opened answers 410 too. `true` if it was removed; `false` if it was kept as
    /// too recent, or was not listed.
    fn remove_gone_connection(
        &self,
        connection_id: &str,
        audience: &Audience,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Reads the connections an event goes to.
pub trait ConnectionReader {
    /// The ids of the connections listed under `audience` and not expired at `now` (ms).
    fn connections(
        &self,
        audience: &Audience,
        now: i64,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}
