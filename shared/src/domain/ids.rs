//! Identifiers the API hands out. Chat and message ids are UUIDv7 (time-ordered,
//! so sorting by id sorts by creation); ticket numbers are sequential and human-friendly.

use std::fmt;
use uuid::Uuid;

/// Parses `PREFIX<hyphenated uuid>`, accepting only the canonical lower-case form we issue,
/// so one conversation never has two spellings.
fn parse_prefixed_uuid(raw: &str, prefix: &str, what: &str) -> Result<Uuid, String> {
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
        match self {
            ConversationId::Chat(_) => "chat",
            ConversationId::Ticket(_) => "ticket",
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

/// An id a client uses to address an existing conversation: which request field
/// carries it and how it parses.
pub trait ConversationRef: Sized {
    /// The request field, e.g. `chat_id`.
    const FIELD: &'static str;
    fn parse(raw: &str) -> Result<Self, String>;
    fn conversation(&self) -> ConversationId;
}

impl ConversationRef for ChatId {
    const FIELD: &'static str = "chat_id";
    fn parse(raw: &str) -> Result<Self, String> {
        ChatId::parse(raw)
    }
    fn conversation(&self) -> ConversationId {
        ConversationId::Chat(self.clone())
    }
}

impl ConversationRef for TicketId {
    const FIELD: &'static str = "ticket_id";
    fn parse(raw: &str) -> Result<Self, String> {
        TicketId::parse(raw)
    }
    fn conversation(&self) -> ConversationId {
        ConversationId::Ticket(*self)
    }
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
