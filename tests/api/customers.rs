//! Finding a customer over HTTP, on both stores: `GET /api/agent/customers?email=` gives
//! the profile the customer's create requests described and their conversations of one
//! kind, newest activity first, a page at a time; the email is looked up as users are
//! stored (trimmed, lower-cased). An email that names no user is a 404; a user with no
//! conversation of the kind is their profile and an empty page.

use serde_json::{Value, json};
use supportzen_shared::domain::Scope;
use supportzen_shared::endpoint::Endpoint;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";
const CUSTOMERS: &str = Endpoint::AgentCustomer.path();

fn ids(data: &Value) -> Vec<String> {
    data["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap().to_string())
        .collect()
}

async fn open<S: TestStore>(
    app: &TestApp<S>,
    path: &str,
    token: &str,
    email: &str,
    n: usize,
) -> String {
    let reply = app
        .post(
            path,
            Some(token),
            &create_body(email, &format!("number {n}")),
        )
        .await;
    let data = reply.ok();
    data.get("ticketId")
        .or_else(|| data.get("chatId"))
        .and_then(Value::as_str)
        .unwrap()
        .to_string()
}

async fn an_agent_finds_a_customer_by_email_with_their_profile_and_conversations<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    let (ann, bob) = (token(ANN_SECRET, ANN), token(BOB_SECRET, BOB));
    let agent = app.agent_token("agent-7", &[Scope::Read]);
    let mut tickets = Vec::new();
    for n in 1..=3 {
        tickets.push(open(&app, TICKET_CREATE, &ann, ANN, n).await);
    }
    let mut chats = Vec::new();
    for n in 1..=2 {
        chats.push(open(&app, LIVE_CREATE, &ann, ANN, n).await);
    }
    let bobs = open(&app, TICKET_CREATE, &bob, BOB, 1).await;

    // Asked for in another case, with spaces around: found as stored.
    let first = app
        .agent_get(
            &format!("{CUSTOMERS}?email=%20Ann%40Example.COM%20&kind=ticket&limit=2"),
            &agent,
        )
        .await;
    let data = first.ok().clone();
    assert_eq!(data["email"], ANN);
    // create_body's profile: the seeds' name, plan_id and created_at (seconds, given in ms).
    assert_eq!(
        (&data["name"], &data["planId"], &data["accountCreatedAt"]),
        (
            &json!("Premium Plan"),
            &json!(5),
            &json!(1_679_223_400_000_i64)
        )
    );
    assert!(data["firstSeenAt"].as_i64().unwrap() > 1_679_223_400_000);
    assert!(data.get("secret").is_none() && data.get("pin").is_none());
    // Newest activity first, two a page, then the rest: Ann's tickets once each.
    assert_eq!(ids(&data), [tickets[2].as_str(), tickets[1].as_str()]);
    assert_eq!(data["hasMore"], true);
    for listed in data["conversations"].as_array().unwrap() {
        assert_eq!(
            (&listed["customer"], &listed["kind"]),
            (&json!(ANN), &json!("ticket"))
        );
    }
    let cursor = data["nextCursor"].as_str().unwrap();
    let second = app
        .agent_get(
            &format!("{CUSTOMERS}?email={ANN}&kind=ticket&limit=2&cursor={cursor}"),
            &agent,
        )
        .await;
    let rest = second.ok();
    assert_eq!(ids(rest), [tickets[0].as_str()]);
    assert_eq!(
        (&rest["hasMore"], &rest["nextCursor"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(
        rest["name"], "Premium Plan",
        "every page carries the profile"
    );

    // A customer's message moves its conversation to the top; Bob's never show.
    app.post(
        TICKET_APPEND,
        Some(&ann),
        &json!({"ticket_id": tickets[0], "email": ANN, "message": "Any news?"}),
    )
    .await
    .ok();
    let all = app
        .agent_get(&format!("{CUSTOMERS}?email={ANN}&kind=ticket"), &agent)
        .await;
    assert_eq!(
        ids(all.ok()),
        [
            tickets[0].as_str(),
            tickets[2].as_str(),
            tickets[1].as_str()
        ]
    );
    assert!(!ids(all.ok()).contains(&bobs));
    let their_chats = app
        .agent_get(&format!("{CUSTOMERS}?email={ANN}&kind=chat"), &agent)
        .await;
    assert_eq!(
        ids(their_chats.ok()),
        [chats[1].as_str(), chats[0].as_str()]
    );

    // A user with no conversation (provisioned, never wrote): a profile with nothing in
    // it, and an empty page.
    app.provision("carol@example.com", "carol-secret").await;
    let carol = app
        .agent_get(
            &format!("{CUSTOMERS}?email=carol@example.com&kind=chat"),
            &agent,
        )
        .await;
    let carol = carol.ok();
    assert_eq!(
        (
            &carol["email"],
            &carol["name"],
            &carol["planId"],
            &carol["accountCreatedAt"]
        ),
        (
            &json!("carol@example.com"),
            &Value::Null,
            &Value::Null,
            &Value::Null
        )
    );
    assert!(ids(carol).is_empty());
    assert_eq!(carol["hasMore"], false);

    // An email nobody has: 404, naming the customer.
    let nobody = app
        .agent_get(
            &format!("{CUSTOMERS}?email=nobody@example.com&kind=chat"),
            &agent,
        )
        .await;
    assert_eq!(
        nobody.err(404, "not_found")["message"],
        "customer not found"
    );
}

async fn bad_requests_name_the_field_and_customers_tokens_are_refused<S: TestStore>() {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    let ann = token(ANN_SECRET, ANN);
    app.post(TICKET_CREATE, Some(&ann), &create_body(ANN, "hello"))
        .await
        .ok();
    let chat = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, "hello"))
        .await
        .ok()["chatId"]
        .as_str()
        .unwrap()
        .to_string();
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let chat_cursor = app
        .agent_get(
            &format!("{CUSTOMERS}?email={ANN}&kind=chat&limit=1"),
            &agent,
        )
        .await;
    assert_eq!(ids(chat_cursor.ok()), [chat.as_str()]);

    let cases: Vec<(String, &str)> = vec![
        ("kind=chat".to_string(), "email"),
        ("email=&kind=chat".to_string(), "email"),
        ("email=ann&kind=chat".to_string(), "email"),
        ("email=ann%40localhost&kind=chat".to_string(), "email"),
        (
            "email=Ann%20%3Cann%40example.com%3E&kind=chat".to_string(),
            "email",
        ),
        (format!("email={ANN}&email={ANN}&kind=chat"), "email"),
        (format!("email={ANN}"), "kind"),
        (format!("email={ANN}&kind=note"), "kind"),
        (format!("email={ANN}&kind=chat&limit=0"), "limit"),
        (format!("email={ANN}&kind=chat&limit=101"), "limit"),
        (format!("email={ANN}&kind=chat&cursor=nonsense"), "cursor"),
    ];
    for (query, field) in cases {
        let reply = app.agent_get(&format!("{CUSTOMERS}?{query}"), &agent).await;
        assert_eq!(reply.err(400, "invalid_field")["field"], field, "{query}");
    }
    // A cursor from the chats is refused for the tickets.
    let two = app
        .post(LIVE_CREATE, Some(&ann), &create_body(ANN, "again"))
        .await;
    two.ok();
    let page = app
        .agent_get(
            &format!("{CUSTOMERS}?email={ANN}&kind=chat&limit=1"),
            &agent,
        )
        .await;
    let cursor = page.ok()["nextCursor"].as_str().unwrap().to_string();
    app.agent_get(
        &format!("{CUSTOMERS}?email={ANN}&kind=ticket&cursor={cursor}"),
        &agent,
    )
    .await
    .bad_field("cursor");

    // A customer's own token opens no agent route, and an agent needs agent.read.
    let path = format!("{CUSTOMERS}?email={ANN}&kind=chat");
    app.agent_get(&path, &ann).await.err(401, "unauthorized");
    let no_token = app.raw(reqwest::Method::GET, &path).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let writer = app.agent_token("agent-8", &[Scope::Write]);
    app.agent_get(&path, &writer).await.err(403, "forbidden");
}

for_each_store!(
    an_agent_finds_a_customer_by_email_with_their_profile_and_conversations,
    bad_requests_name_the_field_and_customers_tokens_are_refused,
);
