//! Every file in events/ replayed through `supportzen invoke` (the binary), on SQLite
//! and on DynamoDB Local, against the state events/README.md describes; each gives the
//! status and envelope events/expected.json records.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use supportzen_shared::auth::Caller;
use supportzen_shared::domain::{
    Author, ChatId, ConversationId, Email, MessageText, NewMessage, Profile, UnixSeconds,
};
use supportzen_shared::dynamo::{DynamoStore, client};
use supportzen_shared::store::{ConversationCreator, NewConversation};
use supportzen_sqlite::SqliteStore;

const BIN: &str = env!("CARGO_BIN_EXE_supportzen");
/// The chat the sample events address; the replay seeds it, owned by the demo user.
const SEEDED_CHAT: &str = "chat-019aa6f0-0000-7000-8000-000000000001";
/// The unsubscribe secret of the sample events.
const UNSUBSCRIBE_SECRET: &str = "demo-unsubscribe-secret-0123456789abcdef";

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// Runs the binary; returns its parsed stdout, failing on a non-zero exit.
fn supportzen(args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .env_remove("TRUST_FIRST_REQUEST")
        // The secret events/unsubscribe.json's token is signed with (events/README.md).
        .env("UNSUBSCRIBE_SECRET", UNSUBSCRIBE_SECRET)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `invoke` one events file: the Lambda response's status and parsed body.
fn invoke(function: &str, file: &str, store: &str) -> (u64, Value) {
    let (status, response) = invoke_raw(function, file, store);
    assert_eq!(
        response["headers"]["content-type"], "application/json",
        "{file}"
    );
    let body = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (status, body)
}

/// `invoke` one events file: the Lambda response's status and the response itself.
fn invoke_raw(function: &str, file: &str, store: &str) -> (u64, Value) {
    let path = events_dir().join(file);
    let response: Value = serde_json::from_str(&supportzen(&[
        "invoke",
        function,
        path.to_str().unwrap(),
        "--store",
        store,
    ]))
    .unwrap();
    // Every answer carries the request id a client can quote to support: Lambda's, or
    // here (`supportzen invoke` has no Lambda context) API Gateway's, from the event.
    let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        response["headers"]["x-request-id"], event["requestContext"]["requestId"],
        "{file}"
    );
    (response["statusCode"].as_u64().unwrap(), response)
}

/// The state events/README.md documents, built with the CLI wherever the CLI can.
async fn seed<S: ConversationCreator>(store: &str, direct: &S) {
    supportzen(&[
        "users",
        "put",
        "--email",
        "demo@example.com",
        "--secret",
        "demo-secret",
        "--store",
        store,
    ]);
    supportzen(&[
        "users",
        "put",
        "--email",
        "other@example.com",
        "--secret",
        "other-secret",
        "--store",
        store,
    ]);
    let (_, body) = invoke("ticket-create", "ticket-create.json", store);
    assert_eq!(body["data"]["ticketId"], "TKT-001");
    let (_, body) = invoke("ticket-create", "ticket-create-other-user.json", store);
    assert_eq!(body["data"]["ticketId"], "TKT-002");
    // Chat ids are random, so the sample chat is written directly.
    let demo = Email::parse("demo@example.com").unwrap().user_id().clone();
    let chat = NewConversation {
        id: ConversationId::Chat(ChatId::parse(SEEDED_CHAT).unwrap()),
        owner: Caller::Known(demo),
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: NewMessage::now(
            Author::Customer,
            MessageText::parse("Hello!").unwrap(),
            None,
            None,
        ),
        follow_up_of: None,
        receipt: None,
        source: None,
        notice_at: None,
    };
    direct.create_conversation(&chat).await.unwrap();
}

fn replay_all(store: &str) {
    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("expected.json")).unwrap())
            .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json") && name != "expected.json")
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.keys().cloned().collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every events file has an expectation, and only those"
    );

    for (file, expectation) in &expected {
        // A page (the unsubscribe link's): its status, type, CSP and the text it holds.
        if let Some(kind) = expectation.get("contentType") {
            let function = expectation["function"].as_str().unwrap();
            let (status, response) = invoke_raw(function, file, store);
            let page = response["body"].as_str().unwrap();
            assert_eq!(
                status,
                expectation["status"].as_u64().unwrap(),
                "{file}: {page}"
            );
            let content_type = response["headers"]["content-type"].as_str().unwrap();
            assert!(
                content_type.starts_with(kind.as_str().unwrap()),
                "{file}: {content_type}"
            );
            assert!(
                response["headers"]["content-security-policy"]
                    .as_str()
                    .is_some_and(|csp| csp.contains("default-src 'none'")),
                "{file}: {response}"
            );
            for text in expectation["contains"].as_array().unwrap() {
                assert!(
                    page.contains(text.as_str().unwrap()),
                    "{file}: {text} in {page}"
                );
            }
            continue;
        }
        let (status, body) = invoke(expectation["function"].as_str().unwrap(), file, store);
        assert_eq!(
            status,
            expectation["status"].as_u64().unwrap(),
            "{file}: {body}"
        );
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["status", "message", "data", "error"], "{file}");
        if status == 200 {
            assert_eq!(body["status"], "success", "{file}");
            assert!(
                body["data"].is_object() && body["error"].is_null(),
                "{file}"
            );
        } else {
            assert_eq!(body["status"], "error", "{file}");
            assert!(body["data"].is_null(), "{file}");
            assert_eq!(body["error"]["code"], expectation["code"], "{file}");
        }
        if let Some(field) = expectation.get("field") {
            assert_eq!(&body["error"]["field"], field, "{file}: {body}");
        }
        // The `data` fields an expectation names have those values; the rest may vary.
        if let Some(data) = expectation.get("data") {
            for (key, value) in data.as_object().unwrap() {
                assert_eq!(&body["data"][key], value, "{file}: data.{key} of {body}");
            }
        }
        // An event with an Idempotency-Key, invoked again, is a retry: the same answer.
        if expectation.get("twice").is_some() {
            let (again, repeated) = invoke(expectation["function"].as_str().unwrap(), file, store);
            assert_eq!((again, &repeated), (status, &body), "{file}, invoked again");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_gives_its_expected_result_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = format!("sqlite:{}", path.display());
    seed(&store, &SqliteStore::open(path.to_str().unwrap()).unwrap()).await;
    tokio::task::spawn_blocking(move || replay_all(&store))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_gives_its_expected_result_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "needs DynamoDB Local: run ./scripts/test"
    );
    let table = format!("events-{}", std::process::id());
    let store = format!("dynamodb:{table}");
    supportzen(&["table", "create", "--store", &store]);
    let direct = DynamoStore::new(client::client_from_env().await.unwrap(), table.as_str());
    seed(&store, &direct).await;
    tokio::task::spawn_blocking(move || replay_all(&store))
        .await
        .unwrap();
}
