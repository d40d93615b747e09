//! The embedded store: one SQLite file (or memory) in WAL mode, keeping the same rules
//! as the DynamoDB store behind the same traits (one conformance suite runs on both).
//!
//! One connection behind a mutex serializes writers inside the process (SQLite allows one
//! writer anyway), and every write is one `BEGIN IMMEDIATE` transaction, so the same
//! rules hold as on DynamoDB: a conversation and its first message appear together or
//! not at all, ownership and status are checked inside the write, and ticket numbers
//! come from one counter row. Calls run on tokio's blocking pool.
//!
//! One file per aggregate, as in the DynamoDB store: `users.rs`, `conversations.rs`
//! (with their messages; reading them is `conversation_reads.rs`), `agents.rs`,
//! `ticket_numbers.rs`, `receipts.rs`, `connections.rs` (connect tickets), `webhooks.rs`
//! (webhook endpoints), `customers.rs` (the agents' customer lookup); `schema.rs` holds
//! the tables; `journal.rs` is the event journal the local server relays its events
//! from. `outbox.rs` is apart: the local server's webhook deliveries, in a file of
//! their own.

mod agents;
mod connections;
mod conversation_reads;
mod conversations;
mod customers;
mod due_work;
mod erasure;
pub mod journal;
pub mod outbox;
mod rate_limits;
mod ratings;
mod read_marks;
mod receipts;
mod schema;
mod ticket_numbers;
mod typing;
mod uploads;
mod users;
mod webhooks;

use rusqlite::{Connection, ErrorCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use supportzen_shared::store::{AccountLimit, MessageLimit, StoreError};

pub use journal::{JournalEntry, OnCommit};
pub use outbox::Outbox;

/// A cloneable handle to one SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Customers' messages a minute, counted in each message's write; none: no limit.
    message_limit: Option<MessageLimit>,
    /// Accounts a source address may create an hour by trust on first request.
    account_limit: Option<AccountLimit>,
    /// Set: each write journals its events, then hands them to this ([`journal`]).
    journal: Option<journal::OnCommit>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`; `:memory:` is a private in-memory database.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = connect(
            path,
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )?;
        schema::migrate(&conn).map_err(internal)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            message_limit: None,
            account_limit: None,
            journal: None,
        })
    }

    /// The same store counting the accounts each source address creates an hour by
    /// trust on first request, refusing those past `limit`
    /// ([`StoreError::AccountsLimited`]).
    pub fn with_account_limit(self, limit: AccountLimit) -> Self {
        SqliteStore {
            account_limit: Some(limit),
            ..self
        }
    }

    /// The same store counting each customer's messages a minute, refusing those past
    /// `limit` ([`StoreError::RateLimited`]).
    pub fn with_message_limit(self, limit: MessageLimit) -> Self {
        SqliteStore {
            message_limit: Some(limit),
            ..self
        }
    }

    /// Runs `work` with the connection: see [`with_conn`].
    pub(crate) async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        with_conn(&self.conn, work).await
    }
}

/// Runs `work` on the blocking pool with the connection behind `conn` (the store's or
/// the outbox's). The write completes even if the caller stops waiting, so a dropped
/// request never leaves half a transaction.
pub(crate) async fn with_conn<T, F>(conn: &Arc<Mutex<Connection>>, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        let mut conn = conn
            .lock()
            .map_err(|_| StoreError::Internal("sqlite connection poisoned".into()))?;
        work(&mut conn)
    })
    .await
    .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))?
}

/// Opens the database at `path` (`:memory:`: a private in-memory one), waiting up to 5 s
/// for another process's lock, with `pragmas` set.
pub(crate) fn connect(path: &str, pragmas: &str) -> Result<Connection, StoreError> {
    let conn = if path == ":memory:" {
        Connection::open_in_memory()
    } else {
        Connection::open(path)
    }
    .map_err(internal)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(internal)?;
    conn.execute_batch(pragmas).map_err(internal)?;
    Ok(conn)
}

pub(crate) fn internal(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable {
            reason: err.to_string(),
            retry_after: Duration::from_secs(1),
        },
        _ => StoreError::Internal(err.to_string()),
    }
}

pub(crate) fn is_constraint_violation(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// For unit tests: a chat of Ann's, written as rows (no event, no journal), assigned to
/// `assignee` as stored (even a value no write of this version makes).
#[cfg(test)]
pub(crate) fn insert_chat(
    store: &SqliteStore,
    assignee: Option<&str>,
) -> supportzen_shared::domain::ConversationId {
    use supportzen_shared::domain::{ChatId, ConversationId};
    let chat = ConversationId::Chat(ChatId::generate());
    let conn = store.conn.lock().unwrap();
    conn.execute(
        "INSERT INTO users (id, secret, created_at_ms, updated_at_ms)
         VALUES ('ann@example.com', 's3cret', 1, 1)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO conversations (id, kind, owner, created_at_ms, last_activity_ms, assignee)
         VALUES (?1, 'chat', 'ann@example.com', 1, 1, ?2)",
        rusqlite::params![chat.key(), assignee],
    )
    .unwrap();
    chat
}
