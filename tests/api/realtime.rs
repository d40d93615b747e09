//! The realtime socket over `supportzen serve`, on both stores: a customer and an agent
//! see each other's messages as they are written; a customer sees only their own
//! conversations' public events; tickets open one socket once; a client that was
//! disconnected catches up through the read route with no gap and no duplicate; and a
//! socket that stops answering is closed and forgotten.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use supportzen::realtime::Hub;
use supportzen_shared::Config;
use supportzen_shared::domain::Scope;
use supportzen_shared::endpoint::Endpoint;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";
const START: &str = "msg-00000000-0000-0000-0000-000000000000";

/// A server with Ann and Bob provisioned, Ann's open chat, and an agent's token.
async fn desk<S: TestStore>(hub: Hub) -> (TestApp<S>, String, String, String) {
    let app = TestApp::<S>::spawn_with_hub(Config::default(), hub).await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    let ann = token(ANN_SECRET, ANN);
    let chat = app
        .post(
            LIVE_CREATE,
            Some(&ann),
            &create_body(ANN, "My invoice is wrong"),
        )
        .await
        .ok()["chatId"]
        .as_str()
        .unwrap()
        .to_string();
    let agent = app.agent_token("agent-7", &Scope::ALL);
    (app, ann, agent, chat)
}

async fn customer_socket<S: TestStore>(app: &TestApp<S>, email: &str, token: &str) -> Socket {
    let ticket = app.customer_ticket(email, token).await;
    app.socket(ticket.ok()["ticket"].as_str().unwrap()).await
}

async fn agent_socket<S: TestStore>(app: &TestApp<S>, agent: &str) -> Socket {
    let ticket = app.agent_ticket(agent).await;
    app.socket(ticket.ok()["ticket"].as_str().unwrap()).await
}

async fn reply<S: TestStore>(app: &TestApp<S>, agent: &str, chat: &str, body: Value) -> String {
    let path = agent_path(Endpoint::AgentReply, chat);
    let replied = app.agent_post(&path, agent, &body).await;
    replied.ok()["message"]["messageId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn customer_says<S: TestStore>(
    app: &TestApp<S>,
    ann: &str,
    chat: &str,
    text: &str,
) -> String {
    let said = app
        .post(
            LIVE_CHAT,
            Some(ann),
            &json!({"chat_id": chat, "email": ANN, "message": text}),
        )
        .await;
    said.ok()["messageId"].as_str().unwrap().to_string()
}

async fn customer_and_agent_see_each_other_as_they_write<S: TestStore>() {
    let (app, ann, agent, chat) = desk::<S>(Hub::new()).await;
    let mut ann_socket = customer_socket(&app, ANN, &ann).await;
    let mut agent_socket = agent_socket(&app, &agent).await;

    let reply_id = reply(&app, &agent, &chat, json!({"message": "Looking into it"})).await;
    for socket in [&mut ann_socket, &mut agent_socket] {
        let event = socket.next_event().await;
        assert_eq!(event["type"], "message.created");
        assert!(event["id"].as_str().unwrap().starts_with("evt_"), "{event}");
        assert_eq!(event["conversationId"], chat.as_str());
        assert_eq!(event["data"]["messageId"], reply_id.as_str());
        assert_eq!(event["data"]["message"], "Looking into it");
        assert_eq!(event["data"]["author"], "agent");
        assert_eq!(event["data"]["agent"]["id"], "agent-7");
        assert!(event["occurredAt"].as_i64().unwrap() > 0);
    }

    let said = customer_says(&app, &ann, &chat, "Thanks, it's invoice 42").await;
    let event = agent_socket.next_event().await;
    assert_eq!(
        (event["type"].as_str(), event["data"]["messageId"].as_str()),
        (Some("message.created"), Some(said.as_str()))
    );
    assert_eq!(event["data"]["author"], "customer");
    assert_eq!(
        ann_socket.next_event().await["data"]["messageId"],
        said.as_str()
    );

    // A note and an assignment reach the agent only: Ann's next event is the status change.
    let note = reply(
        &app,
        &agent,
        &chat,
        json!({"message": "refund?", "internal": true}),
    )
    .await;
    // Assigned twice to the same agent: one change, one event, as from the stream.
    let assign = agent_path(Endpoint::AgentAssign, &chat);
    for _ in 0..2 {
        app.agent_post(&assign, &agent, &json!({"assignee": "agent-7"}))
            .await
            .ok();
    }
    let status = agent_path(Endpoint::AgentStatus, &chat);
    app.agent_post(&status, &agent, &json!({"status": "solved"}))
        .await
        .ok();
    let seen: Vec<Value> = [
        agent_socket.next_event().await,
        agent_socket.next_event().await,
        agent_socket.next_event().await,
    ]
    .into();
    assert_eq!(seen[0]["data"]["messageId"], note.as_str());
    assert_eq!(seen[0]["data"]["internal"], true);
    assert_eq!(seen[1]["type"], "conversation.assigned");
    assert_eq!(seen[1]["data"]["assignee"]["id"], "agent-7");
    assert_eq!(seen[2]["type"], "conversation.status_changed");
    let event = ann_socket.next_event().await;
    assert_eq!(event["type"], "conversation.status_changed", "{event}");
    assert_eq!(event["data"]["status"], "solved");
    // The cursor: the newest message Ann can see, not the note.
    assert_eq!(event["data"]["lastMessageId"], said.as_str());

    // Bob's socket gets nothing of Ann's: his own message is the first thing he sees.
    let bob = token(BOB_SECRET, BOB);
    let mut bob_socket = customer_socket(&app, BOB, &bob).await;
    reply(&app, &agent, &chat, json!({"message": "Refunded."})).await;
    let opened = app
        .post(LIVE_CREATE, Some(&bob), &create_body(BOB, "Hello?"))
        .await;
    let bobs_chat = opened.ok()["chatId"].as_str().unwrap();
    let event = bob_socket.next_event().await;
    assert_eq!(event["conversationId"], bobs_chat, "{event}");
    assert_eq!(event["data"]["message"], "Hello?");
    ann_socket.close().await;
    agent_socket.close().await;
}

async fn tickets_open_one_socket_once<S: TestStore>() {
    let (app, ann, agent, _chat) = desk::<S>(Hub::new()).await;
    let issued = app.customer_ticket(ANN, &ann).await;
    let data = issued.ok();
    let ticket = data["ticket"].as_str().unwrap();
    let lifetime = data["expiresAt"].as_i64().unwrap() - supportzen_shared::domain::now_millis();
    assert!((0..=60_000).contains(&lifetime), "{lifetime}");

    // A plain request for the socket's path is refused without using the ticket up.
    let plain = app
        .raw(reqwest::Method::GET, &format!("/ws?ticket={ticket}"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    let socket = app.socket(ticket).await;
    let (status, body) = app.refused_socket(Some(ticket)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    socket.close().await;

    for forged in [
        None,
        Some("wst_nope"),
        Some(&*format!("wst_{}", "0".repeat(64))),
    ] {
        let (status, body) = app.refused_socket(forged).await;
        assert_eq!(status, 401, "{forged:?}: {body}");
    }
    // Only with the customer's own signature, and only for a user the store knows.
    app.customer_ticket(ANN, &token("wrong", ANN))
        .await
        .err(401, "unauthorized");
    app.customer_ticket("carol@example.com", &token("carol", "carol@example.com"))
        .await
        .err(404, "not_found");
    // Agents need a token with agent.read; a customer's token is not one.
    let writer = app.agent_token("agent-8", &[Scope::Write]);
    app.agent_ticket(&writer).await.err(403, "forbidden");
    app.agent_ticket(&ann).await.err(401, "unauthorized");
    agent_socket(&app, &agent).await.close().await;
}

/// With trust-on-first-use, an email nobody has used yet gets no ticket: whoever asked
/// first would otherwise hear that user's conversations once they start.
async fn an_unknown_user_gets_no_ticket_even_trusted_on_first_use<S: TestStore>() {
    let config = Config {
        trust_first_request: true,
        ..Config::default()
    };
    let app = TestApp::<S>::spawn_with_hub(config, Hub::new()).await;
    let carol = token("carol", "carol@example.com");
    app.customer_ticket("carol@example.com", &carol)
        .await
        .err(404, "not_found");
}

/// The documented client loop: connect, then read `after=<last seen id>`, then apply
/// socket events, skipping messages already read. Messages written while it was away,
/// and while it reconnects, all arrive, once each, in order.
async fn a_reconnecting_client_catches_up_without_gap_or_duplicate<S: TestStore>() {
    let (app, ann, agent, chat) = desk::<S>(Hub::new()).await;
    let mut client = Client::default();
    let mut socket = client.connect(&app, &ann, &chat).await;
    reply(&app, &agent, &chat, json!({"message": "one"})).await;
    client.apply(socket.next_event().await);
    socket.close().await;

    // Away: three replies.
    for text in ["two", "three", "four"] {
        reply(&app, &agent, &chat, json!({"message": text})).await;
    }
    // Reconnecting while the agent keeps writing.
    let writer = {
        let (base, agent, chat) = (app.base_url.clone(), agent.clone(), chat.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 5..=12 {
                let path = agent_path(Endpoint::AgentReply, &chat);
                let sent = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(&agent)
                    .json(&json!({"message": format!("reply {n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(sent.status(), 200);
            }
        })
    };
    let mut socket = client.connect(&app, &ann, &chat).await;
    writer.await.unwrap();
    let last = reply(&app, &agent, &chat, json!({"message": "last"})).await;
    while client.last_seen.as_deref() != Some(last.as_str()) {
        client.apply(socket.next_event().await);
    }

    let stored: Vec<String> = app
        .store
        .messages(&chat.parse_conversation())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id.as_str().to_string())
        .collect();
    assert_eq!(client.seen, stored, "every message once, in order");
    socket.close().await;
}

/// What a client app keeps: the messages it has shown, in order, with their times.
#[derive(Default)]
struct Client {
    seen: Vec<String>,
    shown: HashSet<String>,
    /// Each shown message's id and `createdAt`, in the order shown.
    times: Vec<(String, i64)>,
    last_seen: Option<String>,
}

/// How far back a reconnecting client reads again: more than a write can take between
/// its message's id and its commit (the README's step 2).
const REREAD_MS: i64 = 30_000;

impl Client {
    async fn connect<S: TestStore>(&mut self, app: &TestApp<S>, ann: &str, chat: &str) -> Socket {
        let socket = customer_socket(app, ANN, ann).await;
        let mut after = self.cursor();
        loop {
            let path = format!("{}?after={after}&limit=3", messages_path(chat));
            let page = app.get(&path, Some(ann), ANN).await.ok().clone();
            for message in page["messages"].as_array().unwrap() {
                self.show(message);
            }
            match page["nextCursor"].as_str() {
                Some(next) if page["hasMore"] == true => after = next.to_string(),
                _ => break,
            }
        }
        socket
    }

    /// The newest message shown at least [`REREAD_MS`] before the newest one shown, or
    /// the start.
    fn cursor(&self) -> String {
        let newest = self.times.iter().map(|(_, at)| *at).max().unwrap_or(0);
        self.times
            .iter()
            .filter(|(_, at)| *at <= newest - REREAD_MS)
            .max_by_key(|(id, _)| id.clone())
            .map_or(START.to_string(), |(id, _)| id.clone())
    }

    fn apply(&mut self, event: Value) {
        if event["type"] == "message.created" {
            self.show(&event["data"]);
        }
    }

    /// Shows a message (as the read route or an event's `data` has it) unless shown.
    fn show(&mut self, message: &Value) {
        let id = message["messageId"].as_str().unwrap();
        if self.shown.insert(id.to_string()) {
            self.seen.push(id.to_string());
            self.times
                .push((id.to_string(), message["createdAt"].as_i64().unwrap()));
            self.last_seen = Some(id.to_string());
        }
    }
}

/// A socket whose client stops answering pings is closed by the server, and one whose
/// client vanishes is forgotten: neither is counted as open any more.
async fn stale_and_vanished_sockets_are_removed<S: TestStore>() {
    // Pings every half second: a socket that never answers is closed within a second or
    // so, long after both are open even on a loaded machine (at 50 ms the stale one was
    // sometimes closed before the second had opened, and the count never reached 2).
    let (app, ann, agent, _chat) =
        desk::<S>(Hub::with_ping_interval(Duration::from_millis(500))).await;
    let mut open = app.hub.open_sockets();

    // Never read from: its client never answers the server's pings.
    let stale = customer_socket(&app, ANN, &ann).await;
    let vanishing = agent_socket(&app, &agent).await;
    tokio::time::timeout(EVENT_WAIT, open.wait_for(|&n| n == 2))
        .await
        .expect("both sockets counted")
        .unwrap();
    drop(vanishing);
    tokio::time::timeout(EVENT_WAIT, open.wait_for(|&n| n == 0))
        .await
        .expect("the stale socket and the vanished one are removed")
        .unwrap();
    drop(stale);
}

trait ParseConversation {
    fn parse_conversation(&self) -> supportzen_shared::domain::ConversationId;
}

impl ParseConversation for String {
    fn parse_conversation(&self) -> supportzen_shared::domain::ConversationId {
        supportzen_shared::domain::ConversationId::Chat(
            supportzen_shared::domain::ChatId::parse(self).unwrap(),
        )
    }
}

/// A typing frame for `conversation`.
fn typing(conversation: &str) -> String {
    json!({"action": "typing", "conversationId": conversation}).to_string()
}

/// Asserts `event` is a typing signal in `conversation` from `from`.
fn assert_typing(event: &Value, conversation: &str, from: &str) {
    assert_eq!(
        (
            &event["type"],
            &event["conversationId"],
            &event["data"]["from"]
        ),
        (&json!("typing"), &json!(conversation), &json!(from)),
        "{event}"
    );
    assert!(event["occurredAt"].as_i64().unwrap() > 0, "{event}");
    assert!(event.get("id").is_none(), "typing is no event: {event}");
}

async fn typing_reaches_only_the_other_side_once_per_two_seconds<S: TestStore>() {
    let (app, ann, agent, chat) = desk::<S>(Hub::new()).await;
    let other_chat = app
        .post(
            LIVE_CREATE,
            Some(&ann),
            &create_body(ANN, "Another question"),
        )
        .await
        .ok()["chatId"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = token(BOB_SECRET, BOB);
    let bobs_chat = app
        .post(LIVE_CREATE, Some(&bob), &create_body(BOB, "Bob's"))
        .await
        .ok()["chatId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ann_socket = customer_socket(&app, ANN, &ann).await;
    let mut bob_socket = customer_socket(&app, BOB, &bob).await;
    let mut sam = agent_socket(&app, &agent).await;
    let other_agent = app.agent_token("agent-8", &Scope::ALL);
    let mut kim = agent_socket(&app, &other_agent).await;

    // Ann types twice at once in her chat (the second is throttled), once in Bob's chat
    // (not hers: dropped), then in her other chat: a socket handles its frames in order,
    // so the agents' next two frames show what came of the first three.
    for frame in [
        typing(&chat),
        typing(&chat),
        typing(&bobs_chat),
        typing(&other_chat),
    ] {
        ann_socket.send_text(&frame).await;
    }
    for socket in [&mut sam, &mut kim] {
        let first = socket.next_event().await;
        assert_typing(&first, &chat, "customer");
        assert_eq!(first["data"]["agent"], Value::Null);
        assert_typing(&socket.next_event().await, &other_chat, "customer");
    }

    // Sam types twice in Ann's chat, then in her other one: Ann gets one of each, never
    // her own; Kim, another agent, gets none of Sam's.
    for frame in [typing(&chat), typing(&chat), typing(&other_chat)] {
        sam.send_text(&frame).await;
    }
    let first = ann_socket.next_event().await;
    assert_typing(&first, &chat, "agent");
    assert_eq!(
        first["data"]["agent"],
        json!({"id": "agent-7", "name": "Agent agent-7"}),
        "the agent as their token names them"
    );
    assert_typing(&ann_socket.next_event().await, &other_chat, "agent");

    // Everything typed so far has gone out: the next event anyone gets is this reply to
    // Bob (Bob never saw Ann's or Sam's typing; Kim not Sam's; Sam not his own).
    let to_bob = reply(&app, &agent, &bobs_chat, json!({"message": "Hi Bob"})).await;
    for socket in [&mut bob_socket, &mut kim, &mut sam] {
        let event = socket.next_event().await;
        assert_eq!(
            (&event["type"], &event["data"]["messageId"]),
            (&json!("message.created"), &json!(to_bob)),
            "{event}"
        );
    }
}

async fn a_read_mark_reaches_the_other_side<S: TestStore>() {
    let (app, ann, agent, chat) = desk::<S>(Hub::new()).await;
    let answer = reply(&app, &agent, &chat, json!({"message": "Fixed"})).await;
    let mut ann_socket = customer_socket(&app, ANN, &ann).await;
    let bob = token(BOB_SECRET, BOB);
    app.post(LIVE_CREATE, Some(&bob), &create_body(BOB, "Bob's"))
        .await
        .ok();
    let mut bob_socket = customer_socket(&app, BOB, &bob).await;
    let mut sam = agent_socket(&app, &agent).await;

    // Ann reads the reply: the agents see it (and so does Ann's own socket).
    let marked = app
        .raw(
            reqwest::Method::POST,
            &agent_path(Endpoint::ConversationRead, &chat),
        )
        .header("x-supportzen-email", ANN)
        .bearer_auth(&ann)
        .json(&json!({"up_to": answer}))
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), 200);
    for socket in [&mut sam, &mut ann_socket] {
        let event = socket.next_event().await;
        assert_eq!(event["type"], "conversation.read", "{event}");
        assert_eq!(event["conversationId"], chat.as_str());
        assert_eq!(
            event["data"],
            json!({"kind": "chat", "reader": "customer", "upTo": answer, "agent": null})
        );
    }
    // Marking it again moves nothing and says nothing.
    let first =
        app.get(&messages_path(&chat), Some(&ann), ANN).await.ok()["messages"][0]["messageId"]
            .clone();
    let path = agent_path(Endpoint::AgentRead, &chat);
    app.agent_post(&path, &agent, &json!({"up_to": first}))
        .await
        .ok();
    let event = ann_socket.next_event().await;
    assert_eq!(
        event["data"],
        json!({"kind": "chat", "reader": "agents", "upTo": first,
               "agent": {"id": "agent-7", "name": "Agent agent-7"}})
    );
    assert_eq!(sam.next_event().await["type"], "conversation.read");
    app.agent_post(&path, &agent, &json!({"up_to": first}))
        .await
        .ok();
    // Bob hears nothing of Ann's chat: his next event is his own.
    let said = app
        .post(LIVE_CREATE, Some(&bob), &create_body(BOB, "Bob again"))
        .await
        .ok()["chatId"]
        .clone();
    let event = bob_socket.next_event().await;
    assert_eq!(
        (&event["type"], &event["conversationId"]),
        (&json!("message.created"), &said)
    );
    // Nor did the repeated mark reach Ann: the next thing she sees is a new reply.
    let again = reply(&app, &agent, &chat, json!({"message": "Anything else?"})).await;
    assert_eq!(
        ann_socket.next_event().await["data"]["messageId"],
        json!(again)
    );
}

for_each_store!(
    typing_reaches_only_the_other_side_once_per_two_seconds,
    a_read_mark_reaches_the_other_side,
    customer_and_agent_see_each_other_as_they_write,
    tickets_open_one_socket_once,
    an_unknown_user_gets_no_ticket_even_trusted_on_first_use,
    a_reconnecting_client_catches_up_without_gap_or_duplicate,
    stale_and_vanished_sockets_are_removed,
);
