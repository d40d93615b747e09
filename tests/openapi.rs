//! docs/openapi.json is the published contract; this checks it against the code that
//! actually runs: the routes, every field the parser reads (by driving the parser with
//! bodies derived from the document), the field limits, and the success payloads.

use serde_json::{Value, json};
use supportzen_shared::ApiError;
use supportzen_shared::domain::{
    ChatId, MAX_CLIENT_MESSAGE_ID_CHARS, MAX_CONVERSATION_KEY_CHARS, MAX_EMAIL_CHARS,
    MAX_IMAGE_URL_CHARS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, TicketId,
};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::flows::read::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use supportzen_shared::http::query::EMAIL_HEADER;
use supportzen_shared::http::request::{
    CreateConversation, CustomerBody, IDEMPOTENCY_KEY_HEADER, SendMessage,
};
use supportzen_shared::http::response::REPLAYED_HEADER;
use supportzen_shared::idempotency::{IdempotencyKey, MAX_IDEMPOTENCY_KEY_CHARS};
use supportzen_sqlite::SqliteStore;
use supportzen_tests::{
    CONVERSATIONS, LIVE_CHAT, LIVE_CREATE, TICKET_APPEND, TICKET_CREATE, TestApp, create_body,
    messages_path, token,
};

fn document() -> Value {
    let path = format!("{}/../docs/openapi.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// Parses `body` as `route` does; `Err(Some(field))` names the field at fault.
fn parse(route: &str, body: &Value) -> Result<(), Option<&'static str>> {
    let bytes = body.to_string().into_bytes();
    let result = match route {
        LIVE_CREATE | TICKET_CREATE => CreateConversation::parse(&bytes).map(|_| ()),
        LIVE_CHAT => SendMessage::<ChatId>::parse(&bytes).map(|_| ()),
        _ => SendMessage::<TicketId>::parse(&bytes).map(|_| ()),
    };
    result.map_err(|e| match e {
        ApiError::InvalidField { field, .. } => Some(field),
        _ => None,
    })
}

fn valid_body(route: &str) -> Value {
    let mut body = json!({"email": "ann@example.com", "message": "hi", "image_url": "https://example.com/a.png"});
    match route {
        LIVE_CREATE | TICKET_CREATE => body = create_body("ann@example.com", "hi"),
        LIVE_CHAT => body["chat_id"] = json!(ChatId::generate().as_str()),
        _ => body["ticket_id"] = json!("TKT-001"),
    }
    body
}

#[test]
fn the_documented_routes_are_the_routes() {
    let doc = document();
    let documented: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let routes: Vec<String> = Endpoint::ALL.iter().map(|e| e.path().to_string()).collect();
    assert_eq!(documented, routes.iter().collect::<Vec<_>>());
    for endpoint in Endpoint::ALL {
        let methods: Vec<&String> = doc["paths"][endpoint.path()]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            methods,
            [&endpoint.method().to_lowercase()],
            "{}",
            endpoint.path()
        );
    }
}

#[test]
fn every_documented_field_is_the_field_the_parser_reads() {
    let doc = document();
    for route in [LIVE_CREATE, LIVE_CHAT, TICKET_CREATE, TICKET_APPEND] {
        let reference = doc["paths"][route]["post"]["requestBody"]["content"]["application/json"]["schema"]["anyOf"][0]["$ref"]
            .as_str()
            .unwrap();
        let fields = schema(&doc, reference.rsplit('/').next().unwrap());
        let required: Vec<&str> = fields["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let valid = valid_body(route);
        assert_eq!(parse(route, &valid), Ok(()), "{route}");
        assert_eq!(
            parse(route, &json!({ "data": valid })),
            Ok(()),
            "{route}, wrapped"
        );
        for (name, _) in fields["properties"].as_object().unwrap() {
            // A value of the wrong type for every field: the parser must blame this field.
            let mut wrong = valid.clone();
            wrong[name.as_str()] = json!([1, 2]);
            assert_eq!(
                parse(route, &wrong),
                Err(Some(name.as_str())),
                "{route}: {name}"
            );
            let mut absent = valid.clone();
            absent.as_object_mut().unwrap().remove(name);
            if required.contains(&name.as_str()) {
                assert_eq!(
                    parse(route, &absent),
                    Err(Some(name.as_str())),
                    "{route}: {name} is required"
                );
            } else {
                assert_eq!(parse(route, &absent), Ok(()), "{route}: {name} is optional");
            }
        }
    }
}

#[test]
fn the_documented_limits_are_the_enforced_ones() {
    let doc = document();
    let create = &schema(&doc, "CreateFields")["properties"];
    assert_eq!(create["email"]["maxLength"], MAX_EMAIL_CHARS);
    assert_eq!(create["name"]["maxLength"], MAX_NAME_CHARS);
    assert_eq!(create["message"]["maxLength"], MAX_MESSAGE_CHARS);
    assert_eq!(create["image_url"]["maxLength"], MAX_IMAGE_URL_CHARS);
    assert_eq!(
        create["client_message_id"]["maxLength"],
        MAX_CLIENT_MESSAGE_ID_CHARS
    );
    for (name, id) in [
        ("ChatMessageFields", "chat_id"),
        ("TicketMessageFields", "ticket_id"),
    ] {
        let fields = &schema(&doc, name)["properties"];
        assert_eq!(fields["message"]["maxLength"], MAX_MESSAGE_CHARS);
        assert_eq!(fields["image_url"]["maxLength"], MAX_IMAGE_URL_CHARS);
        assert_eq!(
            fields["client_message_id"]["maxLength"],
            MAX_CLIENT_MESSAGE_ID_CHARS
        );
        assert_eq!(fields[id]["maxLength"], MAX_CONVERSATION_KEY_CHARS);
    }
    let limit = &doc["components"]["parameters"]["Limit"]["schema"];
    assert_eq!(limit["maximum"], MAX_PAGE_SIZE);
    assert_eq!(limit["default"], DEFAULT_PAGE_SIZE);
    let email = &doc["components"]["parameters"]["Email"];
    assert!(
        email["name"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(EMAIL_HEADER)
    );
}

/// The documented `Idempotency-Key` is the header the handlers read, on every route, with
/// the limits the parser enforces; its documented pattern accepts exactly what the parser
/// accepts, over every single-byte key; 422 and `Idempotent-Replayed` are on every route.
#[test]
fn the_documented_idempotency_key_is_the_one_enforced() {
    let doc = document();
    let key = &doc["components"]["parameters"]["IdempotencyKey"];
    assert_eq!(key["in"], "header");
    assert!(
        key["name"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(IDEMPOTENCY_KEY_HEADER)
    );
    assert_eq!(key["schema"]["maxLength"], MAX_IDEMPOTENCY_KEY_CHARS);
    assert_eq!(key["schema"]["minLength"], 1);
    assert_eq!(key["schema"]["pattern"], "^[!-~]+$");
    for byte in 0..=255u8 {
        let text = String::from_utf8_lossy(&[byte]).into_owned();
        let documented = (b'!'..=b'~').contains(&byte);
        assert_eq!(
            IdempotencyKey::parse(&text).is_ok(),
            documented,
            "byte {byte}"
        );
    }
    for function in Endpoint::ALL.iter().filter(|e| e.method() == "POST") {
        let post = &doc["paths"][function.path()]["post"];
        assert_eq!(
            post["parameters"][0]["$ref"],
            "#/components/parameters/IdempotencyKey",
            "{}",
            function.path()
        );
        assert!(post["responses"]["422"].is_object());
        let replayed = post["responses"]["200"]["headers"]
            .as_object()
            .unwrap()
            .keys()
            .any(|name| name.eq_ignore_ascii_case(REPLAYED_HEADER));
        assert!(replayed, "{}", function.path());
    }
}

#[tokio::test]
async fn responses_carry_the_documented_data_and_the_document_is_served() {
    let doc = document();
    let app = TestApp::<SqliteStore>::spawn().await;
    app.provision("ann@example.com", "s3cret").await;
    let bearer = token("s3cret", "ann@example.com");
    let chat = app
        .post(
            LIVE_CREATE,
            Some(&bearer),
            &create_body("ann@example.com", "hi"),
        )
        .await;
    let ticket = app
        .post(
            TICKET_CREATE,
            Some(&bearer),
            &create_body("ann@example.com", "hi"),
        )
        .await;
    let sent = app
        .post(
            LIVE_CHAT,
            Some(&bearer),
            &json!({"chat_id": chat.ok()["chatId"], "email": "ann@example.com", "message": "m"}),
        )
        .await;
    let appended = app
        .post(TICKET_APPEND, Some(&bearer), &json!({"ticket_id": ticket.ok()["ticketId"], "email": "ann@example.com", "message": "m"}))
        .await;
    for (route, reply) in [
        (LIVE_CREATE, &chat),
        (TICKET_CREATE, &ticket),
        (LIVE_CHAT, &sent),
        (TICKET_APPEND, &appended),
    ] {
        let documented = &doc["paths"][route]["post"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["properties"]["data"]["required"];
        let keys: Vec<Value> = reply
            .ok()
            .as_object()
            .unwrap()
            .keys()
            .map(|k| json!(k))
            .collect();
        assert_eq!(&Value::from(keys), documented, "{route}");
    }

    // The read routes' data, with a conversation listed and a message read.
    let ticket_id = ticket.ok()["ticketId"].as_str().unwrap().to_string();
    let listed = app
        .get(
            &format!("{CONVERSATIONS}?kind=ticket"),
            Some(&bearer),
            "ann@example.com",
        )
        .await;
    let read = app
        .get(&messages_path(&ticket_id), Some(&bearer), "ann@example.com")
        .await;
    for (route, reply, item, items) in [
        (
            CONVERSATIONS,
            &listed,
            "ConversationSummary",
            "conversations",
        ),
        (
            "/api/client/conversations/{id}/messages",
            &read,
            "Message",
            "messages",
        ),
    ] {
        let documented = &doc["paths"][route]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["properties"]["data"]["required"];
        let data = reply.ok();
        let keys: Vec<Value> = data.as_object().unwrap().keys().map(|k| json!(k)).collect();
        assert_eq!(&Value::from(keys), documented, "{route}");
        let first: Vec<Value> = data[items][0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| json!(k))
            .collect();
        assert_eq!(
            Value::from(first),
            schema(&doc, item)["required"],
            "{route}: {item}"
        );
    }

    let served = app.request(reqwest::Method::GET, "/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "application/json");
    assert_eq!(served.body, doc);
}
