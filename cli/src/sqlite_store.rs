//! The embedded store: one SQLite file (or memory) in WAL mode.
//!
//! One connection behind a mutex serializes writers inside the process (SQLite allows one
//! writer anyway), and every write is one `BEGIN IMMEDIATE` transaction, so the same
//! rules hold as on DynamoDB: a conversation and its first message appear together or
//! not at all, ownership and status are checked inside the write, and ticket numbers
//! come from one counter row. Calls run on tokio's blocking pool.

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use supportzen_shared::auth::{Caller, Credential, Secret, TokenDigest};
use supportzen_shared::domain::{
    BodyDigest, ChatId, ConversationId, MessageId, NewMessage, TicketId, UserId, now_millis,
};
use supportzen_shared::store::{
    ConversationAdmin, ConversationCreator, MessageAppender, NewConversation, NewReceipt, Receipt,
    ReceiptKey, StoreError, StoredConversation, StoredMessage, StoredProfile, TicketNumbers,
    UserProvisioner, UserReader, UserRecord,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id                   TEXT PRIMARY KEY,      -- normalized email
    secret               TEXT,                  -- provisioned secret, or NULL while pinned
    previous_secret      TEXT,                  -- the secret it replaced, during a rotation
    previous_until_ms    INTEGER,               -- when previous_secret stops being accepted
    pinned_token_sha256  BLOB,                  -- trust-on-first-use: SHA-256 of the first token
    name                 TEXT,
    plan_id              INTEGER,
    account_created_at   INTEGER,               -- Unix seconds, from the client
    created_at_ms        INTEGER NOT NULL,
    updated_at_ms        INTEGER NOT NULL,
    CHECK (secret IS NOT NULL OR length(pinned_token_sha256) = 32)
);
CREATE TABLE IF NOT EXISTS conversations (
    id                TEXT PRIMARY KEY,         -- chat-<uuid> or TKT-001
    kind              TEXT NOT NULL CHECK (kind IN ('chat', 'ticket')),
    owner             TEXT NOT NULL REFERENCES users(id),
    open              INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1)),
    created_at_ms     INTEGER NOT NULL,
    last_activity_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, created_at_ms DESC);
CREATE INDEX IF NOT EXISTS open_conversations_by_activity ON conversations (open, last_activity_ms DESC);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    id               TEXT NOT NULL,              -- msg-<uuidv7>: sorts by time
    body             TEXT NOT NULL,
    image_url        TEXT,
    sent_at_ms       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (       -- answers to requests with an Idempotency-Key
    user_id        TEXT NOT NULL,
    endpoint       TEXT NOT NULL,           -- live-create, live-chat, ticket-create, ticket-append
    key            TEXT NOT NULL,
    body_sha256    BLOB NOT NULL CHECK (length(body_sha256) = 32),
    response_data  TEXT NOT NULL,           -- the success response's data, as JSON
    expires_at     INTEGER NOT NULL,        -- Unix seconds
    PRIMARY KEY (user_id, endpoint, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS receipts_by_expiry ON receipts (expires_at);
";

/// Expired receipts deleted per write that adds one, so that cleaning up never makes one
/// request slow.
const RECEIPTS_PURGED_PER_WRITE: i64 = 100;

/// A cloneable handle to one SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`; `:memory:` is a private in-memory database.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = if path == ":memory:" {
            Connection::open_in_memory()
        } else {
            Connection::open(path)
        }
        .map_err(internal)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(internal)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(internal)?;
        conn.execute_batch(SCHEMA).map_err(internal)?;
        add_rotation_columns(&conn).map_err(internal)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` on the blocking pool with the connection. The write completes even if
    /// the caller stops waiting, so a dropped request never leaves half a transaction.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| StoreError::Internal("sqlite connection poisoned".into()))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))?
    }
}

/// Databases created before secret rotation lack its two columns; add them.
fn add_rotation_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has_them: bool = conn.query_row(
        "SELECT count(*) = 1 FROM pragma_table_info('users') WHERE name = 'previous_secret'",
        [],
        |row| row.get(0),
    )?;
    if !has_them {
        conn.execute_batch(
            "ALTER TABLE users ADD COLUMN previous_secret TEXT;
             ALTER TABLE users ADD COLUMN previous_until_ms INTEGER;",
        )?;
    }
    Ok(())
}

fn internal(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable {
            reason: err.to_string(),
            retry_after: Duration::from_secs(1),
        },
        _ => StoreError::Internal(err.to_string()),
    }
}

fn is_constraint_violation(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn parse_conversation_id(kind: &str, id: &str) -> Result<ConversationId, StoreError> {
    let bad =
        |reason: String| StoreError::Internal(format!("stored conversation id {id:?}: {reason}"));
    match kind {
        "chat" => ChatId::parse(id).map(ConversationId::Chat).map_err(bad),
        "ticket" => TicketId::parse(id).map(ConversationId::Ticket).map_err(bad),
        other => Err(bad(format!("unknown kind {other:?}"))),
    }
}

const SELECT_CONVERSATION: &str =
    "SELECT id, kind, owner, open, created_at_ms, last_activity_ms FROM conversations";

/// Reads a row of [`SELECT_CONVERSATION`]; the outer error is SQLite's, the inner one ours.
fn read_conversation(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<StoredConversation, StoreError>> {
    let (id, kind, owner): (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
    let (open, created_at, last_activity_at) = (row.get(3)?, row.get(4)?, row.get(5)?);
    Ok(
        parse_conversation_id(&kind, &id).map(|id| StoredConversation {
            id,
            owner: UserId::from_stored(owner),
            open,
            created_at,
            last_activity_at,
        }),
    )
}

fn insert_message(
    tx: &rusqlite::Transaction<'_>,
    conversation: &str,
    message: &NewMessage,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO messages (conversation_id, id, body, image_url, sent_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            conversation,
            message.id.as_str(),
            message.text.as_str(),
            message.image_url.as_ref().map(|u| u.as_str()),
            message.sent_at
        ],
    )
    .map_err(internal)?;
    Ok(())
}

/// Writes the receipt unless a live one has its key ([`StoreError::ReceiptExists`]), and
/// deletes a few expired ones.
fn insert_receipt(tx: &rusqlite::Transaction<'_>, new: &NewReceipt) -> Result<(), StoreError> {
    let written = tx
        .execute(
            "INSERT INTO receipts (user_id, endpoint, key, body_sha256, response_data, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_id, endpoint, key) DO UPDATE SET
                 body_sha256 = excluded.body_sha256,
                 response_data = excluded.response_data,
                 expires_at = excluded.expires_at
             WHERE receipts.expires_at <= ?7",
            params![
                new.key.user.as_str(),
                new.key.endpoint.as_str(),
                new.key.key.as_str(),
                &new.receipt.body.as_bytes()[..],
                new.receipt.data,
                new.receipt.expires_at,
                new.written_at
            ],
        )
        .map_err(internal)?;
    if written != 1 {
        return Err(StoreError::ReceiptExists);
    }
    tx.execute(
        "DELETE FROM receipts WHERE (user_id, endpoint, key) IN
             (SELECT user_id, endpoint, key FROM receipts WHERE expires_at <= ?1 LIMIT ?2)",
        params![new.written_at, RECEIPTS_PURGED_PER_WRITE],
    )
    .map_err(internal)?;
    Ok(())
}

fn find_receipt(conn: &Connection, key: &ReceiptKey) -> Result<Option<Receipt>, StoreError> {
    let row = conn
        .query_row(
            "SELECT body_sha256, response_data, expires_at FROM receipts
             WHERE user_id = ?1 AND endpoint = ?2 AND key = ?3",
            params![key.user.as_str(), key.endpoint.as_str(), key.key.as_str()],
            |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(internal)?;
    row.map(|(body, data, expires_at)| {
        Ok(Receipt {
            body: BodyDigest::from_stored(&body)
                .ok_or_else(|| StoreError::Internal("stored body digest is not 32 bytes".into()))?,
            data,
            expires_at,
        })
    })
    .transpose()
}

fn find_user(conn: &Connection, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    let row = conn
        .query_row(
            "SELECT secret, previous_secret, previous_until_ms, pinned_token_sha256
                     FROM users WHERE id = ?1",
            [id.as_str()],
            |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                    row.get::<_, Option<Vec<u8>>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(internal)?;
    let Some((secret, previous, previous_until, pin)) = row else {
        return Ok(None);
    };
    let pin = pin
        .map(|bytes| {
            TokenDigest::from_stored(&bytes)
                .ok_or_else(|| StoreError::Internal("stored pin is not 32 bytes".into()))
        })
        .transpose()?;
    let credential = Credential::from_stored(secret, previous.zip(previous_until), pin)
        .map_err(StoreError::Internal)?;
    Ok(Some(UserRecord { id, credential }))
}

impl UserReader for SqliteStore {
    async fn find_user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let id = id.clone();
        self.with_conn(move |conn| find_user(conn, id)).await
    }

    async fn find_user_and_receipt(
        &self,
        id: &UserId,
        receipt: &ReceiptKey,
    ) -> Result<(Option<UserRecord>, Option<Receipt>), StoreError> {
        let (id, receipt) = (id.clone(), receipt.clone());
        self.with_conn(move |conn| Ok((find_user(conn, id)?, find_receipt(conn, &receipt)?)))
            .await
    }
}

impl ConversationCreator for SqliteStore {
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        let new = new.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(internal)?;
            // First, as DynamoDB reports it first: a retry that lost the race is answered
            // from the winner's receipt whatever else changed.
            if let Some(receipt) = &new.receipt {
                insert_receipt(&tx, receipt)?;
            }
            let now = new.first_message.sent_at;
            let profile = &new.profile;
            let name = profile.name.as_ref().map(|n| n.as_str());
            let created = profile.account_created_at.get();
            match &new.owner {
                Caller::New { user, pin } => {
                    tx.execute(
                        "INSERT INTO users (id, pinned_token_sha256, name, plan_id, account_created_at, created_at_ms, updated_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                        params![user.as_str(), &pin.as_bytes()[..], name, profile.plan_id, created, now],
                    )
                    .map_err(|e| if is_constraint_violation(&e) { StoreError::UserExists } else { internal(e) })?;
                }
                Caller::Known(user) => {
                    let updated = tx
                        .execute(
                            "UPDATE users SET name = COALESCE(?2, name), plan_id = COALESCE(?3, plan_id),
                                 account_created_at = ?4, updated_at_ms = ?5
                             WHERE id = ?1",
                            params![user.as_str(), name, profile.plan_id, created, now],
                        )
                        .map_err(internal)?;
                    if updated != 1 {
                        return Err(StoreError::Internal("authenticated user vanished".into()));
                    }
                }
            }
            let key = new.id.key();
            tx.execute(
                "INSERT INTO conversations (id, kind, owner, open, created_at_ms, last_activity_ms)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![key, new.id.kind(), new.owner.user().as_str(), now],
            )
            .map_err(internal)?;
            insert_message(&tx, &key, &new.first_message)?;
            tx.commit().map_err(internal)
        })
        .await
    }
}

impl MessageAppender for SqliteStore {
    async fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let (key, kind, owner, message, receipt) = (
            conversation.key(),
            conversation.kind(),
            owner.clone(),
            message.clone(),
            receipt.cloned(),
        );
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(internal)?;
            if let Some(receipt) = &receipt {
                insert_receipt(&tx, receipt)?;
            }
            let found: Option<(String, bool)> = tx
                .query_row(
                    "SELECT owner, open FROM conversations WHERE id = ?1 AND kind = ?2",
                    params![key, kind],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(internal)?;
            match found {
                Some((stored_owner, _)) if stored_owner != owner.as_str() => return Err(StoreError::NotFound),
                None => return Err(StoreError::NotFound),
                Some((_, false)) => return Err(StoreError::Closed),
                Some((_, true)) => {}
            }
            insert_message(&tx, &key, &message)?;
            tx.execute(
                "UPDATE conversations SET last_activity_ms = MAX(last_activity_ms, ?2) WHERE id = ?1",
                params![key, message.sent_at],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }
}

impl TicketNumbers for SqliteStore {
    async fn next_ticket_number(&self) -> Result<u64, StoreError> {
        self.with_conn(|conn| {
            let value: i64 = conn
                .query_row(
                    "INSERT INTO counters (name, value) VALUES ('ticket', 1)
                     ON CONFLICT (name) DO UPDATE SET value = value + 1
                     RETURNING value",
                    [],
                    |row| row.get(0),
                )
                .map_err(internal)?;
            u64::try_from(value)
                .map_err(|_| StoreError::Internal(format!("ticket counter is {value}")))
        })
        .await
    }
}

impl UserProvisioner for SqliteStore {
    async fn put_secret(
        &self,
        user: &UserId,
        secret: &Secret,
        grace: Duration,
    ) -> Result<(), StoreError> {
        let (user, secret) = (user.clone(), secret.clone());
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            // Every right-hand side sees the row as it was before this update.
            conn.execute(
                "INSERT INTO users (id, secret, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (id) DO UPDATE SET
                     previous_secret = CASE
                         WHEN users.secret IS excluded.secret THEN users.previous_secret
                         WHEN ?4 > 0 THEN users.secret
                         ELSE NULL END,
                     previous_until_ms = CASE
                         WHEN users.secret IS excluded.secret THEN users.previous_until_ms
                         WHEN ?4 > 0 AND users.secret IS NOT NULL THEN ?3 + ?4
                         ELSE NULL END,
                     secret = excluded.secret,
                     pinned_token_sha256 = NULL,
                     updated_at_ms = excluded.updated_at_ms",
                params![user.as_str(), secret.expose(), now_millis(), grace_ms],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}

impl ConversationAdmin for SqliteStore {
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let key = id.key();
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("{SELECT_CONVERSATION} WHERE id = ?1"),
                [&key],
                read_conversation,
            )
            .optional()
            .map_err(internal)?
            .transpose()
        })
        .await
    }

    async fn conversations_of(&self, user: &UserId) -> Result<Vec<StoredConversation>, StoreError> {
        let user = user.clone();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_CONVERSATION} WHERE owner = ?1 ORDER BY created_at_ms DESC, id DESC"
                ))
                .map_err(internal)?;
            let rows = statement
                .query_map([user.as_str()], read_conversation)
                .map_err(internal)?;
            rows.map(|row| row.map_err(internal)?).collect()
        })
        .await
    }

    async fn messages(&self, id: &ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        let key = id.key();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare("SELECT id, body, image_url, sent_at_ms FROM messages WHERE conversation_id = ?1 ORDER BY id")
                .map_err(internal)?;
            let rows = statement
                .query_map([&key], |row| {
                    Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .map_err(internal)?;
            rows.map(|row| {
                let (id, text, image_url, sent_at) = row.map_err(internal)?;
                Ok(StoredMessage {
                    id: MessageId::parse(&id).map_err(StoreError::Internal)?,
                    text,
                    image_url,
                    sent_at,
                })
            })
            .collect()
        })
        .await
    }

    async fn close(&self, id: &ConversationId) -> Result<bool, StoreError> {
        let key = id.key();
        self.with_conn(move |conn| {
            let changed = conn
                .execute("UPDATE conversations SET open = 0 WHERE id = ?1", [&key])
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>, StoreError> {
        let user = user.clone();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT name, plan_id, account_created_at FROM users WHERE id = ?1",
                [user.as_str()],
                |row| {
                    Ok(StoredProfile {
                        name: row.get(0)?,
                        plan_id: row.get(1)?,
                        account_created_at: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(internal)
        })
        .await
    }
}
