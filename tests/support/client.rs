//! What a test client sees: responses read whole, realtime sockets, and the values tests
//! build requests from and read answers with.

use super::{TestApp, TestStore};
use reqwest::StatusCode;
use serde_json::{Value, json};
use supportzen_shared::auth::{Secret, sign};
use supportzen_shared::domain::{ChatId, ConversationId, Email, Status, TicketId, UserId};
use supportzen_shared::store::{AgentReader, AgentWriter, ConversationAdmin};

/// How long a test waits for an event it expects before failing.
pub const EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A client's realtime socket.
pub struct Socket(
    pub tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Socket {
    /// The next event, as JSON; fails the test after [`EVENT_WAIT`] without one.
    pub async fn next_event(&mut self) -> Value {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let message = tokio::time::timeout(EVENT_WAIT, self.0.next())
                .await
                .expect("an event within the wait")
                .expect("the socket is open")
                .expect("a frame reads");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON event"),
                Message::Close(frame) => panic!("the server closed the socket: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Sends a text frame, as a client does (`{"action":"typing",…}`).
    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.0
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .expect("the frame is sent");
    }

    /// Closes the socket as a client does.
    pub async fn close(mut self) {
        let _ = self.0.close(None).await;
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a response to a request a test built itself (with [`TestApp::raw`]).
    pub async fn read_response(response: reqwest::Response) -> Self {
        Self::read(response).await
    }

    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body reads");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Whether the server says this answer repeats an earlier one (`Idempotent-Replayed`).
    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }

    /// Asserts a success envelope and returns its `data`.
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{:#}", self.body);
        assert_eq!(self.body["status"], "success");
        assert_eq!(self.body["error"], Value::Null);
        assert_eq!(self.headers["content-type"], "application/json");
        &self.body["data"]
    }

    /// Asserts an error envelope with this status and code; returns the `error` object.
    pub fn err(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_eq!(self.body["status"], "error");
        assert_eq!(self.body["data"], Value::Null);
        assert_eq!(self.body["error"]["code"], code, "{:#}", self.body);
        assert_eq!(self.headers["content-type"], "application/json");
        &self.body["error"]
    }

    /// Asserts a 400 that names `field`.
    pub fn bad_field(&self, field: &str) {
        assert_eq!(self.err(400, "invalid_field")["field"], field);
    }
}

/// The token a client computes: hex(HMAC-SHA256(secret, email as sent)).
pub fn token(secret: &str, email: &str) -> String {
    sign(&Secret::parse(secret).unwrap(), email)
}

/// A create body for `email`, flat.
pub fn create_body(email: &str, message: &str) -> Value {
    json!({
        "email": email,
        "name": "Premium Plan",
        "plan_id": 5,
        "created_at": 1679223400,
        "message": message,
    })
}

/// The user id an email is stored under.
pub fn user(email: &str) -> UserId {
    Email::parse(email).unwrap().user_id().clone()
}

/// The chat a success `data` names.
pub fn chat(data: &Value) -> ConversationId {
    ConversationId::Chat(ChatId::parse(data["chatId"].as_str().unwrap()).unwrap())
}

/// The ticket a success `data` names.
pub fn ticket(data: &Value) -> ConversationId {
    ConversationId::Ticket(TicketId::parse(data["ticketId"].as_str().unwrap()).unwrap())
}

/// The texts of a conversation's messages, oldest first.
pub async fn texts<S: ConversationAdmin>(store: &S, id: &ConversationId) -> Vec<String> {
    store
        .messages(id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

/// How many chats and tickets the user has.
pub async fn conversation_count<S: TestStore>(app: &TestApp<S>, email: &str) -> usize {
    app.store
        .conversations_of(&user(email))
        .await
        .unwrap()
        .len()
}

/// Closes a conversation as an agent would (a conversation closed at once, whatever
/// its status); `false` if there is no such conversation.
pub async fn close<S: AgentReader + AgentWriter>(store: &S, id: &ConversationId) -> bool {
    let Some(seen) = store.find_conversation(id).await.unwrap() else {
        return false;
    };
    store.set_status(&seen, Status::Closed, None).await.unwrap();
    true
}
