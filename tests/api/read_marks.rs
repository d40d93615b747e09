//! Read marks over HTTP, on both stores: the customer's and the agents' read routes
//! (flat and wrapped bodies, the email in the header or the body), marks that only move
//! forward, a foreign or hidden message refused as a 400 naming `up_to`, someone else's
//! conversation a 404, and the counts and marks on the customer's list and pages, the
//! inbox and the agents' conversation.

use serde_json::{Value, json};
use supportzen_shared::domain::Scope;
use supportzen_shared::endpoint::Endpoint;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";

/// The customer's read route of one conversation.
fn read_path(id: &str) -> String {
    agent_path(Endpoint::ConversationRead, id)
}

/// The customer's mark, signed by `token` for `email` in the `X-SupportZen-Email` header.
async fn mark<S: TestStore>(
    app: &TestApp<S>,
    token: &str,
    email: &str,
    id: &str,
    body: &Value,
) -> Reply {
    let request = app
        .raw(reqwest::Method::POST, &read_path(id))
        .header("x-supportzen-email", email)
        .bearer_auth(token)
        .json(body);
    Reply::read_response(request.send().await.expect("server answers")).await
}

async fn reply<S: TestStore>(
    app: &TestApp<S>,
    agent: &str,
    id: &str,
    text: &str,
    internal: bool,
) -> String {
    let sent = app
        .agent_post(
            &agent_path(Endpoint::AgentReply, id),
            agent,
            &json!({"message": text, "internal": internal}),
        )
        .await;
    sent.ok()["message"]["messageId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn read_routes_keep_marks_and_counts<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    let (ann, bob) = (token(ANN_SECRET, ANN), token(BOB_SECRET, BOB));
    let agent = app.agent_token("agent-7", &Scope::ALL);

    let opened = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, "Hello?"))
        .await;
    let chat = opened.ok()["chatId"].as_str().unwrap().to_string();
    let r1 = reply(&app, &agent, &chat, "First answer", false).await;
    let note = reply(&app, &agent, &chat, "A note", true).await;
    let r2 = reply(&app, &agent, &chat, "Second answer", false).await;
    let sent = app
        .post(
            LIVE_CHAT,
            Some(&ann),
            &json!({"chat_id": chat, "email": ANN, "message": "Thanks"}),
        )
        .await;
    let m2 = sent.ok()["messageId"].as_str().unwrap().to_string();

    // Before any mark: both replies unread for Ann, both of her messages for the agents.
    let list = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    let item = &list.ok()["conversations"][0];
    assert_eq!(
        (&item["unread"], &item["agentsReadUpTo"]),
        (&json!(2), &Value::Null)
    );
    let page = app.get(&messages_path(&chat), Some(&ann), ANN).await;
    assert_eq!(
        (&page.ok()["unread"], &page.ok()["agentsReadUpTo"]),
        (&json!(2), &Value::Null)
    );
    let inbox = app.agent_get(&format!("{INBOX}?kind=chat"), &agent).await;
    let item = &inbox.ok()["conversations"][0];
    assert_eq!(
        (&item["unread"], &item["customerReadUpTo"]),
        (&json!(2), &Value::Null)
    );

    // Ann reads the first reply (flat body), then the second (wrapped); the first again
    // is a no-op that answers the mark she has.
    let marked = mark(&app, &ann, ANN, &chat, &json!({"up_to": r1})).await;
    assert_eq!(
        marked.ok(),
        &json!({"conversationId": chat, "readUpTo": r1, "unread": 1})
    );
    let marked = mark(&app, &ann, ANN, &chat, &json!({"data": {"up_to": r2}})).await;
    assert_eq!(
        marked.ok(),
        &json!({"conversationId": chat, "readUpTo": r2, "unread": 0})
    );
    let again = mark(&app, &ann, ANN, &chat, &json!({"up_to": r1})).await;
    assert_eq!(
        again.ok(),
        &json!({"conversationId": chat, "readUpTo": r2, "unread": 0})
    );
    // The email may come in the body, as the other customer writes carry it.
    let in_body = app
        .post(
            &read_path(&chat),
            Some(&ann),
            &json!({"email": ANN, "up_to": r2}),
        )
        .await;
    assert_eq!(in_body.ok()["readUpTo"], json!(r2));
    let list = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    assert_eq!(list.ok()["conversations"][0]["unread"], 0);

    // Refused, each naming up_to: a note (hidden from Ann), a message of Bob's chat, an id
    // never issued, a malformed one, none at all.
    let bobs = app
        .post(LIVE_CREATE, Some(&bob), &create_body(BOB, "Bob here"))
        .await;
    let bobs_chat = bobs.ok()["chatId"].as_str().unwrap().to_string();
    let bobs_page = app.get(&messages_path(&bobs_chat), Some(&bob), BOB).await;
    let bobs_message = bobs_page.ok()["messages"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    for body in [
        json!({"up_to": note}),
        json!({"up_to": bobs_message}),
        json!({"up_to": "msg-019aa6f0-0000-7000-8000-000000000001"}),
        json!({"up_to": "TKT-001"}),
        json!({}),
    ] {
        mark(&app, &ann, ANN, &chat, &body).await.bad_field("up_to");
    }
    // Bob cannot mark Ann's chat; an unknown chat is not found either.
    mark(&app, &bob, BOB, &chat, &json!({"up_to": r2}))
        .await
        .err(404, "not_found");
    mark(
        &app,
        &ann,
        ANN,
        "chat-019aa6f0-0000-7000-8000-000000000001",
        &json!({"up_to": r2}),
    )
    .await
    .err(404, "not_found");
    // A forged token is refused before anything is read.
    mark(
        &app,
        &token("guess", ANN),
        ANN,
        &chat,
        &json!({"up_to": r2}),
    )
    .await
    .err(401, "unauthorized");

    // The agents read up to their note, then to Ann's newest message.
    let agents_read = agent_path(Endpoint::AgentRead, &chat);
    let marked = app
        .agent_post(&agents_read, &agent, &json!({"up_to": note}))
        .await;
    assert_eq!(
        marked.ok(),
        &json!({"conversationId": chat, "readUpTo": note, "unread": 1})
    );
    let marked = app
        .agent_post(&agents_read, &agent, &json!({"data": {"up_to": m2}}))
        .await;
    assert_eq!(
        marked.ok(),
        &json!({"conversationId": chat, "readUpTo": m2, "unread": 0})
    );
    let again = app
        .agent_post(&agents_read, &agent, &json!({"up_to": r1}))
        .await;
    assert_eq!(again.ok()["readUpTo"], json!(m2));
    app.agent_post(&agents_read, &agent, &json!({"up_to": bobs_message}))
        .await
        .bad_field("up_to");
    let missing = agent_path(
        Endpoint::AgentRead,
        "chat-019aa6f0-0000-7000-8000-000000000001",
    );
    app.agent_post(&missing, &agent, &json!({"up_to": m2}))
        .await
        .err(404, "not_found");
    // Marking is a write: agent.read alone is not enough; a customer's token is no agent's.
    let reader = app.agent_token("agent-8", &[Scope::Read]);
    app.agent_post(&agents_read, &reader, &json!({"up_to": m2}))
        .await
        .err(403, "forbidden");
    app.agent_post(&agents_read, &ann, &json!({"up_to": m2}))
        .await
        .err(401, "unauthorized");

    // Each side sees the other's "Seen": Ann the agents' mark, the agents Ann's.
    let list = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    let item = &list.ok()["conversations"][0];
    assert_eq!(
        (&item["unread"], &item["agentsReadUpTo"]),
        (&json!(0), &json!(m2))
    );
    let page = app.get(&messages_path(&chat), Some(&ann), ANN).await;
    assert_eq!(page.ok()["agentsReadUpTo"], json!(m2));
    let conversation = app
        .agent_get(&agent_path(Endpoint::AgentConversation, &chat), &agent)
        .await;
    let data = conversation.ok();
    assert_eq!(
        (&data["unread"], &data["customerReadUpTo"]),
        (&json!(0), &json!(r2))
    );
    let page = app
        .agent_get(&agent_path(Endpoint::AgentMessages, &chat), &agent)
        .await;
    assert_eq!(
        (&page.ok()["unread"], &page.ok()["customerReadUpTo"]),
        (&json!(0), &json!(r2))
    );

    // New messages count again, each side's own.
    reply(&app, &agent, &chat, "Third answer", false).await;
    reply(&app, &agent, &chat, "Another note", true).await;
    app.post(
        LIVE_CHAT,
        Some(&ann),
        &json!({"chat_id": chat, "email": ANN, "message": "One more"}),
    )
    .await
    .ok();
    let list = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    assert_eq!(
        list.ok()["conversations"][0]["unread"],
        1,
        "the reply, not the note"
    );
    let inbox = app.agent_get(&format!("{INBOX}?kind=chat"), &agent).await;
    let ours = inbox.ok()["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversationId"] == json!(chat))
        .unwrap()
        .clone();
    assert_eq!(ours["unread"], 1);
}

for_each_store!(read_routes_keep_marks_and_counts);
