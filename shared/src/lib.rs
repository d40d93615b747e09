//! SupportZen's shared core. Layers, each using only those above it:
//!
//! - [`domain`] and [`endpoint`]: typed values and the endpoint table;
//! - [`config`]: the settings read from the environment (among them the attachment
//!   limits, domain values);
//! - [`events`]: the event envelope, connect tickets, webhook signing and retries, and
//!   which committed change yields which events: pure values and rules;
//! - [`auth`]: customer authentication (HMAC, trust-on-first-use pins, rotation);
//! - [`idempotency`]: safe retries (keys, body digests, receipts, replays);
//! - [`store`]: the narrow store traits, one file per capability, and the decorator that
//!   publishes committed writes' events;
//! - [`error`]: the one error type;
//! - [`notify`]: the unread-reply emails (composed once, text and escaped HTML, one-click
//!   unsubscribe) and the mailer port;
//! - [`flows`]: the use cases, free of any transport (among them `flows::due`, the due
//!   work: snoozes waking, unread-reply emails);
//! - the transports: [`http`] (requests in, the documented envelope out, the endpoint
//!   handlers) and [`ws`] (production's WebSocket handshake through API Gateway);
//! - [`https_client`]: what the adapters that speak HTTPS share (Amazon's roots, the
//!   hyper client); [`aws_http`]: that client as the AWS SDK's, beside a store's own
//!   DynamoDB reads;
//! - the adapters: [`dynamo`], the production store; [`s3`], where attachments live in
//!   production (signed uploads, checks and downloads); [`ses`], production's mailer
//!   (SES v2, signed as S3's calls are); and [`webhook_client`], webhook
//!   deliveries' HTTP client; nothing above imports them;
//! - [`lambda`]: what every Lambda binary's `main` runs, the one place that binds the
//!   handlers to the DynamoDB store; [`metrics`]: the business counters they log.
//!
//! The Lambda binaries in `functions/` and the `supportzen` CLI are thin shells around
//! this crate; the embedded SQLite store is the `supportzen-sqlite` crate.

pub mod auth;
pub mod aws_http;
pub mod config;
pub mod domain;
pub mod dynamo;
pub mod endpoint;
pub mod error;
pub mod events;
pub mod flows;
pub mod http;
pub mod https_client;
pub mod idempotency;
pub mod lambda;
pub mod metrics;
pub mod notify;
pub mod s3;
pub mod ses;
pub mod store;
pub mod webhook_client;
pub mod ws;

pub use config::Config;
pub use error::ApiError;
