//! DynamoDB round trips per request, counted at the store's HTTP client (`aws_http::Watch`)
//! on DynamoDB Local.
//! Budget: live-create ≤ 2, live-chat ≤ 2, ticket-create ≤ 3, ticket-append ≤ 2, with or
//! without an idempotency key; each read route's page: the authentication read + 1 query.
//! Agents (no authentication read: API Gateway verified their token): an inbox page is
//! one query per shard, sent at once; a conversation 1 read, its messages 1 read + a
//! query for messages and one for notes; a reply or status change 1 read + 1 write; an
//! assignment 1 write; a read mark 1 read + a query + 1 write (the customer's read is
//! the user with the conversation), none when it does not move; finding a customer 2
//! queries sent at once (the profile, and one page of the by-owner index). A customer's
//! rating is the user with the conversation + 1 write; an unsubscribe link's form post
//! 1 write, its page none.
//! The tests pin the exact calls, which are the access-pattern table in docs/data-model.md.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use std::time::Duration;
use supportzen_shared::Config;
use supportzen_shared::auth::Secret;
use supportzen_shared::domain::Email;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::dynamo::items::InboxShards;
use supportzen_shared::http::handlers::{
    agent_assign, agent_conversation, agent_customer, agent_inbox, agent_messages, agent_read,
    agent_reply, agent_status, conversation_messages, conversation_rating, conversation_read,
    conversations_list, live_chat, live_create, ticket_append, ticket_create, unsubscribe,
};
use supportzen_shared::http::with_route_parameters;
use supportzen_shared::store::NoFiles;
use supportzen_shared::store::UserProvisioner;
use supportzen_tests::dynamo::{RoundTrips, fresh_dynamo_store};
use supportzen_tests::{create_body, token};

fn request(token: &str, body: &Value) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn keyed(token: &str, key: &str, body: &Value) -> Request {
    let mut request = request(token, body);
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

fn data(response: Response<Body>) -> Value {
    assert_eq!(response.status(), 200, "{:?}", response.body());
    serde_json::from_slice::<Value>(response.body().as_ref()).unwrap()["data"].clone()
}

const EMAIL: &str = "ann@example.com";

/// A fresh table holding one provisioned user, with the round-trip record cleared.
async fn provisioned_store() -> (DynamoStore, RoundTrips) {
    let (store, trips) = fresh_dynamo_store().await;
    let user = Email::parse(EMAIL).unwrap();
    store
        .put_secret(
            user.user_id(),
            &Secret::parse("s3cret").unwrap(),
            Duration::ZERO,
        )
        .await
        .unwrap();
    trips.take();
    (store, trips)
}

#[tokio::test]
async fn each_endpoint_stays_within_its_round_trip_budget() {
    let (store, trips) = provisioned_store().await;
    // As in production: each customer message also sets the agents' notice (an unread
    // message's email), in the same transaction.
    let config = Config {
        unread_email_after: Some(supportzen_shared::config::DEFAULT_UNREAD_EMAIL_AFTER),
        ..Config::default()
    };
    let token = token("s3cret", EMAIL);

    let chat = data(
        live_create(
            &store,
            &NoFiles,
            &config,
            request(&token, &create_body(EMAIL, "hi")),
        )
        .await,
    );
    let calls = trips.take();
    assert_eq!(calls, ["GetItem", "TransactWriteItems"], "live-create");

    let body = json!({"chat_id": chat["chatId"], "email": EMAIL, "message": "more"});
    data(live_chat(&store, &NoFiles, &config, request(&token, &body)).await);
    let calls = trips.take();
    assert!(calls.len() <= 2);
    assert_eq!(calls, ["GetItem", "TransactWriteItems"], "live-chat");

    let ticket = data(
        ticket_create(
            &store,
            &NoFiles,
            &config,
            request(&token, &create_body(EMAIL, "help")),
        )
        .await,
    );
    let calls = trips.take();
    assert!(calls.len() <= 3);
    assert_eq!(
        calls,
        ["GetItem", "UpdateItem", "TransactWriteItems"],
        "ticket-create"
    );

    let body = json!({"ticket_id": ticket["ticketId"], "email": EMAIL, "message": "more"});
    data(ticket_append(&store, &NoFiles, &config, request(&token, &body)).await);
    assert_eq!(
        trips.take(),
        ["GetItem", "TransactWriteItems"],
        "ticket-append"
    );

    // A first-time user is created inside the same transaction: still two.
    let stranger = "ab".repeat(32);
    data(
        live_create(
            &store,
            &NoFiles,
            &config,
            request(&stranger, &create_body("new@example.com", "hi")),
        )
        .await,
    );
    assert_eq!(
        trips.take(),
        ["GetItem", "TransactWriteItems"],
        "live-create, first use"
    );
    // Those transactions did set the agents' notices: one per conversation.
    use supportzen_shared::store::{Due, DueWork};
    let due = store
        .due(supportzen_shared::domain::now_millis() + 400_000, 10)
        .await
        .unwrap();
    let notices = due
        .iter()
        .filter(|item| matches!(item, Due::UnreadMessages { .. }))
        .count();
    assert_eq!(notices, 3, "{due:?}");
}

/// A GET as API Gateway hands it over: path and query parameters already parsed.
fn read_request(token: &str, path_and_query: &str, id: Option<&str>) -> Request {
    let request = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("https://api.example.com{path_and_query}"))
        .header("authorization", format!("Bearer {token}"))
        .header("x-supportzen-email", EMAIL)
        .body(Body::Empty)
        .unwrap();
    let path = id
        .map(|id| vec![("id", id.to_string())])
        .unwrap_or_default();
    with_route_parameters(request, path)
}

#[tokio::test]
async fn each_read_page_is_one_query_after_the_authentication_read() {
    let (store, trips) = provisioned_store().await;
    let config = Config::default();
    let token = token("s3cret", EMAIL);
    let ticket = data(
        ticket_create(
            &store,
            &NoFiles,
            &config,
            request(&token, &create_body(EMAIL, "help")),
        )
        .await,
    );
    let id = ticket["ticketId"].as_str().unwrap();
    for n in 0..5 {
        let body = json!({"ticket_id": id, "email": EMAIL, "message": format!("more {n}")});
        data(ticket_append(&store, &NoFiles, &config, request(&token, &body)).await);
    }
    trips.take();

    let list = conversations_list(
        &store,
        &config,
        read_request(
            &token,
            "/api/client/conversations?kind=ticket&limit=1",
            None,
        ),
    )
    .await;
    assert_eq!(data(list)["conversations"][0]["conversationId"], id);
    assert_eq!(trips.take(), ["GetItem", "Query"], "conversations-list");

    let path = format!("/api/client/conversations/{id}/messages?limit=2");
    let page = data(
        conversation_messages(
            &store,
            &NoFiles,
            &config,
            read_request(&token, &path, Some(id)),
        )
        .await,
    );
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "Query"],
        "conversation-messages"
    );
    let before = page["nextCursor"].as_str().unwrap();
    let path = format!("/api/client/conversations/{id}/messages?limit=2&before={before}");
    data(
        conversation_messages(
            &store,
            &NoFiles,
            &config,
            read_request(&token, &path, Some(id)),
        )
        .await,
    );
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "Query"],
        "conversation-messages, next page"
    );
}

#[tokio::test]
async fn rejected_requests_cost_at_most_the_lookup() {
    let (store, trips) = provisioned_store().await;
    let config = Config::default();

    let invalid = json!({"email": EMAIL, "message": "no created_at"});
    let response = ticket_create(
        &store,
        &NoFiles,
        &config,
        request(&token("s3cret", EMAIL), &invalid),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(
        trips.take().is_empty(),
        "invalid input never reaches DynamoDB"
    );

    let forged = token("guess", EMAIL);
    let response = ticket_create(
        &store,
        &NoFiles,
        &config,
        request(&forged, &create_body(EMAIL, "hi")),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        trips.take(),
        ["GetItem"],
        "a forged token costs one read and no ticket number"
    );
}

/// An idempotency key reads its receipt with the user and writes it in the transaction:
/// the same number of calls. A retry answered from the receipt costs the one read.
#[tokio::test]
async fn an_idempotency_key_costs_no_extra_round_trip() {
    let (store, trips) = provisioned_store().await;
    let config = Config::default();
    let token = token("s3cret", EMAIL);
    let create = create_body(EMAIL, "hi");

    let chat = data(live_create(&store, &NoFiles, &config, keyed(&token, "a", &create)).await);
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "live-create"
    );
    data(live_create(&store, &NoFiles, &config, keyed(&token, "a", &create)).await);
    assert_eq!(trips.take(), ["BatchGetItem"], "live-create, retried");

    let body = json!({"chat_id": chat["chatId"], "email": EMAIL, "message": "more"});
    data(live_chat(&store, &NoFiles, &config, keyed(&token, "b", &body)).await);
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "live-chat"
    );
    data(live_chat(&store, &NoFiles, &config, keyed(&token, "b", &body)).await);
    assert_eq!(trips.take(), ["BatchGetItem"], "live-chat, retried");

    let help = create_body(EMAIL, "help");
    let ticket = data(ticket_create(&store, &NoFiles, &config, keyed(&token, "c", &help)).await);
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "UpdateItem", "TransactWriteItems"],
        "ticket-create"
    );
    data(ticket_create(&store, &NoFiles, &config, keyed(&token, "c", &help)).await);
    assert_eq!(
        trips.take(),
        ["BatchGetItem"],
        "ticket-create, retried: no ticket number"
    );

    let body = json!({"ticket_id": ticket["ticketId"], "email": EMAIL, "message": "more"});
    data(ticket_append(&store, &NoFiles, &config, keyed(&token, "d", &body)).await);
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "ticket-append"
    );
    data(ticket_append(&store, &NoFiles, &config, keyed(&token, "d", &body)).await);
    assert_eq!(trips.take(), ["BatchGetItem"], "ticket-append, retried");
}

/// An agent's request as API Gateway hands it over after its JWT authorizer: the
/// verified claims in the request context, path and query parameters parsed.
fn agent_request(method: &str, path_and_query: &str, id: Option<&str>, body: Value) -> Request {
    use lambda_http::RequestExt;
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
        ApiGatewayV2httpRequestContext,
    };
    let request = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{path_and_query}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = [("sub", "agent-7"), ("scope", "agent.read agent.write")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    let request =
        request.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
    let path = id
        .map(|id| vec![("id", id.to_string())])
        .unwrap_or_default();
    with_route_parameters(request, path)
}

#[tokio::test]
async fn each_agent_route_stays_within_its_round_trip_budget() {
    let (store, trips) = provisioned_store().await;
    let token = token("s3cret", EMAIL);
    let created = live_create(
        &store,
        &NoFiles,
        &Config::default(),
        request(&token, &create_body(EMAIL, "hi")),
    )
    .await;
    let chat = data(created)["chatId"].as_str().unwrap().to_string();
    let id = Some(chat.as_str());
    let base = format!("/api/agent/conversations/{chat}");
    trips.take();

    let inbox = agent_inbox(
        &store,
        agent_request(
            "GET",
            "/api/agent/conversations?kind=chat",
            None,
            Value::Null,
        ),
    )
    .await;
    assert_eq!(
        data(inbox)["conversations"][0]["conversationId"],
        chat.as_str()
    );
    assert_eq!(
        trips.take(),
        ["Query"],
        "agent-inbox: one query (one inbox partition per kind, the default)"
    );

    data(agent_conversation(&store, agent_request("GET", &base, id, Value::Null)).await);
    assert_eq!(trips.take(), ["GetItem"], "agent-conversation");

    let customer = agent_customer(
        &store,
        agent_request(
            "GET",
            "/api/agent/customers?email=Ann%40Example.com&kind=chat",
            None,
            Value::Null,
        ),
    )
    .await;
    let found = data(customer);
    assert_eq!(found["conversations"][0]["conversationId"], chat.as_str());
    assert_eq!(found["name"], "Premium Plan");
    assert_eq!(
        trips.take(),
        ["Query", "Query"],
        "agent-customer: the profile and one by-owner page, at once"
    );

    let path = format!("{base}/messages");
    let page = data(
        agent_messages(
            &store,
            &NoFiles,
            agent_request("GET", &path, id, Value::Null),
        )
        .await,
    );
    let first = page["messages"][0]["messageId"].clone();
    assert_eq!(
        trips.take(),
        ["GetItem", "Query", "Query"],
        "agent-messages"
    );

    for body in [
        json!({"message": "hello"}),
        json!({"message": "note", "internal": true}),
    ] {
        data(
            agent_reply(
                &store,
                &NoFiles,
                &Config::default(),
                agent_request("POST", &path, id, body),
            )
            .await,
        );
        assert_eq!(
            trips.take(),
            ["GetItem", "TransactWriteItems"],
            "agent-reply"
        );
    }

    let path = format!("{base}/status");
    data(
        agent_status(
            &store,
            agent_request("POST", &path, id, json!({"status": "solved"})),
        )
        .await,
    );
    assert_eq!(trips.take(), ["GetItem", "UpdateItem"], "agent-status");

    // The customer rates the solved chat: the user with the conversation, one write.
    let body = json!({"email": EMAIL, "rating": 5});
    let rated = with_route_parameters(request(&token, &body), vec![("id", chat.clone())]);
    let rated = data(conversation_rating(&store, &Config::default(), rated).await);
    assert_eq!(rated["rating"]["rating"], 5);
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "UpdateItem"],
        "conversation-rating"
    );

    let path = format!("{base}/assign");
    data(
        agent_assign(
            &store,
            agent_request("POST", &path, id, json!({"assignee": "agent-7"})),
        )
        .await,
    );
    assert_eq!(trips.take(), ["UpdateItem"], "agent-assign");

    // Read marks: the conversation, a query of the messages from the mark on (to count
    // the other side's after it), the conditional write; a mark that does not move
    // writes nothing.
    let path = format!("{base}/read");
    for (calls, what) in [
        (vec!["GetItem", "Query", "UpdateItem"], "agent-read"),
        (vec!["GetItem", "Query"], "agent-read, again"),
    ] {
        let body = json!({"up_to": first});
        data(agent_read(&store, agent_request("POST", &path, id, body)).await);
        assert_eq!(trips.take(), calls, "{what}");
    }
    let reply = page["messages"].as_array().unwrap().len();
    assert_eq!(reply, 1, "the customer's first message only, so far");
    let page = data(
        agent_messages(
            &store,
            &NoFiles,
            agent_request("GET", &format!("{base}/messages"), id, Value::Null),
        )
        .await,
    );
    trips.take();
    let answer = page["messages"][1]["messageId"].clone();
    let body = json!({"up_to": answer, "email": EMAIL});
    let marked = with_route_parameters(request(&token, &body), vec![("id", chat.clone())]);
    let marked = data(conversation_read(&store, &Config::default(), marked).await);
    assert_eq!(marked["unread"], 0);
    assert_eq!(
        trips.take(),
        ["BatchGetItem", "Query", "UpdateItem"],
        "conversation-read: the user with the conversation, the count, the write"
    );
}

/// With the inbox over four partitions per kind, a page is a query per shard, at most
/// two at a time: a cold container opens at most two connections for it.
#[tokio::test]
async fn an_inbox_over_four_shards_queries_each_two_at_a_time() {
    let (store, trips) = provisioned_store().await;
    let store = store.with_inbox_shards(InboxShards::parse("4").unwrap());
    let token = token("s3cret", EMAIL);
    let created = live_create(
        &store,
        &NoFiles,
        &Config::default(),
        request(&token, &create_body(EMAIL, "hi")),
    )
    .await;
    let chat = data(created)["chatId"].as_str().unwrap().to_string();
    trips.take();
    trips.take_peak();
    let inbox = agent_inbox(
        &store,
        agent_request(
            "GET",
            "/api/agent/conversations?kind=chat",
            None,
            Value::Null,
        ),
    )
    .await;
    assert_eq!(data(inbox)["conversations"][0]["conversationId"], chat);
    assert_eq!(trips.take(), ["Query"; 4], "one query per shard");
    let peak = trips.take_peak();
    assert!(peak <= 2, "{peak} queries in flight at once: two at most");
}

/// A customer past their minute's messages gets 429 with `Retry-After`, from the same
/// two round trips a send costs: the count is in the message's transaction.
#[tokio::test]
async fn a_send_past_the_limit_is_a_429_for_no_extra_round_trip() {
    let (store, trips) = provisioned_store().await;
    let limit = supportzen_shared::store::MessageLimit::parse("1").unwrap();
    let store = store.with_message_limit(limit);
    let config = Config::default();
    let token = token("s3cret", EMAIL);
    // The conversation's first message is the minute's one.
    let created = live_create(
        &store,
        &NoFiles,
        &config,
        request(&token, &create_body(EMAIL, "hi")),
    )
    .await;
    let chat = data(created)["chatId"].clone();
    let body = json!({"chat_id": chat, "email": EMAIL, "message": "more"});
    for _ in 0..2 {
        trips.take();
        let answer = live_chat(&store, &NoFiles, &config, request(&token, &body)).await;
        if answer.status() == 200 {
            // The minute ended between the two writes: this one was the next minute's.
            continue;
        }
        assert_eq!(answer.status(), 429, "{:?}", answer.body());
        let wait: u64 = answer.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let error: Value = serde_json::from_slice(answer.body().as_ref()).unwrap();
        assert_eq!(error["error"]["code"], "too_many_messages", "{error}");
        assert_eq!(trips.take(), ["GetItem", "TransactWriteItems"]);
        return;
    }
    panic!("neither send past the limit was refused");
}

/// A new email's first request past its address's hour of new accounts gets 429 with
/// `Retry-After`, from the same two round trips: the count is in the create's transaction.
#[tokio::test]
async fn a_new_account_past_its_address_limit_is_a_429_for_no_extra_round_trip() {
    let (store, trips) = fresh_dynamo_store().await;
    let limit = supportzen_shared::store::AccountLimit::parse("1").unwrap();
    let store = store.with_account_limit(limit);
    let config = Config::default();
    let from = |email: &str, address: &str| {
        use lambda_http::RequestExt;
        let mut context =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(address.to_string());
        request(&token("first-token", email), &create_body(email, "hi"))
            .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context))
    };
    data(
        live_create(
            &store,
            &NoFiles,
            &config,
            from("one@example.com", "198.51.100.1"),
        )
        .await,
    );
    // The next new email from there is refused, unless the hour ended in between: then
    // the one after it is.
    let mut refused = None;
    for newcomer in ["two@example.com", "three@example.com"] {
        trips.take();
        let answer = live_create(&store, &NoFiles, &config, from(newcomer, "198.51.100.1")).await;
        if answer.status() != 200 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("a second new email from one address in an hour is refused");
    assert_eq!(refused.status(), 429, "{:?}", refused.body());
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    let error: Value = serde_json::from_slice(refused.body().as_ref()).unwrap();
    assert_eq!(error["error"]["code"], "too_many_new_accounts", "{error}");
    assert_eq!(trips.take(), ["GetItem", "TransactWriteItems"]);
    // From another address the same email is welcome.
    data(
        live_create(
            &store,
            &NoFiles,
            &config,
            from("two@example.com", "198.51.100.2"),
        )
        .await,
    );
}

/// The unsubscribe link: its page (GET) reads and writes nothing; the form's post is one
/// write, with no authentication read (the token is the proof).
#[tokio::test]
async fn unsubscribing_is_one_write_and_its_page_none() {
    let (store, trips) = provisioned_store().await;
    let key = supportzen_shared::domain::UnsubscribeKey::new(&"k".repeat(32)).unwrap();
    let user = Email::parse(EMAIL).unwrap();
    let link = format!(
        "/api/client/unsubscribe?token={}",
        key.token(user.user_id())
    );
    let config = Config {
        unsubscribe_key: Some(key),
        ..Config::default()
    };
    for (method, calls) in [("GET", vec![]), ("POST", vec!["UpdateItem"])] {
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{link}"))
            .body(Body::Empty)
            .unwrap();
        let request = with_route_parameters(request, vec![]);
        let answered = unsubscribe(&store, &config, request).await;
        assert_eq!(answered.status(), 200, "{method}: {:?}", answered.body());
        assert_eq!(trips.take(), calls, "unsubscribe, {method}");
    }
    assert!(
        supportzen_shared::store::EmailPreferences::unsubscribed(&store, user.user_id())
            .await
            .unwrap()
    );
}
