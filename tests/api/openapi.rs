//! docs/openapi.json is the published contract; this checks it against the code that
//! actually runs: the routes and their security, every field the parsers read (by driving
//! them with bodies derived from the document), the field limits and enumerations, the
//! error envelope, and the success payloads of customers' and agents' routes.

use lambda_http::RequestExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use supportzen_shared::ApiError;
use supportzen_shared::auth::AuthError;
use supportzen_shared::domain::{
    Agent, AgentId, Author, ChatId, DisplayName, Kind, MAX_AGENT_ID_CHARS,
    MAX_CLIENT_MESSAGE_ID_CHARS, MAX_CONVERSATION_KEY_CHARS, MAX_EMAIL_CHARS, MAX_IMAGE_URL_CHARS,
    MAX_MESSAGE_CHARS, MAX_NAME_CHARS, Scope, Status, TicketId, now_millis,
};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::flows::read::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use supportzen_shared::http::agent;
use supportzen_shared::http::query::EMAIL_HEADER;
use supportzen_shared::http::request::{
    CreateConversation, CustomerBody, IDEMPOTENCY_KEY_HEADER, SendMessage, UploadBody,
    rating_request,
};
use supportzen_shared::http::response::{REPLAYED_HEADER, failure};
use supportzen_shared::idempotency::{IdempotencyKey, MAX_IDEMPOTENCY_KEY_CHARS};
use supportzen_shared::store::AssigneeFilter;
use supportzen_sqlite::SqliteStore;
use supportzen_tests::{
    CONVERSATIONS, INBOX, LIVE_CHAT, LIVE_CREATE, TICKET_APPEND, TICKET_CREATE, TestApp,
    agent_path, create_body, messages_path, token,
};

const AGENT_REPLY: &str = Endpoint::AgentReply.path();
const AGENT_STATUS: &str = Endpoint::AgentStatus.path();
const AGENT_ASSIGN: &str = Endpoint::AgentAssign.path();
const UPLOAD: &str = Endpoint::AttachmentUpload.path();
const AGENT_UPLOAD: &str = Endpoint::AgentAttachmentUpload.path();
const READ: &str = Endpoint::ConversationRead.path();
const AGENT_READ: &str = Endpoint::AgentRead.path();
/// A message id, as the write routes issue them.
const MESSAGE: &str = "msg-0194f1d2-7c1e-7000-8000-000000000000";
const RATING: &str = Endpoint::ConversationRating.path();
/// An attachment id, as the upload routes issue them.
const ATTACHMENT: &str = "att-0194f1d2-7c1e-7000-8000-000000000000";

fn document() -> Value {
    let path = format!("{}/../docs/openapi.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// `value`, or what its `$ref` points to.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => doc.pointer(pointer.trim_start_matches('#')).unwrap(),
        None => value,
    }
}

/// The `data` schema of an operation's 200 answer.
fn data_schema<'a>(doc: &'a Value, route: &str, method: &str) -> &'a Value {
    let envelope =
        &doc["paths"][route][method]["responses"]["200"]["content"]["application/json"]["schema"];
    resolve(doc, &envelope["properties"]["data"])
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// The routes that issue realtime connect tickets: POSTs without a body or a key.
fn is_ticket_route(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::RealtimeTicket | Endpoint::AgentRealtimeTicket
    )
}

/// The POST routes that read no JSON body: the ticket routes, and the one-click
/// unsubscribe (its token is in the query; mail clients POST `List-Unsubscribe=One-Click`
/// form-encoded, which it ignores).
fn reads_no_json_body(endpoint: Endpoint) -> bool {
    is_ticket_route(endpoint) || endpoint == Endpoint::Unsubscribe
}

/// An agent route's request as API Gateway hands it over: `body`, the path's `id` and the
/// query string's parameters.
fn agent_request(body: &[u8], query: &[(&str, &str)]) -> lambda_http::Request {
    let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in query {
        parameters
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
    }
    lambda_http::http::Request::builder()
        .body(lambda_http::Body::from(body.to_vec()))
        .unwrap()
        .with_path_parameters(HashMap::from([("id".to_string(), "TKT-001".to_string())]))
        .with_query_string_parameters(parameters)
}

/// Parses `body` as `route` does; `Err(Some(field))` names the field at fault.
fn parse(route: &str, body: &Value) -> Result<(), Option<&'static str>> {
    let bytes = body.to_string().into_bytes();
    let result = match route {
        LIVE_CREATE | TICKET_CREATE => CreateConversation::parse(&bytes).map(|_| ()),
        LIVE_CHAT => SendMessage::<ChatId>::parse(&bytes).map(|_| ()),
        TICKET_APPEND => SendMessage::<TicketId>::parse(&bytes).map(|_| ()),
        AGENT_REPLY => {
            let agent = Agent {
                id: AgentId::parse("agent-7").unwrap(),
                name: DisplayName::parse("Agent 7").unwrap(),
            };
            agent::agent_message(&agent_request(&bytes, &[]), &agent).map(|_| ())
        }
        AGENT_STATUS => agent::change_status(&agent_request(&bytes, &[])).map(|_| ()),
        AGENT_ASSIGN => agent::assign(&agent_request(&bytes, &[])).map(|_| ()),
        UPLOAD => UploadBody::parse(&bytes).map(|_| ()),
        AGENT_UPLOAD => agent::upload(&agent_request(&bytes, &[])).map(|_| ()),
        AGENT_READ => agent::mark_read(&agent_request(&bytes, &[])).map(|_| ()),
        READ => {
            // A customer's request: signed, with the email header the body's email stands in for.
            let mut request = agent_request(&bytes, &[]);
            let headers = request.headers_mut();
            let bearer = format!("Bearer {}", token("s3cret", "ann@example.com"));
            headers.insert("authorization", bearer.parse().unwrap());
            headers.insert(EMAIL_HEADER, "ann@example.com".parse().unwrap());
            supportzen_shared::http::query::mark_read(&request).map(|_| ())
        }
        RATING => {
            let mut request = agent_request(&bytes, &[]);
            let signed = format!("Bearer {}", "ab".repeat(32));
            request
                .headers_mut()
                .insert("authorization", signed.parse().unwrap());
            rating_request(&request).map(|_| ())
        }
        _ => panic!("no parser for {route}"),
    };
    result.map_err(|e| match e {
        ApiError::InvalidField { field, .. } => Some(field),
        _ => None,
    })
}

/// A body the route's parser accepts, with every documented field in it.
fn valid_body(route: &str) -> Value {
    let mut body = json!({"email": "ann@example.com", "message": "hi", "image_url": "https://example.com/a.png", "client_message_id": "local-1", "attachments": [ATTACHMENT]});
    match route {
        LIVE_CREATE | TICKET_CREATE => {
            body = create_body("ann@example.com", "hi");
            body["image_url"] = json!("https://example.com/a.png");
            body["client_message_id"] = json!("local-1");
            body["follow_up_of"] = json!("TKT-001");
            body["attachments"] = json!([ATTACHMENT]);
        }
        LIVE_CHAT => body["chat_id"] = json!(ChatId::generate().as_str()),
        TICKET_APPEND => body["ticket_id"] = json!("TKT-001"),
        AGENT_REPLY => {
            body = json!({"message": "hi", "image_url": "https://example.com/a.png", "internal": true, "client_message_id": "local-1", "attachments": [ATTACHMENT]})
        }
        // The parser leaves "in the future" to the flow.
        AGENT_STATUS => body = json!({"status": "pending", "snooze_until": 4102444800000i64}),
        AGENT_ASSIGN => body = json!({"assignee": "agent-7"}),
        UPLOAD => {
            body = json!({"email": "ann@example.com", "name": "a.png", "content_type": "image/png", "size": 10})
        }
        AGENT_UPLOAD => body = json!({"name": "a.png", "content_type": "image/png", "size": 10}),
        READ => body = json!({"up_to": MESSAGE, "email": "ann@example.com"}),
        AGENT_READ => body = json!({"up_to": MESSAGE}),
        RATING => body = json!({"email": "ann@example.com", "rating": 4, "comment": "Thanks"}),
        _ => panic!("no body for {route}"),
    }
    body
}

/// The document's paths are the table's, in its order, each with the table's methods (one
/// path may serve several), and each operation asks for the credentials its handler
/// checks: a customer's signature, or an agent's JWT with the route's scope.
#[test]
fn the_documented_routes_are_the_routes() {
    let doc = document();
    let documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut routes: Vec<&str> = Endpoint::ALL.iter().map(|e| e.path()).collect();
    routes.dedup();
    assert_eq!(documented, routes);
    for path in routes {
        let mut methods: Vec<String> = doc["paths"][path]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        // An endpoint's page (the unsubscribe link's GET) is documented on its path.
        let mut served: Vec<String> = Endpoint::ALL
            .iter()
            .filter(|e| e.path() == path)
            .flat_map(|e| e.methods())
            .map(str::to_lowercase)
            .collect();
        methods.sort();
        served.sort();
        assert_eq!(methods, served, "{path}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["agentJwt"]["scheme"], "bearer");
    assert_eq!(schemes["agentJwt"]["bearerFormat"], "JWT");
    for endpoint in Endpoint::ALL {
        let operation = &doc["paths"][endpoint.path()][endpoint.method().to_lowercase()];
        let expected = match endpoint.scope() {
            // The unsubscribe link works without a sign-in: its token is its credential.
            None if *endpoint == Endpoint::Unsubscribe => json!([]),
            None => json!([{"hmac": []}]),
            Some(scope) => json!([{"agentJwt": [scope.as_str()]}]),
        };
        assert_eq!(operation["security"], expected, "{endpoint:?}");
        let description = schemes["agentJwt"]["description"].as_str().unwrap();
        if let Some(scope) = endpoint.scope() {
            assert!(description.contains(scope.as_str()), "{scope:?}");
            // Refused tokens: the local server's envelope, or API Gateway's own answer.
            for status in ["401", "403"] {
                let alternatives = &operation["responses"][status]["content"]["application/json"]["schema"]
                    ["anyOf"];
                assert_eq!(
                    alternatives,
                    &json!([{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/GatewayError"}]),
                    "{endpoint:?} {status}"
                );
            }
            // A route that names something may not find it: a conversation by its id, a
            // customer by their email.
            let names_one =
                endpoint.path().contains("{id}") || *endpoint == Endpoint::AgentCustomer;
            assert_eq!(
                operation["responses"]["404"].is_object(),
                names_one,
                "{endpoint:?}"
            );
            // A ticket route reads no body and changes no conversation; an upload reads
            // a body but changes no conversation; a read mark is taken on a closed one too.
            let body = endpoint.method() == "POST" && !is_ticket_route(*endpoint);
            let writes = body
                && !matches!(
                    endpoint,
                    Endpoint::AgentAttachmentUpload | Endpoint::AgentRead
                );
            for (status, expected) in [("409", writes), ("413", body)] {
                assert_eq!(
                    operation["responses"][status].is_object(),
                    expected,
                    "{endpoint:?} {status}"
                );
            }
            assert!(operation["responses"]["503"]["headers"]["Retry-After"].is_object());
        }
    }
}

#[test]
fn every_documented_field_is_the_field_the_parser_reads() {
    let doc = document();
    // Every POST route: one the parser or the test body does not know fails here. The
    // ticket routes take no body (the caller is their credentials' user or agent).
    for endpoint in Endpoint::ALL.iter().filter(|e| e.method() == "POST") {
        let route = endpoint.path();
        if is_ticket_route(*endpoint) {
            assert!(
                doc["paths"][route]["post"]["requestBody"].is_null(),
                "{route}"
            );
            continue;
        }
        if reads_no_json_body(*endpoint) {
            let body = &doc["paths"][route]["post"]["requestBody"]["content"];
            assert!(body["application/json"].is_null(), "{route}");
            continue;
        }
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
        let properties: Vec<&String> = fields["properties"].as_object().unwrap().keys().collect();
        let sent: Vec<&String> = valid.as_object().unwrap().keys().collect();
        let mut sorted = (properties.clone(), sent.clone());
        sorted.0.sort();
        sorted.1.sort();
        assert_eq!(
            sorted.0, sorted.1,
            "{route}: the test body is every documented field"
        );
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
    assert_eq!(
        create["follow_up_of"]["maxLength"],
        MAX_CONVERSATION_KEY_CHARS
    );
    let reply = &schema(&doc, "AgentMessageFields")["properties"];
    assert_eq!(reply["message"]["maxLength"], MAX_MESSAGE_CHARS);
    assert_eq!(reply["image_url"]["maxLength"], MAX_IMAGE_URL_CHARS);
    assert_eq!(
        reply["client_message_id"]["maxLength"],
        MAX_CLIENT_MESSAGE_ID_CHARS
    );
    let rating = &schema(&doc, "RatingFields")["properties"];
    assert_eq!(
        rating["comment"]["maxLength"],
        supportzen_shared::domain::MAX_RATING_COMMENT_CHARS
    );
    assert_eq!(
        (&rating["rating"]["minimum"], &rating["rating"]["maximum"]),
        (&json!(1), &json!(5))
    );
    let assignee = &schema(&doc, "AssignFields")["properties"]["assignee"];
    assert_eq!(assignee["maxLength"], MAX_AGENT_ID_CHARS);
    let id = &doc["components"]["parameters"]["AgentConversationId"];
    assert_eq!(id["in"], "path");
    assert_eq!(id["schema"]["maxLength"], MAX_CONVERSATION_KEY_CHARS);
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
/// accepts, over every single-byte key; 422 and `Idempotent-Replayed` are on every
/// customer POST route. Agents' routes read no such header but the reply, so document none on the others.
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
        // A connect ticket is a new one on every call: nothing to repeat safely; nor is
        // an upload (a repeated one only leaves an unattached upload that expires); an
        // agent's status change or assignment sets a state; a read mark repeated leaves
        // the mark where it is; nor a rating: the same rating again changes nothing (a
        // key sent is checked only). An agent's reply takes one.
        if (function.scope().is_some() && *function != Endpoint::AgentReply)
            || reads_no_json_body(*function)
            || matches!(
                function,
                Endpoint::AttachmentUpload
                    | Endpoint::ConversationRead
                    | Endpoint::ConversationRating
            )
        {
            let keyed = post["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey");
            assert!(!keyed, "{}", function.path());
            assert!(post["responses"]["422"].is_null(), "{}", function.path());
            continue;
        }
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

/// Every enumeration the document lists is the one the code parses or writes: statuses,
/// kinds and authors, and the inbox's filters, each documented value accepted (with the
/// documented defaults) and any other refused, naming the parameter.
#[test]
fn the_documented_enumerations_are_the_parsed_ones() {
    let doc = document();
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let authors: Vec<&str> = Author::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(strings(&schema(&doc, "Status")["enum"]), statuses);
    for name in ["ConversationSummary", "AgentConversation"] {
        let properties = &schema(&doc, name)["properties"];
        assert_eq!(strings(&properties["kind"]["enum"]), kinds, "{name}");
        assert_eq!(properties["status"]["$ref"], "#/components/schemas/Status");
    }
    assert_eq!(
        schema(&doc, "StatusFields")["properties"]["status"]["$ref"],
        "#/components/schemas/Status"
    );
    for name in ["Message", "LastMessage"] {
        let author = &schema(&doc, name)["properties"]["author"]["enum"];
        assert_eq!(strings(author), authors, "{name}");
    }

    let parameters = doc["paths"][INBOX]["get"]["parameters"].as_array().unwrap();
    let parameter = |name: &str| {
        let found = parameters.iter().find(|p| p["name"] == name);
        &found.unwrap_or_else(|| panic!("{name} is documented"))["schema"]
    };
    assert_eq!(strings(&parameter("kind")["enum"]), kinds);
    assert_eq!(strings(&parameter("status")["enum"]), statuses);
    let agent = Agent {
        id: AgentId::parse("agent-7").unwrap(),
        name: DisplayName::parse("Agent 7").unwrap(),
    };
    let inbox = |query: &[(&str, &str)]| agent::list_inbox(&agent_request(b"", query), &agent);
    let unnamed = inbox(&[("kind", "chat")]).unwrap().filter;
    assert_eq!(unnamed.status, Status::default());
    assert_eq!(parameter("status")["default"], Status::default().as_str());
    assert_eq!(unnamed.assignee, AssigneeFilter::Any);
    assert_eq!(
        inbox(&[
            ("kind", "chat"),
            (
                "assignee",
                parameter("assignee")["default"].as_str().unwrap()
            )
        ])
        .unwrap()
        .filter,
        unnamed
    );
    // `kind` is required: the query with `name` given holds it once.
    let with = |name, value| match name {
        "kind" => vec![("kind", value)],
        _ => vec![("kind", "chat"), (name, value)],
    };
    for name in ["kind", "status", "assignee"] {
        for value in strings(&parameter(name)["enum"]) {
            assert!(inbox(&with(name, value)).is_ok(), "{name}={value}");
        }
        let query = with(name, "other");
        assert!(
            matches!(inbox(&query), Err(ApiError::InvalidField { field, .. }) if field == name),
            "{name}=other"
        );
    }
    let required: Vec<&str> = parameters
        .iter()
        .filter(|p| p["required"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["kind"]);
    assert!(matches!(
        inbox(&[]),
        Err(ApiError::InvalidField { field: "kind", .. })
    ));
}

/// Every error the API answers with is in the documented envelope: its code is listed,
/// and every member of its `error` object is a documented one, with the documented value
/// where the document fixes one (`follow_up_allowed`).
#[test]
fn every_error_is_in_the_documented_envelope() {
    let doc = document();
    let error = &schema(&doc, "Error")["properties"]["error"];
    let codes = strings(&error["properties"]["code"]["enum"]);
    let members = error["properties"].as_object().unwrap();
    let errors = [
        ApiError::InvalidJson("expected an object".into()),
        ApiError::field("email", "is required"),
        ApiError::Unauthorized(AuthError::NoAgentClaims),
        ApiError::Forbidden(Scope::Write),
        ApiError::NotFound("conversation"),
        ApiError::Closed("conversation"),
        supportzen_shared::flows::rating::NOT_SOLVED,
        supportzen_shared::flows::rating::RATING_FINAL,
        ApiError::IdempotencyKeyReused,
        ApiError::PayloadTooLarge { limit: 1 },
        ApiError::TooManyMessages {
            per_minute: 30,
            retry_after: Duration::from_secs(1),
        },
        ApiError::TooManyNewAccounts {
            per_hour: 20,
            retry_after: Duration::from_secs(1),
        },
        ApiError::Unavailable {
            retry_after: Duration::from_secs(1),
            reason: String::new(),
        },
        ApiError::Internal(String::new()),
    ];
    for err in &errors {
        // No wildcard: a new kind of error does not compile until it is listed above.
        match err {
            ApiError::InvalidJson(_)
            | ApiError::InvalidField { .. }
            | ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::Closed(_)
            | ApiError::Conflict { .. }
            | ApiError::IdempotencyKeyReused
            | ApiError::PayloadTooLarge { .. }
            | ApiError::TooManyMessages { .. }
            | ApiError::TooManyNewAccounts { .. }
            | ApiError::Unavailable { .. }
            | ApiError::Internal(_) => {}
        }
        assert!(codes.contains(&err.code()), "{} is documented", err.code());
        let response = failure(err);
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        for (name, value) in body["error"].as_object().unwrap() {
            let documented = members
                .get(name)
                .unwrap_or_else(|| panic!("{}: error.{name} is documented", err.code()));
            if let Some(fixed) = documented.get("const") {
                assert_eq!(value, fixed, "{}: error.{name}", err.code());
            }
        }
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

    // The agents' routes, on the ticket: a reply, a note, a snooze and an assignment, then
    // the inbox, the conversation and its messages as agents read them.
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let on_ticket = |endpoint: Endpoint| agent_path(endpoint, &ticket_id);
    let replied = app
        .agent_post(
            &on_ticket(Endpoint::AgentReply),
            &agent,
            &json!({"message": "On it"}),
        )
        .await;
    let noted = app
        .agent_post(
            &on_ticket(Endpoint::AgentReply),
            &agent,
            &json!({"data": {"message": "VIP customer", "internal": true}}),
        )
        .await;
    let snoozed = app
        .agent_post(
            &on_ticket(Endpoint::AgentStatus),
            &agent,
            &json!({"status": "pending", "snooze_until": now_millis() + 3_600_000}),
        )
        .await;
    let assigned = app
        .agent_post(
            &on_ticket(Endpoint::AgentAssign),
            &agent,
            &json!({"assignee": "agent-7"}),
        )
        .await;
    let inbox = app
        .agent_get(
            &format!("{INBOX}?kind=ticket&status=pending&assignee=me"),
            &agent,
        )
        .await;
    let one = app
        .agent_get(&on_ticket(Endpoint::AgentConversation), &agent)
        .await;
    let page = app
        .agent_get(&on_ticket(Endpoint::AgentMessages), &agent)
        .await;
    let customer = app
        .agent_get(
            &format!(
                "{}?email=Ann%40Example.com&kind=ticket",
                Endpoint::AgentCustomer.path()
            ),
            &agent,
        )
        .await;
    // And a connect ticket for each side, and each side's read mark.
    let customer_ticket = app.customer_ticket("ann@example.com", &bearer).await;
    let agent_ticket = app.agent_ticket(&agent).await;
    let reply_id = replied.ok()["message"]["messageId"].clone();
    let customer_mark = app
        .post(
            &agent_path(Endpoint::ConversationRead, &ticket_id),
            Some(&bearer),
            &json!({"email": "ann@example.com", "up_to": reply_id}),
        )
        .await;
    let agents_mark = app
        .agent_post(
            &on_ticket(Endpoint::AgentRead),
            &agent,
            &json!({"up_to": noted.ok()["message"]["messageId"]}),
        )
        .await;
    for (endpoint, reply) in [
        (Endpoint::RealtimeTicket, &customer_ticket),
        (Endpoint::AgentRealtimeTicket, &agent_ticket),
        (Endpoint::AgentReply, &replied),
        (Endpoint::AgentReply, &noted),
        (Endpoint::AgentStatus, &snoozed),
        (Endpoint::AgentAssign, &assigned),
        (Endpoint::AgentInbox, &inbox),
        (Endpoint::AgentConversation, &one),
        (Endpoint::AgentMessages, &page),
        (Endpoint::ConversationRead, &customer_mark),
        (Endpoint::AgentRead, &agents_mark),
        (Endpoint::AgentCustomer, &customer),
    ] {
        let method = endpoint.method().to_lowercase();
        let documented = &data_schema(&doc, endpoint.path(), &method)["required"];
        let keys: Vec<Value> = reply
            .ok()
            .as_object()
            .unwrap()
            .keys()
            .map(|k| json!(k))
            .collect();
        assert_eq!(&Value::from(keys), documented, "{endpoint:?}");
    }
    let conversation = &schema(&doc, "AgentConversation")["required"];
    for listed in [
        &inbox.ok()["conversations"][0],
        one.ok(),
        assigned.ok(),
        &customer.ok()["conversations"][0],
    ] {
        let keys: Vec<Value> = listed
            .as_object()
            .unwrap()
            .keys()
            .map(|k| json!(k))
            .collect();
        assert_eq!(&Value::from(keys), conversation);
        assert_eq!(
            (&listed["status"], &listed["assignee"]),
            (&json!("pending"), &json!("agent-7"))
        );
        assert!(listed["snoozedUntil"].is_i64());
    }
    // Messages: the documented members, `agent` on agents' messages, `internal` on notes.
    let message = schema(&doc, "Message");
    let agent_keys = strings(&schema(&doc, "MessageAgent")["required"]);
    let shown = page.ok()["messages"].as_array().unwrap().clone();
    let mut messages = vec![
        replied.ok()["message"].clone(),
        noted.ok()["message"].clone(),
    ];
    messages.extend(shown.iter().cloned());
    assert_eq!(
        shown.len(),
        4,
        "the customer's two messages, the reply and the note"
    );
    for m in &messages {
        let mut expected = strings(&message["required"]);
        if m["author"] == "agent" {
            expected.push("agent");
            let keys: Vec<&str> = m["agent"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, agent_keys);
        }
        if m.get("internal").is_some() {
            expected.push("internal");
            assert_eq!(m["internal"], message["properties"]["internal"]["const"]);
        }
        let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, expected, "{m}");
    }
    assert_eq!(shown[3]["internal"], true);

    let served = app.request(reqwest::Method::GET, "/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "application/json");
    assert_eq!(served.body, doc);
}

/// The upload routes: their documented limits and allowlist are the code's, and what
/// they answer is the documented form.
#[tokio::test]
async fn the_documented_uploads_are_the_accepted_ones() {
    use supportzen_shared::domain::{
        ContentType, DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_ATTACHMENTS_PER_MESSAGE,
        MAX_FILE_NAME_CHARS,
    };
    let doc = document();
    let types: Vec<&str> = ContentType::ALL.iter().map(|kind| kind.as_str()).collect();
    for name in ["UploadFields", "AgentUploadFields"] {
        let fields = &schema(&doc, name)["properties"];
        assert_eq!(fields["name"]["maxLength"], MAX_FILE_NAME_CHARS, "{name}");
        assert_eq!(
            fields["size"]["maximum"], DEFAULT_MAX_ATTACHMENT_BYTES,
            "{name}"
        );
        assert_eq!(strings(&fields["content_type"]["enum"]), types, "{name}");
    }
    let attachment = &schema(&doc, "Attachment")["properties"];
    assert_eq!(strings(&attachment["contentType"]["enum"]), types);
    for name in [
        "CreateFields",
        "ChatMessageFields",
        "TicketMessageFields",
        "AgentMessageFields",
    ] {
        let ids = &schema(&doc, name)["properties"]["attachments"];
        assert_eq!(
            ids["maxItems"], DEFAULT_MAX_ATTACHMENTS_PER_MESSAGE,
            "{name}"
        );
    }

    let app = TestApp::<SqliteStore>::spawn().await;
    app.provision("ann@example.com", "s3cret").await;
    let bearer = token("s3cret", "ann@example.com");
    let declared = app.post(UPLOAD, Some(&bearer), &valid_body(UPLOAD)).await;
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let agents = app
        .agent_post(AGENT_UPLOAD, &agent, &valid_body(AGENT_UPLOAD))
        .await;
    let target = schema(&doc, "UploadTarget");
    for (endpoint, reply) in [
        (Endpoint::AttachmentUpload, &declared),
        (Endpoint::AgentAttachmentUpload, &agents),
    ] {
        assert_eq!(data_schema(&doc, endpoint.path(), "post"), target);
        let data = reply.ok();
        let keys: Vec<&str> = data
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, strings(&target["required"]), "{endpoint:?}");
        let form: Vec<&str> = data["upload"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            form,
            strings(&target["properties"]["upload"]["required"]),
            "{endpoint:?}"
        );
        assert!(
            data["upload"]["fields"]
                .as_object()
                .unwrap()
                .values()
                .all(Value::is_string)
        );
    }
}
