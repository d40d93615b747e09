//! The client API over HTTP, against `supportzen serve`'s server on a random port.
//! Every endpoint's success and error paths, both body shapes, both kinds of user,
//! ownership, and that rejected requests write nothing.

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use supportzen_shared::Config;
use supportzen_shared::domain::{ChatId, TicketId};
use supportzen_shared::http::request::MAX_BODY_BYTES;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";

async fn live_chat_opens_and_takes_messages_in_both_body_shapes<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let token = token(ANN_SECRET, ANN);

    let created = app
        .post(
            LIVE_CREATE,
            Some(&token),
            &json!({ "data": create_body(ANN, "Hi, I have a quick question!") }),
        )
        .await;
    let data = created.ok();
    assert_eq!(
        created.body["message"],
        "Live chat session created successfully."
    );
    assert_eq!(
        data.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["chatId"]
    );
    let chat_id = data["chatId"].as_str().unwrap().to_string();
    assert!(chat_id.starts_with("chat-"));

    let flat = app
        .post(
            LIVE_CHAT,
            Some(&token),
            &json!({"chat_id": chat_id, "email": ANN, "message": "Where is my URL?"}),
        )
        .await;
    let wrapped = app
        .post(
            LIVE_CHAT,
            Some(&token),
            &json!({"data": {"chat_id": chat_id, "email": ANN, "message": "Found it", "image_url": "https://cdn.example.com/a.png"}}),
        )
        .await;
    for reply in [&flat, &wrapped] {
        let data = reply.ok();
        assert_eq!(reply.body["message"], "Message sent successfully.");
        assert_eq!(data["chatId"], chat_id.as_str());
        assert!(data["messageId"].as_str().unwrap().starts_with("msg-"));
    }
    // The documented key order: status, message, data, error.
    let keys: Vec<_> = flat.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["status", "message", "data", "error"]);

    let id = chat(data);
    let stored = app.store.messages(&id).await.unwrap();
    assert_eq!(
        stored.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        [
            "Hi, I have a quick question!",
            "Where is my URL?",
            "Found it"
        ]
    );
    assert_eq!(
        stored[2].image_url.as_deref(),
        Some("https://cdn.example.com/a.png")
    );
    assert_eq!(stored[2].id.as_str(), wrapped.body["data"]["messageId"]);
    let conversation = app.store.find_conversation(&id).await.unwrap().unwrap();
    assert_eq!(conversation.owner, user(ANN));
    assert_eq!(conversation.status, supportzen_shared::domain::Status::Open);
    assert_eq!(conversation.last_activity_at, stored[2].sent_at);

    let profile = app.store.profile(&user(ANN)).await.unwrap().unwrap();
    assert_eq!(profile.name.as_deref(), Some("Premium Plan"));
    assert_eq!(profile.plan_id, Some(5));
    assert_eq!(profile.account_created_at, Some(1679223400));
}

async fn tickets_are_numbered_in_order_and_take_appended_messages<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let token = token(ANN_SECRET, ANN);
    let mut ids = Vec::new();
    for n in 1..=3 {
        let reply = app
            .post(
                TICKET_CREATE,
                Some(&token),
                &create_body(ANN, &format!("problem {n}")),
            )
            .await;
        assert_eq!(reply.body["message"], "Ticket created successfully.");
        ids.push(reply.ok()["ticketId"].as_str().unwrap().to_string());
    }
    assert_eq!(ids, ["TKT-001", "TKT-002", "TKT-003"]);

    let appended = app
        .post(
            TICKET_APPEND,
            Some(&token),
            &json!({"data": {"ticket_id": "TKT-002", "email": ANN, "message": "more detail"}}),
        )
        .await;
    let data = appended.ok();
    assert_eq!(
        appended.body["message"],
        "Message appended to ticket successfully."
    );
    assert_eq!(data["ticketId"], "TKT-002");
    assert!(data["messageId"].as_str().unwrap().starts_with("msg-"));
    let keys: Vec<_> = data.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["ticketId", "messageId"]);
    assert_eq!(
        texts(&app.store, &ticket(data)).await,
        ["problem 2", "more detail"]
    );
}

async fn first_request_pins_the_token_until_a_secret_is_provisioned<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    let first = "ab".repeat(32);
    let other = "cd".repeat(32);

    let created = app
        .post(LIVE_CREATE, Some(&first), &create_body(ANN, "hello"))
        .await;
    let id = chat(created.ok());
    // Upper-case hex is the same token.
    app.post(
        LIVE_CHAT,
        Some(&first.to_uppercase()),
        &json!({"chat_id": id.key(), "email": ANN, "message": "again"}),
    )
    .await
    .ok();
    app.post(
        LIVE_CHAT,
        Some(&other),
        &json!({"chat_id": id.key(), "email": ANN, "message": "imposter"}),
    )
    .await
    .err(401, "unauthorized");
    app.post(TICKET_CREATE, Some(&other), &create_body(ANN, "imposter"))
        .await
        .err(401, "unauthorized");
    assert_eq!(texts(&app.store, &id).await, ["hello", "again"]);

    // Once the host product provisions the real secret, only its HMAC is accepted.
    app.provision(ANN, ANN_SECRET).await;
    app.post(
        LIVE_CHAT,
        Some(&first),
        &json!({"chat_id": id.key(), "email": ANN, "message": "old pin"}),
    )
    .await
    .err(401, "unauthorized");
    app.post(
        LIVE_CHAT,
        Some(&token(ANN_SECRET, ANN)),
        &json!({"chat_id": id.key(), "email": ANN, "message": "signed"}),
    )
    .await
    .ok();
    assert_eq!(texts(&app.store, &id).await, ["hello", "again", "signed"]);
}

async fn a_rotated_secret_keeps_working_for_its_grace_period_only<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, "old-secret").await;
    let old = token("old-secret", ANN);
    let chat = chat(
        app.post(LIVE_CREATE, Some(&old), &create_body(ANN, "hi"))
            .await
            .ok(),
    );
    let send = |bearer: String, text: &'static str| {
        let body = json!({"chat_id": chat.key(), "email": ANN, "message": text});
        let app = &app;
        async move { app.post(LIVE_CHAT, Some(&bearer), &body).await }
    };

    app.rotate(ANN, "new-secret", std::time::Duration::from_secs(3600))
        .await;
    send(old.clone(), "old token, in the grace period")
        .await
        .ok();
    send(token("new-secret", ANN), "new token").await.ok();

    // A leaked secret is revoked at once: rotate again with no grace.
    app.rotate(ANN, "newest-secret", std::time::Duration::ZERO)
        .await;
    send(old, "old token").await.err(401, "unauthorized");
    send(token("new-secret", ANN), "replaced token")
        .await
        .err(401, "unauthorized");
    send(token("newest-secret", ANN), "newest token").await.ok();
    assert_eq!(
        texts(&app.store, &chat).await,
        [
            "hi",
            "old token, in the grace period",
            "new token",
            "newest token"
        ]
    );
}

async fn without_trust_on_first_use_unknown_users_are_rejected<S: TestStore>() {
    let app = TestApp::<S>::spawn_with(Config {
        trust_first_request: false,
        ..Config::default()
    })
    .await;
    let reply = app
        .post(
            LIVE_CREATE,
            Some(&token(ANN_SECRET, ANN)),
            &create_body(ANN, "hello"),
        )
        .await;
    reply.err(401, "unauthorized");
    assert!(app.store.profile(&user(ANN)).await.unwrap().is_none());

    app.provision(ANN, ANN_SECRET).await;
    app.post(
        LIVE_CREATE,
        Some(&token(ANN_SECRET, ANN)),
        &create_body(ANN, "hello"),
    )
    .await
    .ok();
}

async fn emails_identify_users_case_insensitively_but_are_signed_as_sent<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let shouted = " ANN@Example.com";
    let created = app
        .post(
            TICKET_CREATE,
            Some(&token(ANN_SECRET, shouted)),
            &create_body(shouted, "hello"),
        )
        .await;
    let id = ticket(created.ok());
    assert_eq!(
        app.store
            .find_conversation(&id)
            .await
            .unwrap()
            .unwrap()
            .owner,
        user(ANN)
    );
    // A token for one spelling does not sign another.
    app.post(
        TICKET_CREATE,
        Some(&token(ANN_SECRET, ANN)),
        &create_body(shouted, "hello"),
    )
    .await
    .err(401, "unauthorized");
}

async fn bad_credentials_are_401_and_write_nothing<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let forged = token("guessed", ANN);
    let good = token(ANN_SECRET, ANN);
    // The header's shape is named, so a client can fix it; a well-formed token that is
    // wrong says nothing more.
    let hex_digits = "malformed Authorization header: the token must be 64 hex digits";
    for path in [LIVE_CREATE, TICKET_CREATE] {
        for (bearer, message) in [
            (None, "missing Authorization header"),
            (Some(forged.as_str()), "authentication failed"),
            (Some(&good[..60]), hex_digits),
            (Some("not-hex"), hex_digits),
        ] {
            let reply = app.post(path, bearer, &create_body(ANN, "hello")).await;
            assert_eq!(reply.err(401, "unauthorized")["message"], message);
        }
    }
    let raw = app
        .post_bytes(
            LIVE_CREATE,
            None,
            create_body(ANN, "x").to_string().into_bytes(),
        )
        .await;
    assert_eq!(raw.body["error"]["message"], "missing Authorization header");
    assert_eq!(conversation_count(&app, ANN).await, 0);
    let profile = app.store.profile(&user(ANN)).await.unwrap().unwrap();
    assert_eq!(
        profile.name, None,
        "a rejected create must not touch the profile"
    );
    // No ticket number was used up by the rejected requests.
    let next = app
        .post(TICKET_CREATE, Some(&good), &create_body(ANN, "real"))
        .await;
    assert_eq!(next.ok()["ticketId"], "TKT-001");
}

async fn another_users_chat_or_ticket_is_indistinguishable_from_a_missing_one<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    let (ann, bob) = (token(ANN_SECRET, ANN), token(BOB_SECRET, BOB));
    let ann_chat = chat(
        app.post(LIVE_CREATE, Some(&ann), &create_body(ANN, "mine"))
            .await
            .ok(),
    );
    let ann_ticket = ticket(
        app.post(TICKET_CREATE, Some(&ann), &create_body(ANN, "mine"))
            .await
            .ok(),
    );

    let theirs = app
        .post(
            LIVE_CHAT,
            Some(&bob),
            &json!({"chat_id": ann_chat.key(), "email": BOB, "message": "hijack"}),
        )
        .await;
    let missing = app
        .post(
            LIVE_CHAT,
            Some(&bob),
            &json!({"chat_id": ChatId::generate().as_str(), "email": BOB, "message": "x"}),
        )
        .await;
    theirs.err(404, "not_found");
    assert_eq!(theirs.body, missing.body);

    let theirs = app
        .post(
            TICKET_APPEND,
            Some(&bob),
            &json!({"ticket_id": ann_ticket.key(), "email": BOB, "message": "hijack"}),
        )
        .await;
    let missing = app
        .post(
            TICKET_APPEND,
            Some(&bob),
            &json!({"ticket_id": "TKT-999", "email": BOB, "message": "x"}),
        )
        .await;
    theirs.err(404, "not_found");
    assert_eq!(theirs.body, missing.body);

    // Bob cannot reach Ann's conversations by signing with his secret and her email either.
    app.post(
        LIVE_CHAT,
        Some(&bob),
        &json!({"chat_id": ann_chat.key(), "email": ANN, "message": "x"}),
    )
    .await
    .err(401, "unauthorized");
    // A chat id is not a ticket id: to the ticket route it names nothing.
    app.post(
        TICKET_APPEND,
        Some(&ann),
        &json!({"ticket_id": ann_chat.key(), "email": ANN, "message": "x"}),
    )
    .await
    .err(404, "not_found");

    assert_eq!(texts(&app.store, &ann_chat).await, ["mine"]);
    assert_eq!(texts(&app.store, &ann_ticket).await, ["mine"]);
}

async fn a_user_never_seen_before_cannot_append_and_is_not_created<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    let stranger = "ef".repeat(32);
    app.post(
        LIVE_CHAT,
        Some(&stranger),
        &json!({"chat_id": ChatId::generate().as_str(), "email": ANN, "message": "x"}),
    )
    .await
    .err(404, "not_found");
    app.post(
        TICKET_APPEND,
        Some(&stranger),
        &json!({"ticket_id": "TKT-001", "email": ANN, "message": "x"}),
    )
    .await
    .err(404, "not_found");
    assert!(app.store.profile(&user(ANN)).await.unwrap().is_none());
}

async fn closed_conversations_refuse_messages_with_409<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let token = token(ANN_SECRET, ANN);
    let chat_id = chat(
        app.post(LIVE_CREATE, Some(&token), &create_body(ANN, "hi"))
            .await
            .ok(),
    );
    let ticket_id = ticket(
        app.post(TICKET_CREATE, Some(&token), &create_body(ANN, "hi"))
            .await
            .ok(),
    );
    assert!(close(&app.store, &chat_id).await);
    assert!(close(&app.store, &ticket_id).await);

    let reply = app
        .post(
            LIVE_CHAT,
            Some(&token),
            &json!({"chat_id": chat_id.key(), "email": ANN, "message": "late"}),
        )
        .await;
    assert_eq!(
        reply.err(409, "conversation_closed")["message"],
        "this chat is closed"
    );
    app.post(
        TICKET_APPEND,
        Some(&token),
        &json!({"ticket_id": ticket_id.key(), "email": ANN, "message": "late"}),
    )
    .await
    .err(409, "conversation_closed");
    assert_eq!(texts(&app.store, &chat_id).await, ["hi"]);
    assert_eq!(texts(&app.store, &ticket_id).await, ["hi"]);
}

async fn every_invalid_field_is_a_400_that_names_it_and_writes_nothing<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let token = token(ANN_SECRET, ANN);
    let chat_id = chat(
        app.post(LIVE_CREATE, Some(&token), &create_body(ANN, "first"))
            .await
            .ok(),
    );
    let ticket_id = ticket(
        app.post(TICKET_CREATE, Some(&token), &create_body(ANN, "first"))
            .await
            .ok(),
    );

    let create_cases: Vec<(&str, Value)> = vec![
        ("email", json!("not-an-email")),
        ("email", Value::Null),
        ("name", json!("n".repeat(201))),
        ("plan_id", json!("5")),
        ("created_at", Value::Null),
        ("created_at", json!(1679223400000i64)),
        ("message", json!("  ")),
        ("message", json!("m".repeat(10_001))),
        ("image_url", json!("javascript:alert(1)")),
        (
            "image_url",
            json!(format!("https://example.com/{}", "a".repeat(2048))),
        ),
    ];
    for path in [LIVE_CREATE, TICKET_CREATE] {
        for (field, value) in &create_cases {
            let mut body = create_body(ANN, "hello");
            body[*field] = value.clone();
            app.post(path, Some(&token), &json!({ "data": body }))
                .await
                .bad_field(field);
        }
    }

    let base_chat = json!({"chat_id": chat_id.key(), "email": ANN, "message": "hi"});
    let base_ticket = json!({"ticket_id": ticket_id.key(), "email": ANN, "message": "hi"});
    for (path, base, id_field) in [
        (LIVE_CHAT, base_chat, "chat_id"),
        (TICKET_APPEND, base_ticket, "ticket_id"),
    ] {
        let cases: Vec<(&str, Value)> = vec![
            (id_field, Value::Null),
            (id_field, json!("x".repeat(129))),
            (id_field, json!("TKT-001\u{7}")),
            (id_field, json!(42)),
            ("email", json!("nope")),
            ("message", Value::Null),
            ("message", json!("")),
            ("image_url", json!("ftp://example.com/a.png")),
        ];
        for (field, value) in cases {
            let mut body = base.clone();
            body[field] = value;
            app.post(path, Some(&token), &body).await.bad_field(field);
        }
        // Ids are opaque: one we never issued names nothing, and is not malformed.
        let mut body = base.clone();
        body[id_field] = json!("chat-does-not-exist");
        app.post(path, Some(&token), &body)
            .await
            .err(404, "not_found");
    }

    assert_eq!(conversation_count(&app, ANN).await, 2);
    assert_eq!(texts(&app.store, &chat_id).await, ["first"]);
    assert_eq!(texts(&app.store, &ticket_id).await, ["first"]);
    let next = app
        .post(TICKET_CREATE, Some(&token), &create_body(ANN, "next"))
        .await;
    assert_eq!(
        next.ok()["ticketId"],
        "TKT-002",
        "rejected creates used no ticket number"
    );
}

async fn bodies_that_are_not_json_or_too_large_are_rejected<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let token = token(ANN_SECRET, ANN);
    for path in [LIVE_CREATE, LIVE_CHAT, TICKET_CREATE, TICKET_APPEND] {
        for body in [&b"not json"[..], b"", b"[1,2,3]", b"{\"email\": "] {
            app.post_bytes(path, Some(&token), body.to_vec())
                .await
                .err(400, "invalid_json");
        }
        let mut huge = create_body(ANN, "x");
        huge["padding"] = json!("p".repeat(MAX_BODY_BYTES));
        let reply = app
            .post_bytes(path, Some(&token), huge.to_string().into_bytes())
            .await;
        reply.err(413, "payload_too_large");
    }
    // The longest message fits, in 4-byte characters and even with each of them written
    // as a JSON escape pair (12 bytes: what Python's `json.dumps` sends by default).
    let emoji = create_body(ANN, &"🎧".repeat(10_000));
    app.post(LIVE_CREATE, Some(&token), &emoji).await.ok();
    let escaped = emoji.to_string().replace('🎧', "\\ud83c\\udfa7");
    assert!(escaped.len() > 120_000 && escaped.len() <= MAX_BODY_BYTES);
    app.post_bytes(LIVE_CREATE, Some(&token), escaped.into_bytes())
        .await
        .ok();
    assert_eq!(conversation_count(&app, ANN).await, 2);
}

async fn unknown_routes_are_404_and_other_methods_405<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.request(Method::POST, "/api/client/live/delete")
        .await
        .err(404, "route_not_found");
    app.request(Method::GET, "/")
        .await
        .err(404, "route_not_found");
    let reply = app.request(Method::GET, LIVE_CREATE).await;
    reply.err(405, "method_not_allowed");
    assert_eq!(reply.headers["allow"], "POST");
}

async fn concurrent_ticket_creates_get_distinct_sequential_numbers<S: TestStore>() {
    let app = std::sync::Arc::new(TestApp::<S>::spawn().await);
    app.provision(ANN, ANN_SECRET).await;
    let token = token(ANN_SECRET, ANN);
    let tasks: Vec<_> = (0..30)
        .map(|n| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let reply = app
                    .post(
                        TICKET_CREATE,
                        Some(&token),
                        &create_body(ANN, &format!("t{n}")),
                    )
                    .await;
                TicketId::parse(reply.ok()["ticketId"].as_str().unwrap())
                    .unwrap()
                    .number()
            })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for task in tasks {
        assert!(
            numbers.insert(task.await.unwrap()),
            "a ticket number was handed out twice"
        );
    }
    assert_eq!(numbers, (1..=30).collect());
    assert_eq!(conversation_count(&app, ANN).await, 30);
}

async fn racing_first_requests_with_different_tokens_have_exactly_one_winner<S: TestStore>() {
    let app = std::sync::Arc::new(TestApp::<S>::spawn().await);
    let tasks: Vec<_> = (0..10u8)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                let token = hex_token(n);
                let reply = app
                    .post(LIVE_CREATE, Some(&token), &create_body(ANN, "first!"))
                    .await;
                (reply.status.as_u16(), token)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (status, token) = task.await.unwrap();
        match status {
            200 => winners.push(token),
            401 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one first request may win");
    assert_eq!(conversation_count(&app, ANN).await, 1);
    // The winner's token is the one pinned.
    app.post(LIVE_CREATE, Some(&winners[0]), &create_body(ANN, "second"))
        .await
        .ok();
}

async fn racing_first_requests_with_the_same_token_all_succeed<S: TestStore>() {
    let app = std::sync::Arc::new(TestApp::<S>::spawn().await);
    let token = hex_token(7);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                app.post(TICKET_CREATE, Some(&token), &create_body(ANN, "hi"))
                    .await
                    .status
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(conversation_count(&app, ANN).await, 8);
}

/// A distinct well-formed token per `n` (for trust-on-first-use, any 32 bytes will do).
fn hex_token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

for_each_store!(
    live_chat_opens_and_takes_messages_in_both_body_shapes,
    tickets_are_numbered_in_order_and_take_appended_messages,
    first_request_pins_the_token_until_a_secret_is_provisioned,
    without_trust_on_first_use_unknown_users_are_rejected,
    a_rotated_secret_keeps_working_for_its_grace_period_only,
    emails_identify_users_case_insensitively_but_are_signed_as_sent,
    bad_credentials_are_401_and_write_nothing,
    another_users_chat_or_ticket_is_indistinguishable_from_a_missing_one,
    a_user_never_seen_before_cannot_append_and_is_not_created,
    closed_conversations_refuse_messages_with_409,
    every_invalid_field_is_a_400_that_names_it_and_writes_nothing,
    bodies_that_are_not_json_or_too_large_are_rejected,
    unknown_routes_are_404_and_other_methods_405,
    concurrent_ticket_creates_get_distinct_sequential_numbers,
    racing_first_requests_with_different_tokens_have_exactly_one_winner,
    racing_first_requests_with_the_same_token_all_succeed,
);
