//! The database's tables, and the migrations that bring a database written by an
//! earlier version up to them. `SqliteStore::open` runs both. The webhook outbox's
//! tables, in a file of their own, are here too (`Outbox::open` creates them).

use rusqlite::Connection;

/// Every table and index, as a new database gets them.
pub(crate) const SCHEMA: &str = "
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
    created_at_ms     INTEGER NOT NULL,
    last_activity_ms  INTEGER NOT NULL,
    last_message_id       TEXT,                 -- the newest message, for lists
    last_message_author   TEXT,
    last_message_preview  TEXT,                 -- its first 200 characters
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'pending', 'solved', 'closed')),
    assignee          TEXT,                     -- the agent's id (their token's sub)
    assignee_email    TEXT,                     -- their token's email, for agents' emails
    snoozed_until_ms  INTEGER,                  -- pending until then
    follow_up_of      TEXT,                     -- the closed conversation this follows up
    customer_messages INTEGER NOT NULL DEFAULT 0,  -- the customer's public messages
    agent_replies     INTEGER NOT NULL DEFAULT 0,  -- agents' replies (never notes)
    customer_read_up_to TEXT,                   -- the customer's read mark
    customer_read     INTEGER,                  -- agent_replies less those after it
    agents_read_up_to TEXT,                     -- the agents' read mark
    agents_read       INTEGER,                  -- customer_messages less those after it
    agents_read_by_id   TEXT,                   -- the agent who moved it
    agents_read_by_name TEXT,
    rating            INTEGER CHECK (rating BETWEEN 1 AND 5),  -- the customer's, once given
    rating_comment    TEXT,
    rated_at_ms       INTEGER,                  -- when given or last changed
    rating_first_at_ms INTEGER                  -- when first given: the 24 h window's start
);
CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, created_at_ms DESC);
CREATE INDEX IF NOT EXISTS conversations_by_owner_activity
    ON conversations (owner, kind, last_activity_ms DESC, id DESC);
CREATE TABLE IF NOT EXISTS reply_notices (  -- an email due unless the replies are read
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations(id),
    due_at_ms        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reply_notices_by_due ON reply_notices (due_at_ms);
CREATE TABLE IF NOT EXISTS message_notices (  -- an agents' email due unless an agent reads
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations(id),
    due_at_ms        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS message_notices_by_due ON message_notices (due_at_ms);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    id               TEXT NOT NULL,              -- msg-<uuidv7>: sorts by time
    body             TEXT NOT NULL,
    image_url        TEXT,
    sent_at_ms       INTEGER NOT NULL,
    author           TEXT NOT NULL DEFAULT 'customer' CHECK (author IN ('customer', 'agent', 'system')),
    client_message_id TEXT,                      -- the client's own id for it, if it sent one
    agent_id         TEXT,                       -- the agent who wrote it
    agent_name       TEXT,
    internal         INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),  -- agents' note
    attachments      TEXT,                       -- its files, as a JSON list; NULL for none
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
CREATE TABLE IF NOT EXISTS connect_tickets (  -- realtime connect tickets, single use
    digest           TEXT PRIMARY KEY,        -- SHA-256 of the ticket, hex: never the ticket
    subscriber_kind  TEXT NOT NULL CHECK (subscriber_kind IN ('customer', 'agent')),
    subscriber_id    TEXT NOT NULL,
    subscriber_name  TEXT,                    -- an agent's display name
    expires_at_ms    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (          -- declared attachments
    id             TEXT PRIMARY KEY,          -- att-<uuidv7>
    uploader       TEXT NOT NULL,             -- the uploader's folder: uploads/<side>/<hash>
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           INTEGER NOT NULL CHECK (size > 0),
    created_at_ms  INTEGER NOT NULL,
    attached_to    TEXT                       -- the message that claimed it
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rate_counts (     -- MessageLimit and AccountLimit counters
    key              TEXT NOT NULL,             -- message#<email> or account#<address>
    window_start_ms  INTEGER NOT NULL,          -- the minute's or the hour's first ms
    count            INTEGER NOT NULL,
    PRIMARY KEY (key, window_start_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS typing_claims (   -- the typing throttle (TypingGate)
    conversation_id  TEXT NOT NULL,
    sender           TEXT NOT NULL,             -- customer#<email> or agent#<id>
    at_ms            INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, sender)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhooks (         -- registered webhook endpoints
    id             TEXT PRIMARY KEY,          -- wh_<uuidv7>
    url            TEXT NOT NULL,
    events         TEXT NOT NULL,             -- event types, space-separated
    secret         TEXT NOT NULL,             -- whsec_...: it signs, so it is kept
    enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_journal (  -- committed changes' events, until serve relays them
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order; never reused
    event_id  TEXT NOT NULL,                      -- evt_...: the event's id (webhook-id)
    body      TEXT NOT NULL                       -- the whole event, as JSON
);
CREATE TABLE IF NOT EXISTS unreadable_events (  -- journaled events this version could not read
    seq       INTEGER PRIMARY KEY,                -- its place in event_journal
    event_id  TEXT NOT NULL,
    body      TEXT NOT NULL                       -- as journaled, for a newer version to relay
);
";

/// The webhook outbox's own file (`outbox.rs`): pending deliveries and dead letters.
pub(crate) const OUTBOX_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending_deliveries (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order
    endpoint_id          TEXT NOT NULL,            -- wh_...
    event_id             TEXT NOT NULL,            -- evt_...: the webhook-id
    event_type           TEXT NOT NULL,
    body                 TEXT NOT NULL,            -- the thin envelope, as signed and sent
    first_attempt_at_ms  INTEGER NOT NULL,
    attempts             INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at_ms   INTEGER NOT NULL,         -- due then, or claimed until then
    last_error           TEXT,                     -- why the last attempt failed
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX IF NOT EXISTS pending_deliveries_by_due
    ON pending_deliveries (next_attempt_at_ms, id);
CREATE TABLE IF NOT EXISTS dead_deliveries (     -- retries exhausted
    id                   INTEGER PRIMARY KEY,      -- its id while it was pending
    endpoint_id          TEXT NOT NULL,
    event_id             TEXT NOT NULL,
    event_type           TEXT NOT NULL,
    body                 TEXT NOT NULL,
    first_attempt_at_ms  INTEGER NOT NULL,
    attempts             INTEGER NOT NULL,
    died_at_ms           INTEGER NOT NULL,
    last_error           TEXT NOT NULL
);
";

/// Columns added since the first release, with their definitions: a database created
/// before them gets them on open, with defaults that describe its existing rows.
const ADDED_COLUMNS: [(&str, &str, &str); 30] = [
    // Secret rotation.
    ("users", "previous_secret", "TEXT"),
    ("users", "previous_until_ms", "INTEGER"),
    // Message authors: until agents could write, every message was the customer's.
    (
        "messages",
        "author",
        "TEXT NOT NULL DEFAULT 'customer' CHECK (author IN ('customer', 'agent', 'system'))",
    ),
    // The read routes: clients' message ids, and previews for lists.
    ("messages", "client_message_id", "TEXT"),
    ("conversations", "last_message_id", "TEXT"),
    ("conversations", "last_message_author", "TEXT"),
    ("conversations", "last_message_preview", "TEXT"),
    // The agent side: statuses (a database from before them also has an `open` flag,
    // which the migration below reads once), assignment, snoozes, follow-ups; agents'
    // names on their messages, and notes.
    (
        "conversations",
        "status",
        "TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'solved', 'closed'))",
    ),
    ("conversations", "assignee", "TEXT"),
    ("conversations", "snoozed_until_ms", "INTEGER"),
    ("conversations", "follow_up_of", "TEXT"),
    ("messages", "agent_id", "TEXT"),
    ("messages", "agent_name", "TEXT"),
    (
        "messages",
        "internal",
        "INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1))",
    ),
    // Attachments.
    ("messages", "attachments", "TEXT"),
    // Customers who opted out of emails (List-Unsubscribe), since when.
    ("users", "unsubscribed_at_ms", "INTEGER"),
    // Read marks and the counts unread is computed from (zero for the messages stored
    // before them; docs/data-model.md).
    (
        "conversations",
        "customer_messages",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    (
        "conversations",
        "agent_replies",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    ("conversations", "customer_read_up_to", "TEXT"),
    ("conversations", "customer_read", "INTEGER"),
    ("conversations", "agents_read_up_to", "TEXT"),
    ("conversations", "agents_read", "INTEGER"),
    ("conversations", "agents_read_by_id", "TEXT"),
    ("conversations", "agents_read_by_name", "TEXT"),
    // Agents' names on connect tickets, for their typing signals.
    ("connect_tickets", "subscriber_name", "TEXT"),
    // Satisfaction ratings.
    (
        "conversations",
        "rating",
        "INTEGER CHECK (rating BETWEEN 1 AND 5)",
    ),
    ("conversations", "rating_comment", "TEXT"),
    ("conversations", "rated_at_ms", "INTEGER"),
    ("conversations", "rating_first_at_ms", "INTEGER"),
    // The assignee's address for the agents' emails (their token's email claim).
    ("conversations", "assignee_email", "TEXT"),
];

/// Indexes over added columns, created once the columns exist.
const ADDED_INDEXES: &str = "
DROP INDEX IF EXISTS open_conversations_by_activity;
CREATE INDEX IF NOT EXISTS conversations_inbox
    ON conversations (kind, status, last_activity_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS conversations_by_assignee
    ON conversations (assignee, kind, status, last_activity_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS conversations_snoozed
    ON conversations (snoozed_until_ms) WHERE snoozed_until_ms IS NOT NULL;
";

/// Creates what is missing: tables and indexes, then columns added since.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    for (table, column, definition) in ADDED_COLUMNS {
        let present: bool = conn.query_row(
            "SELECT count(*) = 1 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |row| row.get(0),
        )?;
        if !present {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition};"
            ))?;
            if column == "status" {
                // Until statuses, a conversation was open or closed by this flag.
                conn.execute_batch("UPDATE conversations SET status = 'closed' WHERE open = 0;")?;
            }
        }
    }
    conn.execute_batch(ADDED_INDEXES)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;
    use rusqlite::Connection;
    use supportzen_shared::auth::{Credential, Secret};
    use supportzen_shared::domain::{Author, ConversationId, Email, Status, TicketId};
    use supportzen_shared::store::{AgentReader, ConversationAdmin, UserReader};

    /// The tables as the first release created them: no rotation columns, no authors.
    const FIRST_RELEASE: &str = "
        CREATE TABLE users (
            id TEXT PRIMARY KEY, secret TEXT, pinned_token_sha256 BLOB, name TEXT,
            plan_id INTEGER, account_created_at INTEGER,
            created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
            CHECK (secret IS NOT NULL OR length(pinned_token_sha256) = 32));
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('chat', 'ticket')),
            owner TEXT NOT NULL REFERENCES users(id),
            open INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1)),
            created_at_ms INTEGER NOT NULL, last_activity_ms INTEGER NOT NULL);
        CREATE TABLE messages (
            conversation_id TEXT NOT NULL REFERENCES conversations(id), id TEXT NOT NULL,
            body TEXT NOT NULL, image_url TEXT, sent_at_ms INTEGER NOT NULL,
            PRIMARY KEY (conversation_id, id)) WITHOUT ROWID;
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO users (id, secret, created_at_ms, updated_at_ms)
            VALUES ('ann@example.com', 's3cret', 1, 1);
        INSERT INTO conversations (id, kind, owner, created_at_ms, last_activity_ms)
            VALUES ('TKT-001', 'ticket', 'ann@example.com', 1, 1);
        INSERT INTO conversations (id, kind, owner, open, created_at_ms, last_activity_ms)
            VALUES ('TKT-002', 'ticket', 'ann@example.com', 0, 1, 1);
        INSERT INTO messages (conversation_id, id, body, sent_at_ms)
            VALUES ('TKT-001', 'msg-019aa6f0-0000-7000-8000-000000000001', 'hello', 1);
    ";

    #[tokio::test]
    async fn a_first_release_database_opens_with_its_data_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("first-release.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(FIRST_RELEASE)
            .unwrap();

        let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
        let ticket = ConversationId::Ticket(TicketId::from_number(1).unwrap());
        let messages = store.messages(&ticket).await.unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            (messages[0].text.as_str(), messages[0].author),
            ("hello", Author::Customer)
        );
        let ann = Email::parse("ann@example.com").unwrap();
        let user = store.find_user(ann.user_id()).await.unwrap().unwrap();
        assert_eq!(
            user.credential,
            Credential::secret(Secret::parse("s3cret").unwrap())
        );
        // Statuses came later: a closed conversation stays closed, an open one is open.
        for (number, status) in [(1, Status::Open), (2, Status::Closed)] {
            let id = ConversationId::Ticket(TicketId::from_number(number).unwrap());
            let stored = store.find_conversation(&id).await.unwrap().unwrap();
            assert_eq!(stored.status, status, "TKT-00{number}");
        }
        // Opening again finds nothing left to migrate.
        drop(store);
        SqliteStore::open(path.to_str().unwrap()).unwrap();
    }
}
