//! An event as the SQLite store's event journal keeps it between the write's commit and
//! the local server's relay: every field of [`Event`], so the relay hands on exactly the
//! event the write produced, under the same id.

use super::envelope::{Event, EventType, Visibility};
use crate::domain::{ConversationId, MessageId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Journaled {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    conversation_kind: String,
    conversation_id: String,
    owner: String,
    occurred_at: i64,
    agents_only: bool,
    message_id: Option<String>,
    data: Value,
}

impl Event {
    /// The event as one JSON text, for the journal; [`Event::from_journal`] reads it back.
    /// Fails (saying why, for the write's internal error) only if its data cannot be
    /// written as JSON.
    pub fn to_journal(&self) -> Result<String, String> {
        let journaled = Journaled {
            id: self.id.clone(),
            kind: self.kind.as_str().to_string(),
            conversation_kind: self.conversation.kind().to_string(),
            conversation_id: self.conversation.key(),
            owner: self.owner.as_str().to_string(),
            occurred_at: self.occurred_at,
            agents_only: self.visibility == Visibility::Agents,
            message_id: self.message_id.as_ref().map(|id| id.as_str().to_string()),
            data: self.data.clone(),
        };
        serde_json::to_string(&journaled)
            .map_err(|e| format!("event {} not journaled: {e}", self.id))
    }

    /// Reads back what [`Event::to_journal`] wrote; the error is for logs.
    pub fn from_journal(text: &str) -> Result<Self, String> {
        let journaled: Journaled =
            serde_json::from_str(text).map_err(|e| format!("journaled event: {e}"))?;
        Ok(Event {
            kind: EventType::parse(&journaled.kind)?,
            conversation: ConversationId::from_stored(
                &journaled.conversation_kind,
                &journaled.conversation_id,
            )?,
            owner: UserId::from_stored(journaled.owner),
            occurred_at: journaled.occurred_at,
            visibility: if journaled.agents_only {
                Visibility::Agents
            } else {
                Visibility::Public
            },
            message_id: journaled
                .message_id
                .as_deref()
                .map(MessageId::parse)
                .transpose()?,
            data: journaled.data,
            id: journaled.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{Author, ChatId, MessageText, NewMessage};
    use crate::events::Event;
    use crate::events::changes::message_event;

    #[test]
    fn an_event_reads_back_as_it_was_journaled() {
        let conversation = crate::domain::ConversationId::Chat(ChatId::generate());
        let owner = crate::domain::Email::parse("ann@example.com")
            .unwrap()
            .user_id()
            .clone();
        let mut message = NewMessage::now(
            Author::Customer,
            MessageText::parse("Hello").unwrap(),
            None,
            None,
        );
        message.internal = true;
        let event = message_event(Event::new_id(), &conversation, &owner, &message);
        assert_eq!(
            Event::from_journal(&event.to_journal().unwrap()),
            Ok(event.clone())
        );
        assert!(Event::from_journal("{}").is_err());
    }
}
