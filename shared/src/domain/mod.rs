//! Typed domain values. Each is parsed once, at the edge, so nothing invalid
//! reaches authentication or the store ("parse, don't validate").
//!
//! Parse functions return the reason as a `String`; the request parser attaches
//! the field name when it turns that into an [`crate::ApiError`].

mod agent;
mod attachment;
mod email;
mod ids;
mod message;
mod profile;
mod rating;
mod reader;
mod status;
mod unsubscribe;

pub use agent::{Agent, AgentId, MAX_AGENT_ID_CHARS, Scope};
pub use attachment::{
    Attachment, AttachmentId, AttachmentLimits, ContentType, DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_ATTACHMENTS_PER_MESSAGE, DeclaredUpload, FILES_PREFIX, FileName,
    MAX_FILE_NAME_CHARS, SNIFF_BYTES, UPLOADS_PREFIX, Uploader,
};
pub use email::{Email, MAX_EMAIL_CHARS, UserId};
pub use ids::{
    ChatId, ConversationId, ConversationKey, ConversationRef, Kind, MAX_CONVERSATION_KEY_CHARS,
    MessageId, TicketId,
};
pub(crate) use message::check_web_url;
pub use message::{
    Author, ClientMessageId, ImageUrl, MAX_CLIENT_MESSAGE_ID_CHARS, MAX_IMAGE_URL_CHARS,
    MAX_MESSAGE_CHARS, MessageText, NewMessage,
};
pub use profile::{DisplayName, MAX_NAME_CHARS, Profile, UnixSeconds};
pub use rating::{
    MAX_RATING_COMMENT_CHARS, RATING_CHANGE_WINDOW_MS, Rating, RatingComment, RatingScore,
};
pub use reader::Reader;
pub use status::Status;
pub use unsubscribe::{UNSUBSCRIBE_SECRET_MIN, UnsubscribeKey};

/// Milliseconds since the Unix epoch, as the store records times.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, as DynamoDB's time-to-live attribute wants them.
pub fn now_seconds() -> i64 {
    now_millis() / 1000
}
