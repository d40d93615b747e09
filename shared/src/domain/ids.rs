//! Identifiers the API hands out. Chat and message ids are UUIDv7 (time-ordered,
//! so sorting by id sorts by creation); ticket numbers are sequential and human-friendly.

use std::fmt;
use uuid::Uuid;

/// Parses `PREFIX<hyphenated uuid>`, accepting only the canonical lower-case form we issue,
/// so one conversation never has two spellings.
pub(super) fn parse_prefixed_uuid(raw: &str, prefix: &str, what: &str) -> Result<Uuid, String> {
    let invalid = || format!("must be a {what} id like {prefix}<uuid>");
    let rest = raw.strip_prefix(prefix).ok_or_else(invalid)?;
    let uuid = Uuid::try_parse(rest).map_err(|_| invalid())?;
    if uuid.hyphenated().to_string() != rest {
        return Err(invalid());
    }
    Ok(uuid)
}

/// `chat-<uuidv7>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChatId(String);

impl ChatId {
    const PREFIX: &'static str = "chat-";

    pub fn generate() -> Self {
        ChatId(format!("{}{}", Self::PREFIX, Uuid::now_v7().hyphenated()))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_prefixed_uuid(raw, Self::PREFIX, "chat")?;
        Ok(ChatId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `msg-<uuidv7>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    const PREFIX: &'static str = "msg-";

    pub fn generate() -> Self {
        MessageId(format!("{}{}", Self::PREFIX, Uuid::now_v7().hyphenated()))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_prefixed_uuid(raw, Self::PREFIX, "message")?;
        Ok(MessageId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `TKT-001`, `TKT-002`, … `TKT-1000`: at least three digits, no other leading zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketId(u64);

impl TicketId {
    const PREFIX: &'static str = "TKT-";

    /// Ticket numbers start at 1; the store's counter hands them out.
    pub fn from_number(number: u64) -> Option<Self> {
        (number > 0).then_some(TicketId(number))
    }

    pub fn number(self) -> u64 {
        self.0
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || "must be a ticket id like TKT-001".to_string();
        let digits = raw.strip_prefix(Self::PREFIX).ok_or_else(invalid)?;
        if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let id = digits
            .parse()
            .ok()
            .and_then(Self::from_number)
            .ok_or_else(invalid)?;
        // Only the canonical spelling: TKT-0001 is not another name for TKT-001.
        if id.to_string() != raw {
            return Err(invalid());
        }
        Ok(id)
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", Self::PREFIX, self.0)
    }
}

/// The two kinds of conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Chat,
    Ticket,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Chat, Kind::Ticket];

    /// "chat" or "ticket", as the API and the stores spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Ticket => "ticket",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| "must be chat or ticket".to_string())
    }
}

/// Chats and tickets are both conversations: an owner, an open/closed status and
/// an ordered list of messages. The store treats them alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConversationId {
    Chat(ChatId),
    Ticket(TicketId),
}

impl ConversationId {
    /// The id as the API shows it and the store keys it.
    pub fn key(&self) -> String {
        match self {
            ConversationId::Chat(id) => id.as_str().to_string(),
            ConversationId::Ticket(id) => id.to_string(),
        }
    }

    /// "chat" or "ticket", for messages and the store's `kind` column.
    pub fn kind(&self) -> &'static str {
        self.conversation_kind().as_str()
    }

    pub fn conversation_kind(&self) -> Kind {
        match self {
            ConversationId::Chat(_) => Kind::Chat,
            ConversationId::Ticket(_) => Kind::Ticket,
        }
    }

    /// Rebuilds an id a store wrote earlier from its `kind` and [`ConversationId::key`].
    /// Only stores call this; the error is for their logs.
    pub fn from_stored(kind: &str, key: &str) -> Result<Self, String> {
        let parsed = match kind {
            "chat" => ChatId::parse(key).map(ConversationId::Chat),
            "ticket" => TicketId::parse(key).map(ConversationId::Ticket),
            other => Err(format!("unknown kind {other:?}")),
        };
        parsed.map_err(|reason| format!("stored conversation id {key:?}: {reason}"))
    }
}

/// Longest conversation id a client may send, in characters.
pub const MAX_CONVERSATION_KEY_CHARS: usize = 128;

/// A conversation id as a client sent it. Ids are opaque to clients: any string of 1 to
/// 128 characters without control characters is well-formed, and one that names no
/// conversation of the caller's is simply not found (404), never malformed (400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationKey(String);

impl ConversationKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.chars().count() > MAX_CONVERSATION_KEY_CHARS {
            return Err(format!(
                "must be at most {MAX_CONVERSATION_KEY_CHARS} characters"
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(ConversationKey(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The conversation of `kind` this names, if it is an id we issue for that kind.
    pub fn resolve(&self, kind: Kind) -> Option<ConversationId> {
        match kind {
            Kind::Chat => ChatId::parse(&self.0).ok().map(ConversationId::Chat),
            Kind::Ticket => TicketId::parse(&self.0).ok().map(ConversationId::Ticket),
        }
    }

    /// The conversation this names, of whichever kind.
    pub fn resolve_any(&self) -> Option<ConversationId> {
        Kind::ALL.into_iter().find_map(|kind| self.resolve(kind))
    }
}

/// What a request field that addresses an existing conversation carries: which field,
/// and which kind of conversation it may name.
pub trait ConversationRef {
    /// The request field, e.g. `chat_id`.
    const FIELD: &'static str;
    const KIND: Kind;
}

impl ConversationRef for ChatId {
    const FIELD: &'static str = "chat_id";
    const KIND: Kind = Kind::Chat;
}

impl ConversationRef for TicketId {
    const FIELD: &'static str = "ticket_id";
    const KIND: Kind = Kind::Ticket;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_creation() {
        let ids: Vec<MessageId> = (0..100).map(|_| MessageId::generate()).collect();
        for id in &ids {
            assert_eq!(MessageId::parse(id.as_str()).unwrap(), *id);
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "UUIDv7 ids must be time-ordered");
        let chat = ChatId::generate();
        assert!(chat.as_str().starts_with("chat-"));
        assert_eq!(ChatId::parse(chat.as_str()).unwrap(), chat);
    }

    #[test]
    fn stored_ids_come_back_as_they_were_written() {
        for id in [
            ConversationId::Chat(ChatId::generate()),
            ConversationId::Ticket(TicketId::from_number(7).unwrap()),
        ] {
            assert_eq!(ConversationId::from_stored(id.kind(), &id.key()), Ok(id));
        }
        assert!(ConversationId::from_stored("chat", "TKT-007").is_err());
        assert!(ConversationId::from_stored("email", "TKT-007").is_err());
    }

    #[test]
    fn client_ids_are_opaque_and_resolve_only_to_what_we_issue() {
        let chat = ChatId::generate();
        let key = ConversationKey::parse(chat.as_str()).unwrap();
        assert_eq!(
            key.resolve(Kind::Chat),
            Some(ConversationId::Chat(chat.clone()))
        );
        assert_eq!(key.resolve(Kind::Ticket), None);
        for unknown in ["chat-does-not-exist", "TKT-0001", "tkt-001", "ünïcödé"] {
            let key = ConversationKey::parse(unknown).unwrap();
            assert_eq!(key.resolve_any(), None, "{unknown}");
        }
        assert_eq!(
            ConversationKey::parse("TKT-001").unwrap().resolve_any(),
            Some(ConversationId::Ticket(TicketId::from_number(1).unwrap()))
        );
        assert!(ConversationKey::parse(&"x".repeat(MAX_CONVERSATION_KEY_CHARS)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(MAX_CONVERSATION_KEY_CHARS + 1),
            "a\nb".into(),
        ] {
            assert!(ConversationKey::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chat_ids_must_be_canonical() {
        let chat = ChatId::generate();
        for bad in [
            "",
            "chat-",
            "chat-xyz-123",
            &chat.as_str().to_uppercase(),
            &chat.as_str().replace("chat-", "msg-"),
            &chat.as_str().replace('-', ""),
        ] {
            assert!(ChatId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn tickets_have_at_least_three_digits() {
        assert_eq!(TicketId::from_number(1).unwrap().to_string(), "TKT-001");
        assert_eq!(TicketId::from_number(42).unwrap().to_string(), "TKT-042");
        assert_eq!(TicketId::from_number(1234).unwrap().to_string(), "TKT-1234");
        assert_eq!(TicketId::parse("TKT-001").unwrap().number(), 1);
        assert_eq!(TicketId::parse("TKT-1234").unwrap().number(), 1234);
        assert!(TicketId::from_number(0).is_none());
    }

    #[test]
    fn ticket_ids_must_be_canonical() {
        for bad in [
            "",
            "TKT-",
            "TKT-1",
            "TKT-01",
            "TKT-000",
            "TKT-0001",
            "tkt-001",
            "TKT-00a",
            "TKT-+01",
            "TKT-99999999999999999999999",
        ] {
            assert!(TicketId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
