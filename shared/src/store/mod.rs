//! What the flows need from storage, as narrow traits, one file per capability: each
//! Lambda depends only on the operations it performs, which is also what its IAM policy
//! allows.
//!
//! Every write that depends on existing state is a single conditional write, so the
//! traits map one-to-one onto DynamoDB (`TransactWriteItems` with conditions, an
//! `UpdateItem ADD` counter) as well as onto SQLite transactions:
//!
//! | trait | live-create | live-chat | ticket-create | ticket-append |
//! |---|---|---|---|---|
//! | [`UserReader`] | yes | yes | yes | yes |
//! | [`ConversationCreator`] | yes | | yes | |
//! | [`MessageAppender`] | | yes | | yes |
//! | [`TicketNumbers`] | | | yes | |
//!
//! The read routes add [`ConversationReader`]; the agent routes [`AgentReader`] (all
//! but finding a customer, which has [`CustomerReader`] alone) and [`AgentWriter`] (the
//! three that write). Realtime delivery and webhooks use [`ConnectTicketIssuer`] and
//! [`ConnectTicketRedeemer`], [`ConnectionWriter`] and [`ConnectionReader`] (production's
//! sockets) and [`WebhookRegistry`]. The rating route reads with [`ConversationReader`]
//! and writes with [`ConversationRater`].
//! Work that falls due at a time (snoozes waking, unread-reply emails) is [`DueWork`].
//! Read marks and unread counts are [`ReadMarker`] and [`ReadState`]; production's typing
//! throttle is [`TypingGate`]. An agent's reply with an `Idempotency-Key` reads its
//! receipt with [`AgentReceipts`]; an erasure is [`CustomerEraser`].
//! [`Publishing`] wraps a store so that its committed writes publish their events (the
//! local server's counterpart of the table's change stream); [`committed`] says which
//! events each write yields, for it and for the SQLite store's event journal
//! ([`EventJournal`]).
//!
//! The stores themselves are adapters: `crate::dynamo` and the `supportzen-sqlite` crate.

mod agents;
pub mod committed;
mod connect_tickets;
mod connections;
mod conversation_reads;
mod conversations;
mod customers;
mod due_work;
mod erasure;
mod files;
mod limits;
mod pages;
mod publishing;
mod ratings;
mod read_marks;
mod ticket_numbers;
mod typing;
mod uploads;
mod users;
mod webhooks;

pub use crate::domain::Reader;
pub use agents::{AgentReader, AgentReceipts, AgentWriter, AssigneeFilter, InboxFilter};
pub use connect_tickets::{ConnectTicketIssuer, ConnectTicketRedeemer};
pub use connections::{
    Audience, CONNECTION_LIFETIME_MS, ConnectionReader, ConnectionWriter, GONE_GRACE_MS,
    gone_cutoff,
};
pub use conversation_reads::ConversationReader;
pub use conversations::{
    ConversationAdmin, ConversationCreator, MessageAppender, MessagePreview, NewConversation,
    PREVIEW_CHARS, StoredConversation, StoredMessage,
};
pub use customers::{CustomerProfile, CustomerReader};
pub use due_work::{Due, DueWork, EmailPreferences};
pub use erasure::{CustomerEraser, Erased};
pub use files::{
    DOWNLOAD_LINK_LIFETIME, FileStorage, Kept, NoFiles, Stored, StoredFile, UPLOAD_FORM_LIFETIME,
    UploadForm, disposition,
};
pub use limits::{AccountLimit, Hour, MessageLimit, SourceAddress, Window};
pub use pages::{ActivityCursor, MessageWindow, Page, merge_pages};
pub use publishing::{EventJournal, EventSink, Publishing};
pub use ratings::ConversationRater;
pub use read_marks::{MARK_ATTEMPTS, MarkedRead, ReadMark, ReadMarker, ReadState};
pub use ticket_numbers::TicketNumbers;
pub use typing::TypingGate;
pub use uploads::{UNATTACHED_UPLOAD_TTL_SECS, UploadRecord, UploadRegistry};
pub use users::{SecretChange, StoredProfile, UserProvisioner, UserReader};
pub use webhooks::WebhookRegistry;

use std::time::Duration;

/// Why a store operation did not happen. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conversation does not exist or belongs to someone else.
    #[error("conversation not found")]
    NotFound,
    /// The conversation is closed to new messages.
    #[error("conversation is closed")]
    Closed,
    /// A first-use write lost the race: the user was created meanwhile.
    #[error("user already exists")]
    UserExists,
    /// The conversation changed since the caller read it (a message or status change
    /// came in between); read it again and retry.
    #[error("conversation changed since it was read")]
    Changed,
    /// An idempotent write lost the race: another request with the same key was
    /// answered meanwhile.
    #[error("idempotency key already used")]
    ReceiptExists,
    /// A message named an upload that is not there to claim: missing, someone else's,
    /// or attached to another message (perhaps by a request racing this one).
    #[error("attachment {0} is not available")]
    AttachmentUnavailable(crate::domain::AttachmentId),
    /// A read mark named a message that is not in the conversation (or, for the
    /// customer, one they cannot see: a note).
    #[error("message not in the conversation")]
    UnknownMessage,
    /// The customer sent their minute's messages ([`MessageLimit`]): nothing was
    /// written; the next window opens after `retry_after`.
    #[error("message limit reached")]
    RateLimited {
        per_minute: u32,
        retry_after: Duration,
    },
    /// The request's source address created its hour's accounts by trust on first use
    /// ([`AccountLimit`]): nothing was written.
    #[error("account limit reached")]
    AccountsLimited {
        per_hour: u32,
        retry_after: Duration,
    },
    /// Throttled or briefly unavailable; safe to retry after the given time.
    #[error("store unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
    /// Anything else. The text goes to the logs, never to the client.
    #[error("store failure: {0}")]
    Internal(String),
}
