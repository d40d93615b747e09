//! The API over HTTP, against `supportzen serve`'s server on a random port, on SQLite and
//! on DynamoDB Local: one test binary, one module per area.

mod agent_api;
mod attachments;
mod cors;
mod customers;
mod deploy_web;
mod due_work;
mod emails;
mod http_api;
mod idempotency;
mod openapi;
mod ratings;
mod read_api;
mod read_marks;
mod realtime;
mod redrive_queue;
mod replay_events;
mod webhooks;
