//! Events, as pure values and rules (no I/O, no store): the one event envelope
//! ([`envelope`]), the connect tickets realtime sockets open with ([`connect_ticket`]),
//! events about a customer rather than a conversation ([`customer`]), Standard Webhooks signing and the retry schedule ([`webhooks`]), what comes of a
//! webhook delivery's attempt ([`delivery`]), and which committed change yields which
//! events ([`changes`]); typing indicators, which are never events ([`typing`]).
//!
//! Making an attempt is the webhook client's (`crate::webhook_client`); the store traits
//! realtime delivery and webhooks need are in `crate::store`; the WebSocket entry point
//! is a transport (`crate::ws`).

pub mod changes;
pub mod connect_ticket;
pub mod customer;
pub mod delivery;
pub mod envelope;
mod journaled;
pub mod typing;
pub mod webhooks;

pub use changes::{Change, ConversationState};
pub use connect_ticket::{ConnectTicket, Subscriber, TICKET_LIFETIME_MS};
pub use customer::{CustomerEvent, WebhookEvent};
pub use envelope::{Event, EventType, Visibility};
pub use typing::{ClientFrame, TYPING_INTERVAL_MS, Typing, TypingThrottle};
pub use webhooks::{WebhookEndpoint, WebhookSecret, WebhookSubscription, WebhookUrl};
