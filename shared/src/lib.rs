//! SupportZen's shared core: the client API's domain values, HMAC authentication,
//! the store traits and the four endpoint handlers. The Lambda binaries in
//! `functions/` and the `supportzen` CLI are thin shells around this crate.

pub mod auth;
pub mod config;
pub mod domain;
pub mod dynamo;
pub mod error;
pub mod handlers;
pub mod lambda;
pub mod request;
pub mod response;
pub mod store;

pub use config::Config;
pub use error::ApiError;
