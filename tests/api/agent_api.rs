//! The agents' half over HTTP, on both stores: the README's walkthrough (a customer opens
//! a chat, an agent finds it in the inbox, replies, the customer reads the reply with a
//! cursor; the agent solves it and a customer message reopens it), notes that customers
//! never see, the status model with follow-ups, and tokens refused as API Gateway's JWT
//! authorizer refuses them, both ways between customers and agents.

use serde_json::{Value, json};
use supportzen::agent_tokens::{Claims, LOCAL_AUDIENCE, LOCAL_ISSUER};
use supportzen_shared::domain::Scope;
use supportzen_shared::endpoint::Endpoint;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";
const START: &str = "msg-00000000-0000-0000-0000-000000000000";

async fn desk<S: TestStore>() -> (TestApp<S>, String, String) {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    let agent = app.agent_token("agent-7", &Scope::ALL);
    (app, token(ANN_SECRET, ANN), agent)
}

fn ids(data: &Value) -> Vec<String> {
    data["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap().to_string())
        .collect()
}

fn texts_of(data: &Value) -> Vec<String> {
    data["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_string())
        .collect()
}

async fn customer_says<S: TestStore>(app: &TestApp<S>, ann: &str, chat: &str, text: &str) -> Reply {
    app.post(
        LIVE_CHAT,
        Some(ann),
        &json!({"chat_id": chat, "email": ANN, "message": text}),
    )
    .await
}

async fn set_status<S: TestStore>(app: &TestApp<S>, agent: &str, id: &str, status: &str) -> Reply {
    app.agent_post(
        &agent_path(Endpoint::AgentStatus, id),
        agent,
        &json!({ "status": status }),
    )
    .await
}

async fn the_walkthrough_works_end_to_end<S: TestStore>() {
    let (app, ann, agent) = desk::<S>().await;
    let opened = app
        .post(
            LIVE_CREATE,
            Some(&ann),
            &create_body(ANN, "My invoice is wrong"),
        )
        .await;
    let chat = opened.ok()["chatId"].as_str().unwrap().to_string();

    // The agent finds it in the open inbox, unassigned, with the customer's email.
    let inbox = app.agent_get(&format!("{INBOX}?kind=chat"), &agent).await;
    let data = inbox.ok();
    assert_eq!(ids(data), [chat.as_str()]);
    let listed = &data["conversations"][0];
    assert_eq!(
        (&listed["status"], &listed["customer"], &listed["assignee"]),
        (&json!("open"), &json!(ANN), &Value::Null)
    );
    assert_eq!(listed["lastMessage"]["message"], "My invoice is wrong");

    // Takes it: it leaves the unassigned inbox for theirs.
    let assigned = app
        .agent_post(
            &agent_path(Endpoint::AgentAssign, &chat),
            &agent,
            &json!({"assignee": "agent-7"}),
        )
        .await;
    assert_eq!(assigned.ok()["assignee"], "agent-7");
    let mine = app
        .agent_get(&format!("{INBOX}?kind=chat&assignee=me"), &agent)
        .await;
    assert_eq!(ids(mine.ok()), [chat.as_str()]);
    let nobodys = app
        .agent_get(&format!("{INBOX}?kind=chat&assignee=none"), &agent)
        .await;
    assert!(ids(nobodys.ok()).is_empty());

    // Reads it, replies, and leaves a note.
    let page = app
        .agent_get(&agent_path(Endpoint::AgentMessages, &chat), &agent)
        .await;
    let first_id = page.ok()["messages"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = app
        .agent_post(
            &agent_path(Endpoint::AgentReply, &chat),
            &agent,
            &json!({"message": "Sorry! I have corrected it.", "client_message_id": "a-1"}),
        )
        .await;
    let replied = reply.ok()["message"].clone();
    assert_eq!(
        (&replied["author"], &replied["agent"]),
        (
            &json!("agent"),
            &json!({"id": "agent-7", "name": "Agent agent-7"})
        )
    );
    app.agent_post(
        &agent_path(Endpoint::AgentReply, &chat),
        &agent,
        &json!({"message": "Refund issued in the billing tool", "internal": true}),
    )
    .await
    .ok();

    // The customer reads on from the message they had: the reply, never the note.
    let read = app
        .get(
            &format!("{}?after={first_id}", messages_path(&chat)),
            Some(&ann),
            ANN,
        )
        .await;
    let data = read.ok();
    assert_eq!(texts_of(data), ["Sorry! I have corrected it."]);
    assert_eq!(data["messages"][0]["agent"]["name"], "Agent agent-7");
    assert_eq!(data["messages"][0]["messageId"], replied["messageId"]);
    let listed = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    assert_eq!(
        listed.ok()["conversations"][0]["lastMessage"]["message"],
        "Sorry! I have corrected it.",
        "a note is not the customer's latest message"
    );
    // The agent's page holds both, in order, the note marked.
    let page = app
        .agent_get(
            &format!(
                "{}?after={START}",
                agent_path(Endpoint::AgentMessages, &chat)
            ),
            &agent,
        )
        .await;
    let data = page.ok();
    assert_eq!(
        texts_of(data),
        [
            "My invoice is wrong",
            "Sorry! I have corrected it.",
            "Refund issued in the billing tool"
        ]
    );
    assert_eq!(data["messages"][2]["internal"], true);
    assert!(data["messages"][1].get("internal").is_none());

    // Solved; the customer's next message reopens it, in the same write.
    assert_eq!(
        set_status(&app, &agent, &chat, "solved").await.ok()["status"],
        "solved"
    );
    let solved = app
        .agent_get(&format!("{INBOX}?kind=chat&status=solved"), &agent)
        .await;
    assert_eq!(ids(solved.ok()), [chat.as_str()]);
    let listed = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    assert_eq!(listed.ok()["conversations"][0]["status"], "solved");
    customer_says(&app, &ann, &chat, "Actually, one more thing")
        .await
        .ok();
    let got = app
        .agent_get(&agent_path(Endpoint::AgentConversation, &chat), &agent)
        .await;
    assert_eq!(got.ok()["status"], "open");
    assert_eq!(
        got.ok()["assignee"],
        "agent-7",
        "reopening keeps the assignee"
    );
    let open = app
        .agent_get(&format!("{INBOX}?kind=chat&assignee=me"), &agent)
        .await;
    assert_eq!(ids(open.ok()), [chat.as_str()]);
    let solved = app
        .agent_get(&format!("{INBOX}?kind=chat&status=solved"), &agent)
        .await;
    assert!(ids(solved.ok()).is_empty());
}

async fn pending_reopens_closed_refuses_and_a_follow_up_links_back<S: TestStore>() {
    let (app, ann, agent) = desk::<S>().await;
    let ticket = app
        .post(TICKET_CREATE, Some(&ann), &create_body(ANN, "Export fails"))
        .await
        .ok()["ticketId"]
        .as_str()
        .unwrap()
        .to_string();
    let snooze = supportzen_shared::domain::now_millis() + 3_600_000;
    let pending = app
        .agent_post(
            &agent_path(Endpoint::AgentStatus, &ticket),
            &agent,
            &json!({"status": "pending", "snooze_until": snooze}),
        )
        .await;
    assert_eq!(
        (&pending.ok()["status"], &pending.ok()["snoozedUntil"]),
        (&json!("pending"), &json!(snooze))
    );
    let append = json!({"ticket_id": ticket, "email": ANN, "message": "Any news?"});
    app.post(TICKET_APPEND, Some(&ann), &append).await.ok();
    let got = app
        .agent_get(&agent_path(Endpoint::AgentConversation, &ticket), &agent)
        .await;
    assert_eq!(
        (&got.ok()["status"], &got.ok()["snoozedUntil"]),
        (&json!("open"), &Value::Null)
    );

    // Closed is final: no customer message, reply, status change or assignment.
    assert_eq!(
        set_status(&app, &agent, &ticket, "closed").await.ok()["status"],
        "closed"
    );
    let refused = app.post(TICKET_APPEND, Some(&ann), &append).await;
    assert_eq!(
        refused.err(409, "conversation_closed")["follow_up_allowed"],
        true
    );
    let reply = json!({"message": "Reopening"});
    app.agent_post(&agent_path(Endpoint::AgentReply, &ticket), &agent, &reply)
        .await
        .err(409, "conversation_closed");
    set_status(&app, &agent, &ticket, "open")
        .await
        .err(409, "conversation_closed");
    app.agent_post(
        &agent_path(Endpoint::AgentAssign, &ticket),
        &agent,
        &json!({"assignee": "agent-7"}),
    )
    .await
    .err(409, "conversation_closed");
    // Closing again changes nothing and is no error; a note may still be left.
    set_status(&app, &agent, &ticket, "closed").await.ok();
    let note = json!({"message": "Customer was told to open a follow-up", "internal": true});
    app.agent_post(&agent_path(Endpoint::AgentReply, &ticket), &agent, &note)
        .await
        .ok();
    let read = app.get(&messages_path(&ticket), Some(&ann), ANN).await;
    assert_eq!(read.ok()["status"], "closed");
    assert_eq!(texts_of(read.ok()), ["Export fails", "Any news?"]);

    // The follow-up names the closed ticket; someone else's is refused, writing nothing.
    let mut follow_up = create_body(ANN, "Export fails again");
    follow_up["follow_up_of"] = json!(ticket);
    let created = app.post(TICKET_CREATE, Some(&ann), &follow_up).await;
    let new_ticket = created.ok()["ticketId"].as_str().unwrap().to_string();
    let listed = app
        .get(&format!("{CONVERSATIONS}?kind=ticket"), Some(&ann), ANN)
        .await;
    let first = &listed.ok()["conversations"][0];
    assert_eq!(
        (
            &first["conversationId"],
            &first["followUpOf"],
            &first["status"]
        ),
        (&json!(new_ticket), &json!(ticket), &json!("open"))
    );
    let bob = token(BOB_SECRET, BOB);
    let mut stolen = create_body(BOB, "Let me in");
    stolen["follow_up_of"] = json!(ticket);
    app.post(LIVE_CREATE, Some(&bob), &stolen)
        .await
        .bad_field("follow_up_of");
    stolen["follow_up_of"] = json!("TKT-999");
    app.post(LIVE_CREATE, Some(&bob), &stolen)
        .await
        .bad_field("follow_up_of");
    assert_eq!(conversation_count(&app, BOB).await, 0);
}

async fn tokens_are_refused_as_api_gateway_refuses_them<S: TestStore>() {
    let (app, ann, agent) = desk::<S>().await;
    let chat = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, "hi"))
        .await
        .ok()["chatId"]
        .as_str()
        .unwrap()
        .to_string();
    let inbox = format!("{INBOX}?kind=chat");
    let now = supportzen_shared::domain::now_seconds() as u64;
    let claims = Claims {
        iss: LOCAL_ISSUER.into(),
        aud: LOCAL_AUDIENCE.into(),
        sub: "agent-7".into(),
        name: None,
        email: None,
        scope: "agent.read agent.write".into(),
        iat: now,
        exp: now + 600,
    };
    app.agent_get(&inbox, &app.signed(&claims)).await.ok();
    let with = |change: fn(&mut Claims)| {
        let mut changed = claims.clone();
        change(&mut changed);
        app.signed(&changed)
    };
    let other_key = tempfile::tempdir().unwrap();
    let forger =
        supportzen::agent_tokens::AgentKey::load_or_create(&other_key.path().join("forger.pem"))
            .unwrap();
    let refused = [
        ("forged", forger.sign(&claims).unwrap()),
        ("expired", with(|c| c.exp = c.iat - 1)),
        ("wrong audience", with(|c| c.aud = "another-api".into())),
        (
            "wrong issuer",
            with(|c| c.iss = "https://evil.example".into()),
        ),
        ("a customer's token", ann.clone()),
        ("garbage", "not.a.jwt".into()),
    ];
    for (what, bearer) in &refused {
        let reply = app.agent_get(&inbox, bearer).await;
        assert_eq!(
            reply.err(401, "unauthorized")["message"],
            "authentication failed",
            "{what}"
        );
    }
    let no_token = app.raw(reqwest::Method::GET, &inbox).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["error"]["message"], "missing Authorization header");
    let basic = app
        .raw(reqwest::Method::GET, &inbox)
        .header("authorization", "Basic YW5uOnMzY3JldA==")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let body: Value = basic.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "malformed Authorization header: expected Bearer <token>"
    );

    // A valid token without the route's scope is a 403, and writes nothing.
    let reader = app.agent_token("agent-8", &[Scope::Read]);
    app.agent_get(&inbox, &reader).await.ok();
    let reply = app
        .agent_post(
            &agent_path(Endpoint::AgentReply, &chat),
            &reader,
            &json!({"message": "hello"}),
        )
        .await;
    assert_eq!(
        reply.err(403, "forbidden")["message"],
        "this token lacks the scope agent.write"
    );
    let writer = app.agent_token("agent-9", &[Scope::Write]);
    app.agent_get(&inbox, &writer).await.err(403, "forbidden");
    assert_eq!(texts(&app.store, &chat_id(&chat)).await, ["hi"]);

    // An agent's token is no customer's: 401 on the customer routes.
    let body = json!({"chat_id": chat, "email": ANN, "message": "as an agent"});
    app.post(LIVE_CHAT, Some(&agent), &body)
        .await
        .err(401, "unauthorized");
    app.get(&format!("{CONVERSATIONS}?kind=chat"), Some(&agent), ANN)
        .await
        .err(401, "unauthorized");
    assert_eq!(texts(&app.store, &chat_id(&chat)).await, ["hi"]);
}

fn chat_id(key: &str) -> supportzen_shared::domain::ConversationId {
    chat(&json!({ "chatId": key }))
}

async fn bad_requests_name_the_field_and_unknown_ids_are_404<S: TestStore>() {
    let (app, ann, agent) = desk::<S>().await;
    let chat = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, "hi"))
        .await
        .ok()["chatId"]
        .as_str()
        .unwrap()
        .to_string();
    for (query, field) in [
        ("", "kind"),
        ("?kind=email", "kind"),
        ("?kind=chat&status=snoozed", "status"),
        ("?kind=chat&assignee=bob", "assignee"),
        ("?kind=chat&limit=0", "limit"),
        ("?kind=chat&cursor=zz", "cursor"),
    ] {
        app.agent_get(&format!("{INBOX}{query}"), &agent)
            .await
            .bad_field(field);
    }
    let status = agent_path(Endpoint::AgentStatus, &chat);
    for (body, field) in [
        (json!({}), "status"),
        (json!({"status": "done"}), "status"),
        (
            json!({"status": "open", "snooze_until": 4_102_444_800_000i64}),
            "snooze_until",
        ),
        (
            json!({"status": "pending", "snooze_until": 1000}),
            "snooze_until",
        ),
        // A time in microseconds: centuries ahead, which the due-work index would take
        // for a time past.
        (
            json!({"status": "pending", "snooze_until": 1_760_000_000_000_000i64}),
            "snooze_until",
        ),
        (
            json!({"status": "pending", "snooze_until": "tomorrow"}),
            "snooze_until",
        ),
    ] {
        app.agent_post(&status, &agent, &body)
            .await
            .bad_field(field);
    }
    let assign = agent_path(Endpoint::AgentAssign, &chat);
    app.agent_post(&assign, &agent, &json!({}))
        .await
        .bad_field("assignee");
    app.agent_post(&assign, &agent, &json!({"assignee": ""}))
        .await
        .bad_field("assignee");
    let reply = agent_path(Endpoint::AgentReply, &chat);
    app.agent_post(&reply, &agent, &json!({"message": " "}))
        .await
        .bad_field("message");
    app.agent_post(&reply, &agent, &json!({"message": "x", "internal": "yes"}))
        .await
        .bad_field("internal");
    // Unassigning an unassigned conversation is fine.
    app.agent_post(&assign, &agent, &json!({"assignee": null}))
        .await
        .ok();

    for unknown in [
        "TKT-404",
        "chat-00000000-0000-7000-8000-000000000000",
        "no-such-id",
    ] {
        for endpoint in [Endpoint::AgentConversation, Endpoint::AgentMessages] {
            app.agent_get(&agent_path(endpoint, unknown), &agent)
                .await
                .err(404, "not_found");
        }
        for (endpoint, body) in [
            (Endpoint::AgentReply, json!({"message": "hello"})),
            (Endpoint::AgentStatus, json!({"status": "solved"})),
            (Endpoint::AgentAssign, json!({"assignee": "agent-7"})),
        ] {
            app.agent_post(&agent_path(endpoint, unknown), &agent, &body)
                .await
                .err(404, "not_found");
        }
    }
    assert_eq!(texts(&app.store, &chat_id(&chat)).await, ["hi"]);
}

for_each_store!(
    the_walkthrough_works_end_to_end,
    pending_reopens_closed_refuses_and_a_follow_up_links_back,
    tokens_are_refused_as_api_gateway_refuses_them,
    bad_requests_name_the_field_and_unknown_ids_are_404,
);
