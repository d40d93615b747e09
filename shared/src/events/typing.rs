//! Typing indicators: a client says `{"action":"typing","conversationId":"…"}` over its
//! socket, and the other side of that conversation gets
//! `{"type":"typing","conversationId":…,"occurredAt":…,"data":{"from","agent"}}`: the
//! customer's typing reaches the agents, an agent's reaches that customer (not the other
//! agents). Never stored, never a webhook, at most one per sender and conversation per
//! [`TYPING_INTERVAL_MS`] (extra frames are dropped by the server).

use super::Subscriber;
use crate::domain::{Agent, ConversationId, ConversationKey, UserId};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The least time between two typing signals of one sender in one conversation.
pub const TYPING_INTERVAL_MS: i64 = 2_000;

/// What a client may send over its socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// The sender is typing in this conversation.
    Typing { conversation: ConversationKey },
}

impl ClientFrame {
    /// Reads a text frame; the reason if it is not one the server takes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|_| "a frame must be a JSON object".to_string())?;
        match value.get("action").and_then(Value::as_str) {
            Some("typing") => {
                let raw = value
                    .get("conversationId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| "conversationId is required".to_string())?;
                let conversation = ConversationKey::parse(raw)
                    .map_err(|reason| format!("conversationId {reason}"))?;
                Ok(ClientFrame::Typing { conversation })
            }
            Some(other) => Err(format!("unknown action {other:?}")),
            None => Err("action is required".to_string()),
        }
    }
}

/// Someone is typing in a conversation: for the other side only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typing {
    pub conversation: ConversationId,
    /// The conversation's customer.
    pub owner: UserId,
    /// Who is typing: the customer, or an agent.
    pub from: Subscriber,
    /// The typing agent, as their messages show them; `None` for the customer.
    pub agent: Option<Agent>,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: i64,
}

impl Typing {
    /// Whether `subscriber`'s socket gets this: the other side of the conversation only
    /// (the agents for the customer's typing; that customer for an agent's).
    pub fn reaches(&self, subscriber: &Subscriber) -> bool {
        match (&self.from, subscriber) {
            (Subscriber::Customer(_), Subscriber::Agent(_)) => true,
            (Subscriber::Agent(_), Subscriber::Customer(user)) => *user == self.owner,
            _ => false,
        }
    }

    /// Whether the customer's sockets get it (else the agents' do).
    pub fn for_customer(&self) -> bool {
        matches!(self.from, Subscriber::Agent(_))
    }

    /// The frame the receiving sockets get.
    pub fn to_json(&self) -> String {
        json!({
            "type": "typing",
            "conversationId": self.conversation.key(),
            "occurredAt": self.occurred_at,
            "data": {
                "from": self.from.kind(),
                "agent": self.agent.as_ref().map(|agent| json!({
                    "id": agent.id.as_str(),
                    "name": agent.name.as_str(),
                })),
            },
        })
        .to_string()
    }
}

/// Remembers when each sender last typed in each conversation, to let at most one
/// signal through per [`TYPING_INTERVAL_MS`]. The local server keeps one for all its
/// sockets; production keeps the same rule in the table (a conditional write).
#[derive(Debug, Default)]
pub struct TypingThrottle {
    last: HashMap<(String, String, String), i64>,
}

impl TypingThrottle {
    /// Whether `from` may signal typing in `conversation` at `now` (ms); if so, the
    /// interval starts again from `now`.
    pub fn allow(&mut self, from: &Subscriber, conversation: &ConversationId, now: i64) -> bool {
        // Forget what no longer throttles anything, now and then.
        if self.last.len() > 4096 {
            self.last.retain(|_, at| now - *at < TYPING_INTERVAL_MS);
        }
        let key = (
            from.kind().to_string(),
            from.id().to_string(),
            conversation.key(),
        );
        match self.last.get(&key) {
            Some(at) if now - at < TYPING_INTERVAL_MS => false,
            _ => {
                self.last.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentId, ChatId, DisplayName, Email};

    fn ann() -> UserId {
        Email::parse("ann@example.com").unwrap().user_id().clone()
    }

    #[test]
    fn frames_are_read_and_anything_else_refused() {
        let chat = ChatId::generate();
        let frame = format!(
            r#"{{"action":"typing","conversationId":"{}"}}"#,
            chat.as_str()
        );
        assert_eq!(
            ClientFrame::parse(&frame),
            Ok(ClientFrame::Typing {
                conversation: ConversationKey::parse(chat.as_str()).unwrap()
            })
        );
        for bad in [
            "typing",
            "{}",
            r#"{"action":"typing"}"#,
            r#"{"action":"typing","conversationId":""}"#,
            r#"{"action":"dance","conversationId":"TKT-001"}"#,
        ] {
            assert!(ClientFrame::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn typing_reaches_the_other_side_only() {
        let conversation = ConversationId::Chat(ChatId::generate());
        let agent = Agent {
            id: AgentId::parse("agent-7").unwrap(),
            name: DisplayName::parse("Sam").unwrap(),
        };
        let bob = Email::parse("bob@example.com").unwrap().user_id().clone();
        let customer_typing = Typing {
            conversation: conversation.clone(),
            owner: ann(),
            from: Subscriber::Customer(ann()),
            agent: None,
            occurred_at: 1,
        };
        assert!(customer_typing.reaches(&Subscriber::Agent(agent.clone())));
        assert!(!customer_typing.reaches(&Subscriber::Customer(ann())));
        let agent_typing = Typing {
            from: Subscriber::Agent(agent.clone()),
            agent: Some(agent.clone()),
            ..customer_typing.clone()
        };
        assert!(agent_typing.reaches(&Subscriber::Customer(ann())));
        assert!(!agent_typing.reaches(&Subscriber::Customer(bob)));
        let other = Agent {
            id: AgentId::parse("agent-8").unwrap(),
            ..agent.clone()
        };
        assert!(!agent_typing.reaches(&Subscriber::Agent(other)));
        let frame: Value = serde_json::from_str(&agent_typing.to_json()).unwrap();
        assert_eq!(
            frame,
            json!({"type": "typing", "conversationId": conversation.key(), "occurredAt": 1,
                   "data": {"from": "agent", "agent": {"id": "agent-7", "name": "Sam"}}})
        );
    }

    #[test]
    fn one_signal_per_sender_and_conversation_per_interval() {
        let mut throttle = TypingThrottle::default();
        let (one, two) = (
            ConversationId::Chat(ChatId::generate()),
            ConversationId::Chat(ChatId::generate()),
        );
        let ann = Subscriber::Customer(ann());
        let agent = Subscriber::Agent(Agent {
            id: AgentId::parse("agent-7").unwrap(),
            name: DisplayName::parse("Sam").unwrap(),
        });
        assert!(throttle.allow(&ann, &one, 1_000));
        assert!(!throttle.allow(&ann, &one, 2_999));
        assert!(throttle.allow(&agent, &one, 2_999), "another sender");
        assert!(throttle.allow(&ann, &two, 2_999), "another conversation");
        assert!(throttle.allow(&ann, &one, 3_000));
    }
}
