//! The one event envelope: what the realtime sockets push and, thinned, what webhooks
//! carry. Every event names its conversation and the newest message id the sender knows
//! of, so a client that missed events reads `after=<that id>` and has everything.

use crate::domain::{
    Agent, AgentId, ConversationId, MessageId, NewMessage, Rating, Reader, Status, UserId,
};
use serde::Serialize;
use serde_json::{Value, json};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A message was added: a customer's, an agent's reply, or an agents-only note.
    MessageCreated,
    /// An agent moved the conversation to another status.
    StatusChanged,
    /// The conversation was assigned to an agent, or unassigned.
    Assigned,
    /// The customer's or the agents' read mark moved forward.
    Read,
    /// The customer rated the solved conversation, or changed their rating.
    Rated,
    /// An operator erased everything stored about a customer (`supportzen users
    /// erase`): an event about a customer, not a conversation ([`super::CustomerEvent`]).
    CustomerErased,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::MessageCreated,
        EventType::StatusChanged,
        EventType::Assigned,
        EventType::Read,
        EventType::Rated,
        EventType::CustomerErased,
    ];

    /// The envelope's `type`, and the name webhooks subscribe to.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageCreated => "message.created",
            EventType::StatusChanged => "conversation.status_changed",
            EventType::Assigned => "conversation.assigned",
            EventType::Read => "conversation.read",
            EventType::Rated => "conversation.rated",
            EventType::CustomerErased => "customer.erased",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| {
                "must be one of message.created, conversation.status_changed, \
                 conversation.assigned, conversation.read, conversation.rated, \
                 customer.erased"
                    .to_string()
            })
    }
}

/// Who may see an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// The conversation's customer and agents.
    Public,
    /// Agents only: internal notes and assignments.
    Agents,
}

/// One change to a conversation, as it is delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `evt_<…>`: unique per change, and the same on every delivery of it (webhook
    /// retries keep it as `webhook-id`), so receivers can drop repeats.
    pub id: String,
    pub kind: EventType,
    pub conversation: ConversationId,
    /// The conversation's customer: who may receive its public events.
    pub owner: UserId,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: i64,
    pub visibility: Visibility,
    /// The newest message this event knows of in the conversation (the message itself
    /// for `message.created`): the catch-up cursor.
    pub message_id: Option<MessageId>,
    /// The type's own fields, as the API spells them (a message as the read routes show
    /// it, plus `kind`).
    pub data: Value,
}

/// The envelope as it goes on the wire.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: String,
    occurred_at: i64,
    data: &'a Value,
}

impl Event {
    /// A new `evt_<uuidv7>` id, for events produced at the store's commit.
    pub fn new_id() -> String {
        format!("evt_{}", uuid::Uuid::now_v7().simple())
    }

    /// `message` was added to `conversation`. Notes are for agents only.
    pub fn message_created(
        id: String,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
    ) -> Self {
        let data = json!({
            "kind": conversation.kind(),
            "messageId": message.id.as_str(),
            "author": message.author.as_str(),
            "message": message.text.as_str(),
            "imageUrl": message.image_url.as_ref().map(|url| url.as_str()),
            "clientMessageId": message.client_message_id.as_ref().map(|id| id.as_str()),
            "createdAt": message.sent_at,
            "agent": message.agent.as_ref().map(agent_json),
            "internal": message.internal,
            // Ids only: a download link is signed for whoever reads the message.
            "attachments": message
                .attachments
                .iter()
                .map(|file| file.id.as_str())
                .collect::<Vec<_>>(),
        });
        Event {
            id,
            kind: EventType::MessageCreated,
            conversation: conversation.clone(),
            owner: owner.clone(),
            occurred_at: message.sent_at,
            visibility: if message.internal {
                Visibility::Agents
            } else {
                Visibility::Public
            },
            message_id: Some(message.id.clone()),
            data,
        }
    }

    /// The conversation moved to `status` (with a snooze time, for pending).
    #[allow(clippy::too_many_arguments)]
    pub fn status_changed(
        id: String,
        conversation: &ConversationId,
        owner: &UserId,
        status: Status,
        snoozed_until: Option<i64>,
        last_message: Option<&MessageId>,
        occurred_at: i64,
    ) -> Self {
        let data = json!({
            "kind": conversation.kind(),
            "status": status.as_str(),
            "snoozedUntil": snoozed_until,
            "lastMessageId": last_message.map(MessageId::as_str),
        });
        Event {
            id,
            kind: EventType::StatusChanged,
            conversation: conversation.clone(),
            owner: owner.clone(),
            occurred_at,
            visibility: Visibility::Public,
            message_id: last_message.cloned(),
            data,
        }
    }

    /// The conversation was assigned to `assignee`, or to nobody.
    pub fn assigned(
        id: String,
        conversation: &ConversationId,
        owner: &UserId,
        assignee: Option<&AgentId>,
        last_message: Option<&MessageId>,
        occurred_at: i64,
    ) -> Self {
        let data = json!({
            "kind": conversation.kind(),
            "assignee": assignee.map(|id| json!({ "id": id.as_str() })),
            "lastMessageId": last_message.map(MessageId::as_str),
        });
        Event {
            id,
            kind: EventType::Assigned,
            conversation: conversation.clone(),
            owner: owner.clone(),
            occurred_at,
            visibility: Visibility::Agents,
            message_id: last_message.cloned(),
            data,
        }
    }

    /// `reader`'s mark moved to `up_to` (`by`: the agent who moved the agents' mark).
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        id: String,
        conversation: &ConversationId,
        owner: &UserId,
        reader: Reader,
        up_to: &MessageId,
        by: Option<&Agent>,
        last_message: Option<&MessageId>,
        occurred_at: i64,
    ) -> Self {
        let data = json!({
            "kind": conversation.kind(),
            "reader": reader.as_str(),
            "upTo": up_to.as_str(),
            "agent": by.map(agent_json),
        });
        Event {
            id,
            kind: EventType::Read,
            conversation: conversation.clone(),
            owner: owner.clone(),
            occurred_at,
            visibility: Visibility::Public,
            message_id: last_message.cloned(),
            data,
        }
    }

    /// The customer rated the conversation (or changed their rating): seen by agents
    /// and the customer, at the rating's time.
    pub fn rated(
        id: String,
        conversation: &ConversationId,
        owner: &UserId,
        rating: &Rating,
        last_message: Option<&MessageId>,
    ) -> Self {
        let data = json!({
            "kind": conversation.kind(),
            "rating": rating.score.get(),
            "comment": rating.comment.as_ref().map(|c| c.as_str()),
            "ratedAt": rating.rated_at,
        });
        Event {
            id,
            kind: EventType::Rated,
            conversation: conversation.clone(),
            owner: owner.clone(),
            occurred_at: rating.rated_at,
            visibility: Visibility::Public,
            message_id: last_message.cloned(),
            data,
        }
    }

    /// Whether the customer `user` may receive this event.
    pub fn visible_to_customer(&self, user: &UserId) -> bool {
        self.visibility == Visibility::Public && &self.owner == user
    }

    /// The envelope the sockets push: `{id, type, conversationId, occurredAt, data}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Envelope {
            id: &self.id,
            kind: self.kind.as_str(),
            conversation_id: self.conversation.key(),
            occurred_at: self.occurred_at,
            data: &self.data,
        })
        .expect("an envelope is plain JSON")
    }

    /// The thin envelope webhooks carry: ids, the status or assignee, and the customer's
    /// email; never a message's text or any secret. Receivers fetch the rest.
    pub fn to_webhook_json(&self) -> String {
        let mut data = json!({
            "kind": self.conversation.kind(),
            "messageId": self.message_id.as_ref().map(MessageId::as_str),
            "customer": { "email": self.owner.as_str() },
        });
        // A rating's score and time, not its comment (free text, like a message's).
        for field in [
            "status",
            "assignee",
            "author",
            "internal",
            "attachments",
            "reader",
            "upTo",
            "rating",
            "ratedAt",
        ] {
            if let Some(value) = self.data.get(field) {
                data[field] = value.clone();
            }
        }
        serde_json::to_string(&Envelope {
            id: &self.id,
            kind: self.kind.as_str(),
            conversation_id: self.conversation.key(),
            occurred_at: self.occurred_at,
            data: &data,
        })
        .expect("an envelope is plain JSON")
    }
}

fn agent_json(agent: &Agent) -> Value {
    json!({ "id": agent.id.as_str(), "name": agent.name.as_str() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Author, ChatId, Email, MessageText};

    fn message(internal: bool) -> NewMessage {
        NewMessage {
            internal,
            ..NewMessage::now(
                Author::Customer,
                MessageText::parse("my card was charged twice").unwrap(),
                None,
                None,
            )
        }
    }

    #[test]
    fn the_envelope_has_the_documented_fields_and_the_webhook_one_no_text() {
        let chat = ConversationId::Chat(ChatId::generate());
        let owner = Email::parse("Ann@Example.com").unwrap().user_id().clone();
        let sent = message(false);
        let event = Event::message_created(Event::new_id(), &chat, &owner, &sent);

        let wire: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(wire["type"], "message.created");
        assert_eq!(wire["conversationId"], chat.key().as_str());
        assert_eq!(wire["occurredAt"], sent.sent_at);
        assert_eq!(wire["data"]["messageId"], sent.id.as_str());
        assert_eq!(wire["data"]["message"], "my card was charged twice");

        let thin = event.to_webhook_json();
        assert!(!thin.contains("charged twice"), "{thin}");
        let thin: Value = serde_json::from_str(&thin).unwrap();
        assert_eq!(thin["id"], wire["id"]);
        assert_eq!(thin["data"]["messageId"], sent.id.as_str());
        assert_eq!(thin["data"]["customer"]["email"], owner.as_str());
    }

    #[test]
    fn notes_and_assignments_are_for_agents_only() {
        let chat = ConversationId::Chat(ChatId::generate());
        let owner = Email::parse("ann@example.com").unwrap().user_id().clone();
        let note = Event::message_created(Event::new_id(), &chat, &owner, &message(true));
        assert!(!note.visible_to_customer(&owner));
        let reply = Event::message_created(Event::new_id(), &chat, &owner, &message(false));
        assert!(reply.visible_to_customer(&owner));
        let other = Email::parse("bob@example.com").unwrap().user_id().clone();
        assert!(!reply.visible_to_customer(&other));
        let assigned = Event::assigned(Event::new_id(), &chat, &owner, None, None, 1);
        assert!(!assigned.visible_to_customer(&owner));
    }

    #[test]
    fn event_types_parse_as_they_are_spelled() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Ok(kind));
        }
        assert!(EventType::parse("message.deleted").is_err());
    }
}
