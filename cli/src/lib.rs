//! `supportzen`: the SupportZen API on one machine. It serves the same handlers the
//! Lambda functions run, over the embedded SQLite store (`supportzen-sqlite`) or
//! DynamoDB, and carries the operator commands (provision users, sign tokens, invoke a
//! function on a sample event, mint agents' tokens), and the realtime socket the Lambdas
//! leave to API Gateway, and webhook deliveries from a durable outbox.

pub mod agent_tokens;
pub mod attachments;
pub mod console;
pub mod cors;
pub mod data_rights;
pub mod due;
pub mod dynamodb;
pub mod files;
pub mod invoke;
pub mod listen;
pub mod log_fields;
pub mod mail;
pub mod messenger;
pub mod ops;
pub mod output;
pub mod realtime;
pub mod relay;
pub mod replay;
pub mod server;
pub mod sinks;
pub mod store_url;
pub mod webhooks;
