//! The API over HTTP, against `supportzen serve`'s server on a random port, on SQLite and
//! on DynamoDB Local: one test binary, one module per area.

mod agent_api;
mod attachments;
mod cors;
mod http_api;
mod idempotency;
mod openapi;
mod ratings;
mod read_api;
mod realtime;
mod webhooks;
