//! The HTTP side of the benchmark: the server's public routes, called as a customer's
//! app and an agent's console call them. Each write returns the instant just before its
//! request was handed to the connection, which is where a delivery's latency starts.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Instant;

/// One customer of the run: their identity and the chat the benchmark writes to.
pub struct Customer {
    pub email: String,
    /// `hex(HMAC-SHA256(secret, email))`, as a client computes it.
    token: String,
    pub chat: String,
}

/// A message the server acknowledged.
pub struct Written {
    pub message_id: String,
    /// Just before the request was sent.
    pub sent: Instant,
    /// When the 200 had been read.
    pub acknowledged: Instant,
}

/// The server's routes, for one run.
pub struct Api {
    client: reqwest::Client,
    base: Url,
    /// Sent as a bearer token; never printed.
    agent_token: String,
}

impl Api {
    pub fn new(base: Url, agent_token: String) -> Self {
        Api {
            client: reqwest::Client::new(),
            base,
            agent_token,
        }
    }

    fn url(&self, path: &str) -> Result<Url, String> {
        self.base
            .join(path)
            .map_err(|err| format!("--url cannot take the path {path}: {err}"))
    }

    /// Opens a chat as a new customer `email`. With `TRUST_FIRST_REQUEST=true` (the
    /// server's default) this first request also creates the customer, pinned to the
    /// token it presents; the secret exists only in this process.
    pub async fn new_customer(&self, email: String, secret: &str) -> Result<Customer, String> {
        let token = sign(secret, &email);
        let body = json!({
            "email": email,
            "created_at": 1679223400,
            "message": "Benchmark: hello",
        });
        let request = self
            .client
            .post(self.url("/api/client/live/create")?)
            .bearer_auth(&token)
            .json(&body);
        let data = data(request.send().await, "live-create").await?;
        let chat = text(&data, "/chatId", "live-create")?;
        Ok(Customer { email, token, chat })
    }

    /// A single-use connect ticket for `customer`'s socket.
    pub async fn customer_ticket(&self, customer: &Customer) -> Result<String, String> {
        let request = self
            .client
            .post(self.url("/api/client/realtime/ticket")?)
            .bearer_auth(&customer.token)
            .header("x-supportzen-email", &customer.email);
        let data = data(request.send().await, "realtime-ticket").await?;
        text(&data, "/ticket", "realtime-ticket")
    }

    /// A single-use connect ticket for an agent's socket.
    pub async fn agent_ticket(&self) -> Result<String, String> {
        let request = self
            .client
            .post(self.url("/api/agent/realtime/ticket")?)
            .bearer_auth(&self.agent_token);
        let data = data(request.send().await, "agent-realtime-ticket").await?;
        text(&data, "/ticket", "agent-realtime-ticket")
    }

    /// `customer` writes `message` in their chat (live-chat).
    pub async fn customer_says(
        &self,
        customer: &Customer,
        message: &str,
    ) -> Result<Written, String> {
        let body = json!({"chat_id": customer.chat, "email": customer.email, "message": message});
        let request = self
            .client
            .post(self.url("/api/client/live/chat")?)
            .bearer_auth(&customer.token)
            .json(&body);
        timed(request, "live-chat", "/messageId").await
    }

    /// The agent replies `message` in `chat` (agent-reply).
    pub async fn agent_replies(&self, chat: &str, message: &str) -> Result<Written, String> {
        let path = format!("/api/agent/conversations/{chat}/messages");
        let request = self
            .client
            .post(self.url(&path)?)
            .bearer_auth(&self.agent_token)
            .json(&json!({ "message": message }));
        timed(request, "agent-reply", "/message/messageId").await
    }
}

/// Sends `request`, noting the instant just before it goes, and reads the new message's
/// id from the answer's `data` at `id_at`.
async fn timed(
    request: reqwest::RequestBuilder,
    route: &str,
    id_at: &str,
) -> Result<Written, String> {
    let (client, request) = request.build_split();
    let request = request.map_err(|err| format!("{route}: cannot build the request: {err}"))?;
    let sent = Instant::now();
    let response = client.execute(request).await;
    let data = data(response, route).await?;
    let acknowledged = Instant::now();
    let message_id = text(&data, id_at, route)?;
    Ok(Written {
        message_id,
        sent,
        acknowledged,
    })
}

/// The answer's `data` if it is a 200 success envelope; otherwise an error naming the
/// route, the status and the server's error code.
async fn data(response: reqwest::Result<reqwest::Response>, route: &str) -> Result<Value, String> {
    let response = response.map_err(|err| format!("{route}: the server did not answer: {err}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|err| format!("{route}: answered {status} without a JSON body: {err}"))?;
    if status != reqwest::StatusCode::OK {
        let code = body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let hint = if status == reqwest::StatusCode::UNAUTHORIZED && route == "live-create" {
            " (is the server running with TRUST_FIRST_REQUEST=true?)"
        } else {
            ""
        };
        return Err(format!("{route}: answered {status} ({code}){hint}"));
    }
    Ok(body["data"].clone())
}

/// The string at `pointer` in `data`, or an error naming the field.
fn text(data: &Value, pointer: &str, route: &str) -> Result<String, String> {
    data.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("{route}: the answer's data has no string at {pointer}"))
}

/// The bearer token a customer's app sends: `hex(HMAC-SHA256(secret, email))`.
fn sign(secret: &str, email: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(email.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
