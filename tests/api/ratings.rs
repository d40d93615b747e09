//! Satisfaction ratings over HTTP, on both stores: only a solved conversation of the
//! caller's is rated; bad values are named; agents see the rating on the conversation
//! and in the inbox, the customer on their list; a change within the window overwrites;
//! a customer message that reopens the conversation stops new ratings until it is solved
//! again. (The 24-hour window itself, which needs a clock a day ahead, is checked on
//! both stores in `tests/store/ratings.rs`.)

use serde_json::{Value, json};
use supportzen_shared::domain::Scope;
use supportzen_shared::endpoint::Endpoint;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";

fn rating_path(id: &str) -> String {
    agent_path(Endpoint::ConversationRating, id)
}

async fn solve<S: TestStore>(app: &TestApp<S>, agent: &str, id: &str, status: &str) {
    app.agent_post(
        &agent_path(Endpoint::AgentStatus, id),
        agent,
        &json!({ "status": status }),
    )
    .await
    .ok();
}

async fn a_solved_conversation_is_rated_once_and_agents_see_it<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    let (ann, bob) = (token(ANN_SECRET, ANN), token(BOB_SECRET, BOB));
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let opened = app
        .post(
            LIVE_CREATE,
            Some(&ann),
            &create_body(ANN, "Where is my invoice?"),
        )
        .await;
    let chat = opened.ok()["chatId"].as_str().unwrap().to_string();
    let path = rating_path(&chat);

    // Open: not yet.
    let refused = app
        .post(&path, Some(&ann), &json!({"email": ANN, "rating": 5}))
        .await;
    assert!(
        refused.err(409, "conversation_not_solved")["message"]
            .as_str()
            .unwrap()
            .contains("solved")
    );
    solve(&app, &agent, &chat, "solved").await;

    // Bad values are named, and write nothing.
    for (body, field) in [
        (json!({"email": ANN}), "rating"),
        (json!({"email": ANN, "rating": 0}), "rating"),
        (json!({"email": ANN, "rating": 6}), "rating"),
        (json!({"email": ANN, "rating": "5"}), "rating"),
        (json!({"email": ANN, "rating": 4.5}), "rating"),
        (
            json!({"email": ANN, "rating": 4, "comment": "x".repeat(1001)}),
            "comment",
        ),
        (json!({"email": ANN, "rating": 4, "comment": 7}), "comment"),
        (
            json!({"email": ANN, "rating": 4, "comment": "  "}),
            "comment",
        ),
        (json!({"rating": 4}), "email"),
    ] {
        app.post(&path, Some(&ann), &body).await.bad_field(field);
    }
    app.post(&path, None, &json!({"email": ANN, "rating": 4}))
        .await
        .err(401, "unauthorized");
    // Someone else's, and ids never issued, are not found.
    app.post(&path, Some(&bob), &json!({"email": BOB, "rating": 1}))
        .await
        .err(404, "not_found");
    for unknown in [
        "TKT-404",
        "chat-00000000-0000-7000-8000-000000000000",
        "nope",
    ] {
        app.post(
            &rating_path(unknown),
            Some(&ann),
            &json!({"email": ANN, "rating": 3}),
        )
        .await
        .err(404, "not_found");
    }
    let conversation = agent_path(Endpoint::AgentConversation, &chat);
    assert_eq!(
        app.agent_get(&conversation, &agent).await.ok()["rating"],
        Value::Null
    );

    // Rated (the wrapped body shape), at most 1,000 characters of comment.
    let comment = "é".repeat(999) + "!";
    let rated = app
        .post(
            &path,
            Some(&ann),
            &json!({"data": {"email": ANN, "rating": 4, "comment": comment}}),
        )
        .await;
    let given = rated.ok()["rating"].clone();
    assert_eq!(rated.ok()["conversationId"], chat);
    assert_eq!(
        (&given["rating"], &given["comment"]),
        (&json!(4), &json!(comment))
    );
    let rated_at = given["ratedAt"].as_i64().unwrap();

    // Agents see it on the conversation and in the solved inbox; Ann on her list.
    assert_eq!(
        app.agent_get(&conversation, &agent).await.ok()["rating"],
        given
    );
    let inbox = app
        .agent_get(&format!("{INBOX}?kind=chat&status=solved"), &agent)
        .await;
    assert_eq!(inbox.ok()["conversations"][0]["rating"], given);
    let list = app
        .get(&format!("{CONVERSATIONS}?kind=chat"), Some(&ann), ANN)
        .await;
    assert_eq!(list.ok()["conversations"][0]["rating"], given);

    // The same rating again changes nothing; another one, within the day, overwrites.
    let again = app
        .post(
            &path,
            Some(&ann),
            &json!({"email": ANN, "rating": 4, "comment": comment}),
        )
        .await;
    assert_eq!(again.ok()["rating"]["ratedAt"], rated_at);
    let changed = app
        .post(&path, Some(&ann), &json!({"email": ANN, "rating": 5}))
        .await;
    assert_eq!(
        (
            &changed.ok()["rating"]["rating"],
            &changed.ok()["rating"]["comment"]
        ),
        (&json!(5), &Value::Null)
    );
    let seen = app.agent_get(&conversation, &agent).await;
    assert_eq!(seen.ok()["rating"]["rating"], 5);
    assert_eq!(seen.ok()["rating"]["comment"], Value::Null);

    // Ann writes again: open, so no rating until it is solved again (the one given stays).
    app.post(
        LIVE_CHAT,
        Some(&ann),
        &json!({"chat_id": chat, "email": ANN, "message": "One more thing"}),
    )
    .await
    .ok();
    app.post(&path, Some(&ann), &json!({"email": ANN, "rating": 2}))
        .await
        .err(409, "conversation_not_solved");
    assert_eq!(
        app.agent_get(&conversation, &agent).await.ok()["rating"]["rating"],
        5
    );
    solve(&app, &agent, &chat, "solved").await;
    app.post(&path, Some(&ann), &json!({"email": ANN, "rating": 2}))
        .await
        .ok();
    // Closed is not solved.
    solve(&app, &agent, &chat, "closed").await;
    app.post(&path, Some(&ann), &json!({"email": ANN, "rating": 3}))
        .await
        .err(409, "conversation_not_solved");
    assert_eq!(
        app.agent_get(&conversation, &agent).await.ok()["rating"]["rating"],
        2
    );
}

/// The email may come in the `X-SupportZen-Email` header instead of the body (a
/// malformed one is refused naming the header, not taken for a missing email), and a
/// malformed `Idempotency-Key` is refused as on every write.
async fn the_email_may_come_in_the_header<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let ann = token(ANN_SECRET, ANN);
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let opened = app
        .post(
            TICKET_CREATE,
            Some(&ann),
            &create_body(ANN, "Charged twice"),
        )
        .await;
    let ticket = opened.ok()["ticketId"].as_str().unwrap().to_string();
    solve(&app, &agent, &ticket, "solved").await;
    let send = |key: &'static str| {
        app.raw(reqwest::Method::POST, &rating_path(&ticket))
            .header("Authorization", format!("Bearer {ann}"))
            .header("X-SupportZen-Email", ANN)
            .header("Idempotency-Key", key)
            .body(json!({"rating": 3}).to_string())
            .send()
    };
    let bad = Reply::read(send("bad key with spaces").await.unwrap()).await;
    bad.bad_field("Idempotency-Key");
    let malformed = app
        .raw(reqwest::Method::POST, &rating_path(&ticket))
        .header("Authorization", format!("Bearer {ann}"))
        .header("X-SupportZen-Email", "not-an-email")
        .body(json!({"rating": 3}).to_string())
        .send()
        .await
        .unwrap();
    Reply::read(malformed).await.bad_field("X-SupportZen-Email");
    let ok = Reply::read(send("9f0c6a52-rating").await.unwrap()).await;
    assert_eq!(ok.ok()["rating"]["rating"], 3);
}

for_each_store!(
    a_solved_conversation_is_rated_once_and_agents_see_it,
    the_email_may_come_in_the_header,
);
