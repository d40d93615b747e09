//! Realtime delivery and webhooks: the one event envelope ([`envelope`]), the connect
//! tickets sockets open with ([`tickets`]), Standard Webhooks signing and retries
//! ([`webhooks`]), one attempt at a webhook delivery ([`delivery`]), the store traits
//! they need ([`store`]), events published at the store's commit for the local server
//! ([`publishing`]), and production's WebSocket handshake through API Gateway
//! ([`gateway`]).

pub mod delivery;
pub mod envelope;
pub mod gateway;
pub mod publishing;
pub mod store;
pub mod tickets;
pub mod webhooks;

pub use envelope::{Event, EventType, Visibility};
pub use publishing::{EventSink, Publishing};
pub use store::{
    Audience, ConnectionReader, ConnectionWriter, TicketIssuer, TicketRedeemer, WebhookRegistry,
};
pub use tickets::{ConnectTicket, Subscriber, TICKET_LIFETIME_MS};
pub use webhooks::{WebhookEndpoint, WebhookSecret, WebhookSubscription, WebhookUrl};
