//! What the customer flows answer with: the `data` of their responses, typed. Each is
//! also what an idempotency receipt keeps, so it reads back as well as it writes.

use crate::domain::{ConversationId, MessageId};
use serde::{Deserialize, Serialize};

/// A conversation was opened: `{"chatId": …}` or `{"ticketId": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "IdFields", try_from = "IdFields")]
pub struct Opened {
    pub conversation: ConversationId,
}

/// A message was posted: `{"chatId" or "ticketId": …, "messageId": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "IdFields", try_from = "IdFields")]
pub struct Posted {
    pub conversation: ConversationId,
    pub message: MessageId,
}

/// The ids as the API spells them: the conversation's under `<kind>Id`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    chat_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
}

impl IdFields {
    fn new(conversation: &ConversationId, message: Option<&MessageId>) -> Self {
        let key = Some(conversation.key());
        let (chat_id, ticket_id) = match conversation {
            ConversationId::Chat(_) => (key, None),
            ConversationId::Ticket(_) => (None, key),
        };
        IdFields {
            chat_id,
            ticket_id,
            message_id: message.map(|m| m.as_str().to_string()),
        }
    }

    fn conversation(&self) -> Result<ConversationId, String> {
        match (&self.chat_id, &self.ticket_id) {
            (Some(chat), None) => ConversationId::from_stored("chat", chat),
            (None, Some(ticket)) => ConversationId::from_stored("ticket", ticket),
            _ => Err("expected exactly one of chatId and ticketId".into()),
        }
    }
}

impl From<Opened> for IdFields {
    fn from(opened: Opened) -> Self {
        IdFields::new(&opened.conversation, None)
    }
}

impl TryFrom<IdFields> for Opened {
    type Error = String;
    fn try_from(fields: IdFields) -> Result<Self, String> {
        Ok(Opened {
            conversation: fields.conversation()?,
        })
    }
}

impl From<Posted> for IdFields {
    fn from(posted: Posted) -> Self {
        IdFields::new(&posted.conversation, Some(&posted.message))
    }
}

impl TryFrom<IdFields> for Posted {
    type Error = String;
    fn try_from(fields: IdFields) -> Result<Self, String> {
        let message = fields.message_id.as_deref().ok_or("messageId is missing")?;
        Ok(Posted {
            conversation: fields.conversation()?,
            message: MessageId::parse(message)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChatId, TicketId};
    use serde_json::{Value, json};

    #[test]
    fn answers_are_spelled_as_the_api_documents_and_read_back() {
        let chat = ConversationId::Chat(ChatId::generate());
        let ticket = ConversationId::Ticket(TicketId::from_number(2).unwrap());
        let message = MessageId::generate();
        let opened = Opened {
            conversation: ticket.clone(),
        };
        let posted = Posted {
            conversation: chat.clone(),
            message: message.clone(),
        };
        assert_eq!(
            serde_json::to_value(&opened).unwrap(),
            json!({"ticketId": "TKT-002"})
        );
        assert_eq!(
            serde_json::to_string(&posted).unwrap(),
            format!(
                r#"{{"chatId":"{}","messageId":"{}"}}"#,
                chat.key(),
                message.as_str()
            )
        );
        let back: Opened = serde_json::from_value(json!({"ticketId": "TKT-002"})).unwrap();
        assert_eq!(back, opened);
        let text = serde_json::to_string(&posted).unwrap();
        assert_eq!(serde_json::from_str::<Posted>(&text).unwrap(), posted);
        for bad in [
            json!({}),
            json!({"chatId": "TKT-002"}),
            json!({"ticketId": 2}),
        ] {
            assert!(
                serde_json::from_value::<Opened>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let no_message: Value = json!({"ticketId": "TKT-002"});
        assert!(serde_json::from_value::<Posted>(no_message).is_err());
    }
}
