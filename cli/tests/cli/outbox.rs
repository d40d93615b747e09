//! The local transactional outbox (issue 24): `serve` on SQLite writes each change's
//! events in the change's own transaction, so a `kill -9` between the commit and the
//! webhook outbox loses nothing; the next `serve` relays what the last one left.

use super::commands::{
    DEMO_TOKEN, OneRequest, Server, add_webhook, put_demo_user, signed_event, start_serve_with,
    store_arg,
};
use std::process::Stdio;
use std::time::{Duration, Instant};
use supportzen_sqlite::Outbox;

/// Sends a chat's first message while the webhook outbox cannot be written (the test
/// holds its write lock, as another process could), kills the server with SIGKILL once
/// the message's 200 is back, then restarts it with the lock gone: the message's webhook
/// arrives, signed, exactly once.
#[test]
fn a_message_committed_before_kill_9_is_delivered_once_by_the_next_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_arg(dir.path());
    let outbox = dir.path().join("test-outbox.db");
    put_demo_user(&store, "demo-secret");
    let receiver = OneRequest::listen();
    let (_endpoint, secret) = add_webhook(&store, &receiver.url(), "message.created");
    let key = format!("{}/outbox-agent-key.pem", env!("CARGO_TARGET_TMPDIR"));
    let args = ["--store", store.as_str(), "--agent-key", key.as_str()];

    let (child, base) = start_serve_with(&args, Stdio::null());
    let mut first = Server(child);
    // The server has opened its outbox (it listens only after); from now on nothing can
    // be written to it.
    let lock = rusqlite::Connection::open(&outbox).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let sent = reqwest::blocking::Client::new()
        .post(format!("{base}/api/client/live/create"))
        .bearer_auth(DEMO_TOKEN)
        .body(r#"{"email":"demo@example.com","created_at":1679223400,"message":"Still there after a crash?"}"#)
        .send()
        .unwrap();
    let answered = sent.status();
    // SIGKILL: no shutdown, nothing flushed.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);

    let (child, base) = start_serve_with(&args, Stdio::null());
    let _second = Server(child);
    // The message was committed.
    let listed = reqwest::blocking::Client::new()
        .get(format!("{base}/api/client/conversations?kind=chat"))
        .bearer_auth(DEMO_TOKEN)
        .header("x-supportzen-email", "demo@example.com")
        .send()
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed: serde_json::Value = listed.json().unwrap();
    let chat = listed["data"]["conversations"][0]["conversationId"]
        .as_str()
        .unwrap_or_else(|| panic!("one chat: {listed}"))
        .to_string();
    let (headers, body) = receiver.take();
    let event = signed_event(&headers, &body, &secret);
    assert_eq!(event["type"], "message.created", "{event}");
    assert_eq!(event["conversationId"], chat.as_str(), "{event}");
    assert_eq!(event["data"]["author"], "customer", "{event}");
    assert_eq!(event["data"]["customer"]["email"], "demo@example.com");

    // Once the journal is empty and the outbox has nothing pending, nothing else is
    // coming: the webhook arrived once.
    let journal = dir.path().join("test.db");
    let journaled = || -> i64 {
        rusqlite::Connection::open(&journal)
            .unwrap()
            .query_row("SELECT count(*) FROM event_journal", [], |row| row.get(0))
            .unwrap()
    };
    let settled = || {
        let pending = tokio::runtime::Runtime::new().unwrap().block_on(async {
            let outbox = Outbox::open(outbox.to_str().unwrap()).unwrap();
            outbox.pending().await.unwrap()
        });
        journaled() == 0 && pending.is_empty()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !settled() {
        assert!(
            Instant::now() < deadline,
            "the journal or the outbox still holds events"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(receiver.received.try_recv().is_err(), "delivered once");
    // Answered as soon as it was committed: the outbox is not on the request's path.
    // (Before the journal, the request waited on the locked outbox for its busy timeout
    // and was answered 200 all the same, the outbox's error logged and swallowed: its
    // message committed, its webhook lost, which the delivery above catches.)
    assert_eq!(answered, 200);
}
