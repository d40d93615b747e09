//! SupportZen's shared core. Layers, each using only those above it:
//!
//! - [`domain`] and [`endpoint`]: typed values and the endpoint table;
//! - [`auth`]: customer authentication (HMAC, trust-on-first-use pins, rotation);
//! - [`idempotency`]: safe retries (keys, body digests, receipts, replays);
//! - [`store`]: the narrow store traits, and [`dynamo`], the production store;
//! - [`s3`]: where attachments live in production (signed uploads and downloads);
//! - [`error`]: the one error type;
//! - [`events`]: the event envelope, realtime tickets and webhooks;
//! - [`flows`]: the use cases, free of any transport;
//! - [`http`]: requests in, the documented envelope out, the endpoint handlers;
//! - [`lambda`]: what every Lambda binary's `main` runs.
//!
//! The Lambda binaries in `functions/` and the `supportzen` CLI are thin shells around
//! this crate; the embedded SQLite store is the `supportzen-sqlite` crate.

pub mod auth;
pub mod config;
pub mod domain;
pub mod dynamo;
pub mod endpoint;
pub mod error;
pub mod events;
pub mod flows;
pub mod http;
pub mod idempotency;
pub mod lambda;
pub mod s3;
pub mod store;

pub use config::Config;
pub use error::ApiError;
