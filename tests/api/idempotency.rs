//! `Idempotency-Key` over HTTP, on both stores: a retry gets the first answer and writes
//! nothing; another body with the same key is a 422; keys belong to one user and one
//! endpoint and last a day; racing retries with one key write once.

use serde_json::{Value, json};
use std::sync::Arc;
use supportzen_shared::domain::{
    Author, ConversationId, MessageText, NewMessage, Scope, now_seconds,
};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::idempotency::{
    BodyDigest, IdempotencyKey, KEY_LIFETIME_SECONDS, NewReceipt, Receipt, ReceiptKey, Requester,
};
use supportzen_shared::store::StoredConversation;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";

/// An app with Ann and Bob provisioned, and Ann's token.
async fn app_with_users<S: TestStore>() -> (TestApp<S>, String) {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    (app, token(ANN_SECRET, ANN))
}

async fn message_count<S: TestStore>(app: &TestApp<S>, id: &ConversationId) -> usize {
    texts(&app.store, id).await.len()
}

/// Sends `body` twice with one key: the second answer must be the first, marked as a
/// repeat. Returns the answer's `data`.
async fn answered_twice<S: TestStore>(
    app: &TestApp<S>,
    path: &str,
    key: &str,
    body: &Value,
) -> Value {
    let token = token(ANN_SECRET, ANN);
    let first = app.post_with_key(path, &token, key, body).await;
    let data = first.ok().clone();
    assert!(!first.replayed(), "a first answer is not a repeat");
    let again = app.post_with_key(path, &token, key, body).await;
    assert_eq!(again.ok(), &data, "{path}: the retry gets the first answer");
    assert!(
        again.replayed(),
        "{path}: the retry is marked Idempotent-Replayed"
    );
    data
}

async fn a_retry_gets_the_first_answer_and_writes_nothing<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;

    let opened = answered_twice(&app, LIVE_CREATE, "k1", &create_body(ANN, "hi")).await;
    let chat_id = chat(&opened);
    assert_eq!(conversation_count(&app, ANN).await, 1, "one chat, not two");

    let send = json!({"chat_id": chat_id.key(), "email": ANN, "message": "more"});
    let sent = answered_twice(&app, LIVE_CHAT, "k2", &send).await;
    assert_eq!(sent["chatId"], chat_id.key());
    assert_eq!(
        texts(&app.store, &chat_id).await,
        ["hi", "more"],
        "one message, not two"
    );

    let filed = answered_twice(&app, TICKET_CREATE, "k3", &create_body(ANN, "help")).await;
    let ticket_id = ticket(&filed);
    assert_eq!(ticket_id.key(), "TKT-001");
    let append = json!({"ticket_id": ticket_id.key(), "email": ANN, "message": "also"});
    let appended = answered_twice(&app, TICKET_APPEND, "k4", &append).await;
    assert_eq!(appended["ticketId"], "TKT-001");
    assert_eq!(texts(&app.store, &ticket_id).await, ["help", "also"]);

    // The retry used up no ticket number: the next ticket is TKT-002.
    let next = app
        .post(TICKET_CREATE, Some(&token), &create_body(ANN, "again"))
        .await;
    assert_eq!(next.ok()["ticketId"], "TKT-002");
    assert_eq!(conversation_count(&app, ANN).await, 3);
}

async fn the_same_fields_in_another_encoding_are_the_same_request<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let flat = create_body(ANN, "hi");
    let first = app.post_with_key(LIVE_CREATE, &token, "k", &flat).await;
    let data = first.ok().clone();
    // Wrapped in {"data": …}, keys in another order: the same fields.
    let wrapped = json!({"data": {
        "message": "hi", "created_at": 1679223400, "plan_id": 5, "name": "Premium Plan", "email": ANN
    }});
    let again = app.post_with_key(LIVE_CREATE, &token, "k", &wrapped).await;
    assert_eq!(again.ok(), &data);
    assert!(again.replayed());
    assert_eq!(conversation_count(&app, ANN).await, 1);
}

async fn the_same_key_with_another_body_is_422_and_writes_nothing<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let opened = app
        .post_with_key(LIVE_CREATE, &token, "k", &create_body(ANN, "hi"))
        .await;
    let chat_id = chat(opened.ok());

    let other = app
        .post_with_key(
            LIVE_CREATE,
            &token,
            "k",
            &create_body(ANN, "something else"),
        )
        .await;
    let error = other.err(422, "idempotency_key_reused");
    assert_eq!(error["field"], "Idempotency-Key");
    assert_eq!(conversation_count(&app, ANN).await, 1);

    let send = |text: &str| json!({"chat_id": chat_id.key(), "email": ANN, "message": text});
    app.post_with_key(LIVE_CHAT, &token, "m", &send("one"))
        .await
        .ok();
    app.post_with_key(LIVE_CHAT, &token, "m", &send("two"))
        .await
        .err(422, "idempotency_key_reused");
    assert_eq!(texts(&app.store, &chat_id).await, ["hi", "one"]);
}

async fn keys_belong_to_one_user_and_one_endpoint<S: TestStore>() {
    let (app, ann_token) = app_with_users::<S>().await;
    let bob_token = token(BOB_SECRET, BOB);
    let ann = app
        .post_with_key(LIVE_CREATE, &ann_token, "shared", &create_body(ANN, "hi"))
        .await;
    let bob = app
        .post_with_key(LIVE_CREATE, &bob_token, "shared", &create_body(BOB, "hi"))
        .await;
    assert!(!bob.replayed(), "Bob's key is not Ann's");
    assert_ne!(ann.ok(), bob.ok());
    assert_eq!(conversation_count(&app, BOB).await, 1);

    // The same key on another endpoint is another request.
    let ticket = app
        .post_with_key(TICKET_CREATE, &ann_token, "shared", &create_body(ANN, "hi"))
        .await;
    assert!(!ticket.replayed());
    assert_eq!(ticket.ok()["ticketId"], "TKT-001");
    assert_eq!(conversation_count(&app, ANN).await, 2);
}

async fn a_repeat_needs_the_users_token<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let body = create_body(ANN, "hi");
    app.post_with_key(LIVE_CREATE, &token, "k", &body)
        .await
        .ok();
    let forged = supportzen_tests::token("guess", ANN);
    let reply = app.post_with_key(LIVE_CREATE, &forged, "k", &body).await;
    reply.err(401, "unauthorized");
}

async fn a_request_that_failed_does_not_use_up_its_key<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let body = create_body(ANN, "hi");
    let forged = supportzen_tests::token("guess", ANN);
    app.post_with_key(TICKET_CREATE, &forged, "k", &body)
        .await
        .err(401, "unauthorized");
    let missing = json!({"ticket_id": "TKT-999", "email": ANN, "message": "hello?"});
    app.post_with_key(TICKET_APPEND, &token, "k", &missing)
        .await
        .err(404, "not_found");

    let reply = app.post_with_key(TICKET_CREATE, &token, "k", &body).await;
    assert!(!reply.replayed());
    assert_eq!(reply.ok()["ticketId"], "TKT-001");
}

async fn invalid_keys_are_400s_that_name_the_header<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let too_long = "k".repeat(256);
    for key in ["", "has space", too_long.as_str()] {
        app.post_with_key(LIVE_CREATE, &token, key, &create_body(ANN, "hi"))
            .await
            .bad_field("Idempotency-Key");
    }
    assert_eq!(conversation_count(&app, ANN).await, 0);
}

/// The key's day is simulated by writing its receipt as if a day had passed.
async fn an_expired_key_is_a_new_request<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let opened = app
        .post(LIVE_CREATE, Some(&token), &create_body(ANN, "hi"))
        .await;
    let chat_id = chat(opened.ok());
    let now = now_seconds();
    let written_at = now - KEY_LIFETIME_SECONDS - 1;
    let old_body = json!({"chat_id": chat_id.key(), "email": ANN, "message": "yesterday"});
    let old = NewReceipt {
        key: ReceiptKey {
            requester: Requester::customer(&user(ANN)),
            endpoint: Endpoint::LiveChat,
            key: IdempotencyKey::parse("daily").unwrap(),
        },
        receipt: Receipt {
            body: BodyDigest::of(old_body.as_object().unwrap()),
            data: json!({"chatId": chat_id.key(), "messageId": "msg-yesterday"}).to_string(),
            expires_at: written_at + KEY_LIFETIME_SECONDS,
        },
        written_at,
    };
    let yesterday = NewMessage::now(
        Author::Customer,
        MessageText::parse("yesterday").unwrap(),
        None,
        None,
    );
    app.store
        .append_message(&chat_id, &user(ANN), &yesterday, None, Some(&old))
        .await
        .unwrap();

    // Another body with yesterday's key is not refused, and the same body is not
    // answered from the expired receipt: both are new requests.
    let today = json!({"chat_id": chat_id.key(), "email": ANN, "message": "today"});
    let fresh = answered_twice(&app, LIVE_CHAT, "daily", &today).await;
    assert_ne!(fresh["messageId"], "msg-yesterday");
    let again = app
        .post_with_key(LIVE_CHAT, &token, "daily", &old_body)
        .await;
    again.err(422, "idempotency_key_reused");
    assert_eq!(
        message_count(&app, &chat_id).await,
        3,
        "hi, yesterday and today"
    );
}

/// Sends one body with one key from `clients` tasks at once; returns every answer's data.
async fn all_at_once<S: TestStore>(
    app: &Arc<TestApp<S>>,
    clients: usize,
    path: &'static str,
    token: &str,
    body: Value,
) -> Vec<Value> {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (app, token, body) = (app.clone(), token.to_string(), body.clone());
            tokio::spawn(async move {
                app.post_with_key(path, &token, "racing", &body)
                    .await
                    .ok()
                    .clone()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn all_the_same(answers: &[Value]) -> &Value {
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "racing retries got different answers: {answers:?}"
    );
    &answers[0]
}

async fn racing_retries_with_one_key_write_once<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let app = Arc::new(app);

    let answers = all_at_once(&app, 12, LIVE_CREATE, &token, create_body(ANN, "hi")).await;
    let chat_id = chat(all_the_same(&answers));
    assert_eq!(conversation_count(&app, ANN).await, 1);

    let send = json!({"chat_id": chat_id.key(), "email": ANN, "message": "more"});
    let answers = all_at_once(&app, 12, LIVE_CHAT, &token, send).await;
    all_the_same(&answers);
    assert_eq!(texts(&app.store, &chat_id).await, ["hi", "more"]);

    let answers = all_at_once(&app, 12, TICKET_CREATE, &token, create_body(ANN, "help")).await;
    let ticket_id = ticket(all_the_same(&answers));
    let tickets: Vec<StoredConversation> = app
        .store
        .conversations_of(&user(ANN))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| matches!(c.id, ConversationId::Ticket(_)))
        .collect();
    assert_eq!(tickets.len(), 1, "one ticket, however many retries raced");
    assert_eq!(tickets[0].id, ticket_id);

    let append = json!({"ticket_id": ticket_id.key(), "email": ANN, "message": "also"});
    let answers = all_at_once(&app, 12, TICKET_APPEND, &token, append).await;
    all_the_same(&answers);
    assert_eq!(texts(&app.store, &ticket_id).await, ["help", "also"]);
}

/// Trust-on-first-use: racing first requests of a new user with one key create the user
/// and the chat once, and all get its answer.
async fn racing_first_requests_with_one_key_write_once<S: TestStore>() {
    let app = Arc::new(TestApp::<S>::spawn().await);
    let token = "ab".repeat(32);
    let answers = all_at_once(&app, 8, LIVE_CREATE, &token, create_body(ANN, "hi")).await;
    all_the_same(&answers);
    assert_eq!(conversation_count(&app, ANN).await, 1);
}

/// An agent's reply takes a key too: a retry gets the first answer and writes nothing,
/// another body is a 422, another agent's same key is its own, and racing retries with
/// one key post once.
async fn an_agents_reply_retried_with_one_key_posts_once<S: TestStore>() {
    let (app, token) = app_with_users::<S>().await;
    let opened = app
        .post(LIVE_CREATE, Some(&token), &create_body(ANN, "hi"))
        .await;
    let chat_id = chat(opened.ok());
    let path = agent_path(Endpoint::AgentReply, &chat_id.key());
    let sam = app.agent_token("sam", &[Scope::Write]);
    let reply = json!({"message": "on it"});

    let first = app.post_with_key(&path, &sam, "r-1", &reply).await;
    let data = first.ok().clone();
    assert!(!first.replayed());
    let again = app.post_with_key(&path, &sam, "r-1", &reply).await;
    assert_eq!(again.ok(), &data, "the retry gets the first answer");
    assert!(again.replayed());
    assert_eq!(texts(&app.store, &chat_id).await, ["hi", "on it"]);

    let other = app
        .post_with_key(&path, &sam, "r-1", &json!({"message": "something else"}))
        .await;
    assert_eq!(
        other.err(422, "idempotency_key_reused")["field"],
        "Idempotency-Key"
    );
    // The same key from another agent is another request.
    let kim = app.agent_token("kim", &[Scope::Write]);
    app.post_with_key(&path, &kim, "r-1", &reply).await.ok();
    assert_eq!(texts(&app.store, &chat_id).await, ["hi", "on it", "on it"]);

    let app = Arc::new(app);
    let racing = json!({"message": "once"});
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (app, sam, path, body) = (app.clone(), sam.clone(), path.clone(), racing.clone());
            tokio::spawn(async move {
                app.post_with_key(&path, &sam, "racing", &body)
                    .await
                    .ok()
                    .clone()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    all_the_same(&answers);
    assert_eq!(
        texts(&app.store, &chat_id).await,
        ["hi", "on it", "on it", "once"]
    );
}

for_each_store!(
    an_agents_reply_retried_with_one_key_posts_once,
    a_retry_gets_the_first_answer_and_writes_nothing,
    the_same_fields_in_another_encoding_are_the_same_request,
    the_same_key_with_another_body_is_422_and_writes_nothing,
    keys_belong_to_one_user_and_one_endpoint,
    a_repeat_needs_the_users_token,
    a_request_that_failed_does_not_use_up_its_key,
    invalid_keys_are_400s_that_name_the_header,
    an_expired_key_is_a_new_request,
    racing_retries_with_one_key_write_once,
    racing_first_requests_with_one_key_write_once,
);
