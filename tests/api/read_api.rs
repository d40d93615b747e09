//! Customers read their conversations back over HTTP, on both stores: a long chat pages
//! completely and in order in both directions, the list pages by last activity, a
//! client's own message id comes back, and nobody reads anyone else's conversation.

use serde_json::{Value, json};
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";
/// The smallest message id: `after` it, a conversation reads from its first message.
const START: &str = "msg-00000000-0000-0000-0000-000000000000";

async fn app_with_users<S: TestStore>() -> (TestApp<S>, String, String) {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    (app, token(ANN_SECRET, ANN), token(BOB_SECRET, BOB))
}

/// The message texts of a page, and its `nextCursor`.
fn texts_and_cursor(data: &Value) -> (Vec<String>, Option<String>) {
    let texts = data["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_string())
        .collect();
    (texts, data["nextCursor"].as_str().map(str::to_string))
}

async fn a_long_chat_reads_back_whole_in_both_directions<S: TestStore>() {
    let (app, ann, _) = app_with_users::<S>().await;
    let opened = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, "message 000"))
        .await;
    let chat_id = opened.ok()["chatId"].as_str().unwrap().to_string();
    for n in 1..120 {
        let body = json!({"chat_id": chat_id, "email": ANN, "message": format!("message {n:03}")});
        app.post(LIVE_CHAT, Some(&ann), &body).await.ok();
    }
    let all: Vec<String> = (0..120).map(|n| format!("message {n:03}")).collect();
    let path = messages_path(&chat_id);

    // Forwards from the start, 50 at a time.
    let (mut read, mut cursor, mut pages) = (Vec::new(), Some(START.to_string()), 0);
    while let Some(after) = cursor {
        let page = app
            .get(&format!("{path}?after={after}&limit=50"), Some(&ann), ANN)
            .await;
        let data = page.ok();
        assert_eq!(data["conversationId"], chat_id.as_str());
        let (texts, next) = texts_and_cursor(data);
        assert_eq!(data["hasMore"], next.is_some());
        read.extend(texts);
        cursor = next;
        pages += 1;
    }
    assert_eq!(read, all, "forwards: every message once, in order");
    assert_eq!(pages, 3);

    // Backwards from the latest page, 33 at a time: each page oldest first.
    let (texts, mut cursor) = texts_and_cursor(
        app.get(&format!("{path}?limit=33"), Some(&ann), ANN)
            .await
            .ok(),
    );
    let mut pages = vec![texts];
    while let Some(before) = cursor {
        let page = app
            .get(&format!("{path}?before={before}&limit=33"), Some(&ann), ANN)
            .await;
        let (texts, next) = texts_and_cursor(page.ok());
        pages.push(texts);
        cursor = next;
    }
    assert_eq!(pages.len(), 4);
    let read: Vec<String> = pages.into_iter().rev().flatten().collect();
    assert_eq!(read, all, "backwards: every message once, in order");

    // The default page is the latest 50, oldest first, with the times in milliseconds.
    let data = app.get(&path, Some(&ann), ANN).await.ok().clone();
    let (texts, _) = texts_and_cursor(&data);
    assert_eq!(texts, all[70..]);
    let first = &data["messages"][0];
    assert_eq!(first["author"], "customer");
    assert!(first["createdAt"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(first["messageId"].as_str().unwrap().starts_with("msg-"));
}

/// DynamoDB stops a query at 1 MB: 50 messages of 10,000 three-byte characters are 1.5 MB.
/// A page cut short must still say that more follow, or the older messages are lost.
async fn pages_of_long_messages_still_reach_every_message<S: TestStore>() {
    let (app, ann, _) = app_with_users::<S>().await;
    let long = |n: usize| format!("{n:02} {}", "中".repeat(9_990));
    let opened = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, &long(0)))
        .await;
    let chat_id = opened.ok()["chatId"].as_str().unwrap().to_string();
    for n in 1..60 {
        let body = json!({"chat_id": chat_id, "email": ANN, "message": long(n)});
        app.post(LIVE_CHAT, Some(&ann), &body).await.ok();
    }
    let path = messages_path(&chat_id);
    let (mut pages, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let query = match &cursor {
            Some(before) => format!("{path}?before={before}"),
            None => path.clone(),
        };
        let (texts, next) = texts_and_cursor(app.get(&query, Some(&ann), ANN).await.ok());
        pages.push(texts);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let read: Vec<String> = pages.into_iter().rev().flatten().collect();
    assert_eq!(read, (0..60).map(long).collect::<Vec<_>>());
}

async fn the_list_pages_by_last_activity<S: TestStore>() {
    let (app, ann, bob) = app_with_users::<S>().await;
    let mut tickets = Vec::new();
    for n in 0..7 {
        let reply = app
            .post(
                TICKET_CREATE,
                Some(&ann),
                &create_body(ANN, &format!("ticket {n}")),
            )
            .await;
        tickets.push(reply.ok()["ticketId"].as_str().unwrap().to_string());
    }
    app.post(TICKET_CREATE, Some(&bob), &create_body(BOB, "bob's"))
        .await
        .ok();
    app.post(LIVE_CREATE, Some(&ann), &create_body(ANN, "a chat"))
        .await
        .ok();
    // A message to the oldest ticket makes it the most recently active.
    let append = json!({"ticket_id": tickets[0], "email": ANN, "message": "still there?"});
    app.post(TICKET_APPEND, Some(&ann), &append).await.ok();

    let (mut listed, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let query = match &cursor {
            Some(cursor) => format!("{CONVERSATIONS}?kind=ticket&limit=3&cursor={cursor}"),
            None => format!("{CONVERSATIONS}?kind=ticket&limit=3"),
        };
        let data = app.get(&query, Some(&ann), ANN).await.ok().clone();
        for conversation in data["conversations"].as_array().unwrap() {
            assert_eq!(conversation["kind"], "ticket");
            assert_eq!(conversation["status"], "open");
            listed.push(conversation.clone());
        }
        match data["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let ids: Vec<&str> = listed
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = tickets[1..].iter().rev().map(String::as_str).collect();
    expected.insert(0, &tickets[0]);
    assert_eq!(
        ids, expected,
        "newest activity first, each once, only Ann's tickets"
    );
    assert_eq!(listed[0]["lastMessage"]["message"], "still there?");
    assert_eq!(listed[0]["lastMessage"]["author"], "customer");
    let activity: Vec<i64> = listed
        .iter()
        .map(|c| c["lastActivityAt"].as_i64().unwrap())
        .collect();
    assert!(activity.windows(2).all(|w| w[0] >= w[1]), "{activity:?}");

    // A ticket list's cursor is no position in the chat list.
    let first = app
        .get(
            &format!("{CONVERSATIONS}?kind=ticket&limit=1"),
            Some(&ann),
            ANN,
        )
        .await;
    let ticket_cursor = first.ok()["nextCursor"].as_str().unwrap().to_string();
    app.get(
        &format!("{CONVERSATIONS}?kind=chat&cursor={ticket_cursor}"),
        Some(&ann),
        ANN,
    )
    .await
    .bad_field("cursor");

    let chats = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    let chats = chats.ok();
    assert_eq!(chats["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(chats["hasMore"], false);
    assert_eq!(chats["nextCursor"], Value::Null);
}

async fn client_message_ids_come_back_with_their_messages<S: TestStore>() {
    let (app, ann, _) = app_with_users::<S>().await;
    let mut create = create_body(ANN, "first");
    create["client_message_id"] = json!("local-1");
    let ticket = app.post(TICKET_CREATE, Some(&ann), &create).await;
    let ticket = ticket.ok()["ticketId"].as_str().unwrap().to_string();
    let append = json!({"ticket_id": ticket, "email": ANN, "message": "second", "client_message_id": "local-2"});
    app.post(TICKET_APPEND, Some(&ann), &append).await.ok();
    let plain = json!({"ticket_id": ticket, "email": ANN, "message": "third"});
    app.post(TICKET_APPEND, Some(&ann), &plain).await.ok();

    let data = app
        .get(&messages_path(&ticket), Some(&ann), ANN)
        .await
        .ok()
        .clone();
    let ids: Vec<&Value> = data["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["clientMessageId"])
        .collect();
    assert_eq!(ids, [&json!("local-1"), &json!("local-2"), &Value::Null]);

    let mut too_long = create_body(ANN, "x");
    too_long["client_message_id"] = json!("c".repeat(65));
    app.post(LIVE_CREATE, Some(&ann), &too_long)
        .await
        .bad_field("client_message_id");
}

async fn nobody_reads_anyone_elses_conversation<S: TestStore>() {
    let (app, ann, bob) = app_with_users::<S>().await;
    let chat = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, "private"))
        .await;
    let chat = chat.ok()["chatId"].as_str().unwrap().to_string();
    let path = messages_path(&chat);

    // Someone else's, never issued, or of a form we never issue: all simply not found.
    app.get(&path, Some(&bob), BOB).await.err(404, "not_found");
    for id in ["chat-does-not-exist", "TKT-999", "ünïcödé"] {
        let encoded = id
            .replace('ü', "%C3%BC")
            .replace('ï', "%C3%AF")
            .replace('ö', "%C3%B6")
            .replace('é', "%C3%A9");
        app.get(&messages_path(&encoded), Some(&ann), ANN)
            .await
            .err(404, "not_found");
    }
    // Signed for another email, or not at all: 401, whatever the conversation.
    app.get(&path, Some(&bob), ANN)
        .await
        .err(401, "unauthorized");
    app.get(&path, None, ANN).await.err(401, "unauthorized");
    let listed = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&bob), BOB)
        .await;
    assert!(listed.ok()["conversations"].as_array().unwrap().is_empty());

    // Malformed parameters are named.
    for (query, field) in [
        (format!("{path}?limit=0"), "limit"),
        (format!("{path}?limit=101"), "limit"),
        (format!("{path}?limit=ten"), "limit"),
        (format!("{path}?after=yesterday"), "after"),
        (format!("{path}?after={START}&before={START}"), "before"),
        (CONVERSATIONS.to_string(), "kind"),
        (format!("{CONVERSATIONS}?kind=email"), "kind"),
        (format!("{CONVERSATIONS}?kind=chat&cursor=nope"), "cursor"),
        (messages_path(&"x".repeat(129)), "id"),
    ] {
        app.get(&query, Some(&ann), ANN).await.bad_field(field);
    }
    app.get(&path, Some(&ann), "not-an-email")
        .await
        .bad_field("X-SupportZen-Email");
    assert_eq!(
        conversation_count(&app, ANN).await,
        1,
        "reading wrote nothing"
    );
}

for_each_store!(
    a_long_chat_reads_back_whole_in_both_directions,
    pages_of_long_messages_still_reach_every_message,
    the_list_pages_by_last_activity,
    client_message_ids_come_back_with_their_messages,
    nobody_reads_anyone_elses_conversation,
);
