//! The production store: one DynamoDB table, single-table design (see
//! `docs/data-model.md` and [`items`]).
//!
//! Every write that depends on state is conditional and every multi-item write is one
//! `TransactWriteItems`, so concurrent Lambdas never read-then-write:
//! - create: user (put if absent, or update if present) + conversation + first message;
//! - append: update the conversation *on condition* that it exists, is the caller's and is
//!   open, + put the message;
//! - ticket numbers: `UpdateItem ADD` on one counter item.
//!
//! A request with an idempotency key adds its receipt to the same transaction (put on
//! condition that no live receipt has the key), and reads the receipt with the user in
//! one `BatchGetItem` instead of the `GetItem`.
//!
//! Round trips per request: live-create 2, live-chat 2, ticket-create 3, ticket-append 2
//! (one read for authentication, plus the above), with or without an idempotency key.
//!
//! One file per aggregate, as in the SQLite store: `users.rs`, `conversations.rs`
//! (with their messages; reading them is `conversation_reads.rs`), `agents.rs` (the
//! agents' reads and writes), `ticket_numbers.rs`, `receipts.rs`, `connections.rs`
//! (connect tickets and WebSocket connections), `webhooks.rs`, `customers.rs` (the agents'
//! customer lookup); `items.rs` lays out the
//! keys and `table.rs` holds the plumbing they share, whose calls `wire/` sends (the
//! SDK's builders describe them; its client serves only what is not a request's:
//! creating and describing the table, the operators' scans and batch deletes in
//! `backfill.rs` and `erasure.rs`). `stream.rs` reads the table's change stream as the
//! changes `events::changes` maps to events.

mod agents;
pub mod backfill;
pub mod client;
mod connections;
mod conversation_reads;
mod conversations;
mod customers;
mod due_work;
mod erasure;
pub mod errors;
pub mod items;
mod rate_limits;
mod ratings;
mod read_marks;
mod receipts;
pub mod schema;
pub mod stream;
mod table;
mod ticket_numbers;
mod typing;
mod uploads;
mod users;
mod webhooks;
pub mod wire;

pub use customers::PROFILE_ATTRIBUTES;
pub use table::{Part, Transaction};

use crate::store::{AccountLimit, MessageLimit};
use aws_sdk_dynamodb::Client;
use items::InboxShards;
use std::sync::Arc;

/// A DynamoDB-backed store. Cloning is cheap: the SDK client is shared.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    inbox_shards: InboxShards,
    /// Customers' messages a minute, counted in each message's write; none: no limit.
    message_limit: Option<MessageLimit>,
    /// Accounts a source address may create an hour by trust on first request.
    account_limit: Option<AccountLimit>,
    /// What sends the store's reads and writes ([`wire`]); `client` describes them and
    /// serves what is not a request's (tables, the operators' scans).
    wire: wire::Wire,
}

/// Its events come from the table's change stream, never from the write itself; locally
/// `store::Publishing` publishes them after the write.
impl crate::store::EventJournal for DynamoStore {}

impl DynamoStore {
    /// A store on `table` with the inbox in one partition per kind.
    pub fn new(dynamo: client::Dynamo, table: impl Into<Arc<str>>) -> Self {
        DynamoStore {
            client: dynamo.client,
            wire: dynamo.wire,
            table: table.into(),
            inbox_shards: InboxShards::ONE,
            message_limit: None,
            account_limit: None,
        }
    }

    /// The same store counting the accounts each source address creates an hour by
    /// trust on first request, refusing those past `limit`
    /// ([`StoreError::AccountsLimited`]).
    pub fn with_account_limit(self, limit: AccountLimit) -> Self {
        DynamoStore {
            account_limit: Some(limit),
            ..self
        }
    }

    /// The same store counting each customer's messages a minute, refusing those past
    /// `limit` ([`StoreError::RateLimited`]).
    pub fn with_message_limit(self, limit: MessageLimit) -> Self {
        DynamoStore {
            message_limit: Some(limit),
            ..self
        }
    }

    /// The same store with the inbox spread over `shards` partitions per kind: every
    /// process writing or reading one table must use the same count.
    pub fn with_inbox_shards(self, shards: InboxShards) -> Self {
        DynamoStore {
            inbox_shards: shards,
            ..self
        }
    }

    /// A Lambda function's store: the client from Lambda's environment
    /// ([`client::lambda_config`]), the table named by `TABLE_NAME`, the inbox's
    /// `INBOX_SHARDS`, the customers' `CUSTOMER_MESSAGES_PER_MINUTE` and
    /// `NEW_ACCOUNTS_PER_ADDRESS_PER_HOUR`.
    pub fn from_lambda_env() -> Result<Self, String> {
        let lookup = |name: &str| std::env::var(name).ok();
        let table = lookup("TABLE_NAME").ok_or_else(|| "TABLE_NAME is not set".to_string())?;
        let shards = InboxShards::from_env(lookup)?;
        let limit = MessageLimit::from_env(lookup)?;
        let accounts = AccountLimit::from_env(lookup)?;
        let dynamo = client::lambda_config(lookup)?.build()?;
        Ok(Self::new(dynamo, table)
            .with_inbox_shards(shards)
            .with_message_limit(limit)
            .with_account_limit(accounts))
    }

    /// The inbox's partitions per kind.
    pub fn inbox_shards(&self) -> InboxShards {
        self.inbox_shards
    }

    /// The SDK client, for what is not the store's (describing the table).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
