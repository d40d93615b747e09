//! The handler on `events/realtime/ws-typing.json` (demo typing in their `TKT-001`), with
//! the store and the sockets faked in memory.

use super::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use supportzen_shared::domain::{ConversationId, Email, Status, TicketId, UserId};
use supportzen_shared::events::TypingThrottle;
use supportzen_shared::store::{
    ActivityCursor, InboxFilter, MessageWindow, Page, StoreError, StoredConversation, StoredMessage,
};

/// The sample's time: `requestTimeEpoch`.
const NOW: i64 = 1_795_341_605_000;

fn user(email: &str) -> UserId {
    Email::parse(email).unwrap().user_id().clone()
}

fn ticket(number: u64, owner: &str) -> StoredConversation {
    StoredConversation {
        id: ConversationId::Ticket(TicketId::from_number(number).unwrap()),
        owner: user(owner),
        status: Status::Open,
        assignee: None,
        snoozed_until: None,
        follow_up_of: None,
        created_at: NOW,
        last_activity_at: NOW,
        last_message: None,
        reads: Default::default(),
        rating: None,
    }
}

/// Two tickets (demo's TKT-001, other's TKT-002), connections per audience, the throttle
/// in memory, and every post made.
struct Fakes {
    conversations: Vec<StoredConversation>,
    connections: Vec<(Audience, &'static str)>,
    throttle: Mutex<TypingThrottle>,
    posted: Mutex<Vec<(String, Value)>>,
}

impl Fakes {
    fn new() -> Self {
        Fakes {
            conversations: vec![
                ticket(1, "demo@example.com"),
                ticket(2, "other@example.com"),
            ],
            connections: vec![
                (Audience::Agents, "agent-a"),
                (Audience::Agents, "agent-b"),
                (Audience::Customer(user("demo@example.com")), "demo-1"),
                (Audience::Customer(user("demo@example.com")), "demo-2"),
                (Audience::Customer(user("other@example.com")), "other-1"),
            ],
            throttle: Mutex::new(TypingThrottle::default()),
            posted: Mutex::new(Vec::new()),
        }
    }

    /// The connections posted to since the last call, sorted, and the frames' `data`.
    fn take(&self) -> (Vec<String>, Vec<Value>) {
        let mut posted = std::mem::take(&mut *self.posted.lock().unwrap());
        posted.sort_by(|a, b| a.0.cmp(&b.0));
        posted.into_iter().unzip()
    }
}

impl AgentReader for Fakes {
    async fn find_conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        Ok(self.conversations.iter().find(|c| &c.id == id).cloned())
    }

    async fn inbox_page(
        &self,
        _: &InboxFilter,
        _: Option<&ActivityCursor>,
        _: usize,
    ) -> Result<Page<StoredConversation>, StoreError> {
        Err(StoreError::Internal("typing reads no inbox".into()))
    }

    async fn agent_message_page(
        &self,
        _: &ConversationId,
        _: &MessageWindow,
        _: usize,
    ) -> Result<Page<StoredMessage>, StoreError> {
        Err(StoreError::Internal("typing reads no messages".into()))
    }
}

impl ConnectionReader for Fakes {
    async fn connections(&self, audience: &Audience, _: i64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .connections
            .iter()
            .filter(|(a, _)| a == audience)
            .map(|(_, c)| c.to_string())
            .collect())
    }
}

impl TypingGate for Fakes {
    async fn claim_typing(
        &self,
        from: &Subscriber,
        conversation: &ConversationId,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.throttle.lock().unwrap().allow(from, conversation, now))
    }
}

impl Poster for Fakes {
    async fn post(&self, connection_id: &str, data: &str) -> Result<(), String> {
        let frame = serde_json::from_str(data).map_err(|e| e.to_string())?;
        self.posted
            .lock()
            .unwrap()
            .push((connection_id.to_string(), frame));
        Ok(())
    }
}

fn sample() -> ApiGatewayWebsocketProxyRequest {
    let path = format!(
        "{}/../../events/realtime/ws-typing.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The sample, sent by `kind` `id` about `conversation`.
fn frame(kind: &str, id: &str, conversation: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut request = sample();
    let fields = &mut request.request_context.authorizer.fields;
    fields.insert("subscriberKind".into(), json!(kind));
    fields.insert("subscriberId".into(), json!(id));
    if kind == "agent" {
        fields.insert("subscriberName".into(), json!("Sam from Support"));
    }
    request.body = Some(json!({"action": "typing", "conversationId": conversation}).to_string());
    request
}

#[tokio::test]
async fn the_customers_typing_reaches_the_agents_once_per_two_seconds() {
    let fakes = Fakes::new();
    let answer = handle(&fakes, &fakes, &sample(), NOW).await;
    assert_eq!(answer.status_code, 200);
    let (to, frames) = fakes.take();
    assert_eq!(
        to,
        ["agent-a", "agent-b"],
        "the agents, not demo's own sockets"
    );
    assert_eq!(
        frames[0],
        json!({"type": "typing", "conversationId": "TKT-001", "occurredAt": NOW,
               "data": {"from": "customer", "agent": null}})
    );
    // Again within 2 s: dropped; after them, through again.
    assert_eq!(
        handle(&fakes, &fakes, &sample(), NOW + 1_999)
            .await
            .status_code,
        200
    );
    assert!(fakes.take().0.is_empty());
    handle(&fakes, &fakes, &sample(), NOW + 2_000).await;
    assert_eq!(fakes.take().0.len(), 2);
}

#[tokio::test]
async fn an_agents_typing_reaches_that_customer_only() {
    let fakes = Fakes::new();
    let request = frame("agent", "agent-7", "TKT-001");
    assert_eq!(handle(&fakes, &fakes, &request, NOW).await.status_code, 200);
    let (to, frames) = fakes.take();
    assert_eq!(to, ["demo-1", "demo-2"]);
    assert_eq!(frames[0]["data"]["from"], "agent");
    assert_eq!(
        frames[0]["data"]["agent"],
        json!({"id": "agent-7", "name": "Sam from Support"})
    );
}

#[tokio::test]
async fn frames_that_are_not_allowed_post_nothing() {
    let fakes = Fakes::new();
    // Someone else's ticket, a ticket never issued, a chat id no one opened: 404.
    for conversation in [
        "TKT-002",
        "TKT-404",
        "chat-019aa6f0-0000-7000-8000-000000000001",
    ] {
        let request = frame("customer", "demo@example.com", conversation);
        assert_eq!(
            handle(&fakes, &fakes, &request, NOW).await.status_code,
            404,
            "{conversation}"
        );
    }
    // Not a typing frame: 400.
    let mut request = sample();
    request.body = Some(r#"{"action":"dance"}"#.into());
    assert_eq!(handle(&fakes, &fakes, &request, NOW).await.status_code, 400);
    // No authorizer context (a route deployed without it): 403.
    let mut request = sample();
    request.request_context.authorizer.fields = HashMap::new();
    assert_eq!(handle(&fakes, &fakes, &request, NOW).await.status_code, 403);
    assert!(fakes.take().0.is_empty());
}
