//! `supportzen`: the SupportZen API on one machine. It serves the same handlers the
//! Lambda functions run, over the embedded SQLite store (`supportzen-sqlite`) or
//! DynamoDB, and carries the operator commands (provision users, sign tokens, invoke a
//! function on a sample event, mint agents' tokens).

pub mod agent_tokens;
pub mod cors;
pub mod dynamodb;
pub mod invoke;
pub mod output;
pub mod server;
pub mod store_url;
