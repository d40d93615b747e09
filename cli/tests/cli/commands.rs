//! The `supportzen` binary as a user runs it: every command, its help, and its errors.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_supportzen");
/// hex(HMAC-SHA256("demo-secret", "demo@example.com")), computed independently
/// (Python's hmac module); the sample events in events/ carry it.
pub(crate) const DEMO_TOKEN: &str =
    "48e7de1df76b71f57874f39a36600bf7ad2cb8adc7010ffb8be48c81bc872ffe";

fn events(name: &str) -> String {
    format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SUPPORTZEN_STORE")
        .env_remove("TRUST_FIRST_REQUEST")
        .env_remove("WEBHOOK_QUEUE_URL")
        .output()
        .expect("supportzen runs")
}

pub(crate) fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub(crate) fn store_arg(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("test.db").display())
}

/// Runs `invoke` and returns the Lambda response's status code and parsed body.
fn invoke(function: &str, event: &str, store: &str) -> (u64, serde_json::Value) {
    let response: serde_json::Value = serde_json::from_str(&stdout(&run(&[
        "invoke",
        function,
        &events(event),
        "--store",
        store,
    ])))
    .unwrap();
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(response["isBase64Encoded"], false);
    let body = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (response["statusCode"].as_u64().unwrap(), body)
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["users", "--help"],
        vec!["users", "export", "--help"],
        vec!["users", "erase", "--help"],
        vec!["ops", "--help"],
        vec!["ops", "backfill", "--help"],
        vec!["ops", "redrive-webhooks", "--help"],
        vec!["ops", "replay-events", "--help"],
        vec!["users", "put", "--help"],
        vec!["sign", "--help"],
        vec!["invoke", "--help"],
        vec!["table", "--help"],
        vec!["table", "create", "--help"],
        vec!["conversations", "--help"],
        vec!["conversations", "list", "--help"],
        vec!["messages", "--help"],
        vec!["agents", "--help"],
        vec!["agents", "token", "--help"],
        vec!["listen", "--help"],
        vec!["webhooks", "--help"],
        vec!["webhooks", "add", "--help"],
        vec!["webhooks", "list", "--help"],
        vec!["webhooks", "remove", "--help"],
        vec!["webhooks", "deliveries", "--help"],
    ] {
        let text = stdout(&run(&args));
        assert!(text.contains("Usage: supportzen"), "{args:?}: {text}");
    }
    assert!(stdout(&run(&["invoke", "--help"])).contains("live-create"));
    // The table is always named: no SQLite default that table create would refuse.
    let table_help = stdout(&run(&["table", "create", "--help"]));
    assert!(!table_help.contains("sqlite"), "{table_help}");
}

#[test]
fn sign_prints_the_hmac_of_the_email() {
    let token = stdout(&run(&[
        "sign",
        "--email",
        "demo@example.com",
        "--secret",
        "demo-secret",
    ]));
    assert_eq!(token.trim(), DEMO_TOKEN);
    let refused = run(&["sign", "--email", "not-an-email", "--secret", "x"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--email must be a valid email address")
    );
}

/// Sets the demo user's secret in `store`.
pub(crate) fn put_demo_user(store: &str, secret: &str) {
    put_demo_user_with_grace(store, secret, Some("0"));
}

/// `users put` for the demo user; `None` leaves `--grace-hours` at its default. Returns stdout.
fn put_demo_user_with_grace(store: &str, secret: &str, grace_hours: Option<&str>) -> String {
    let mut args = vec![
        "users",
        "put",
        "--email",
        "demo@example.com",
        "--secret",
        secret,
        "--store",
        store,
    ];
    if let Some(hours) = grace_hours {
        args.extend(["--grace-hours", hours]);
    }
    stdout(&run(&args))
}

/// Provisions the demo user in `store`, then runs each function on its sample event.
fn invoke_each_sample_event(store: &str) {
    let first = put_demo_user_with_grace(store, "demo-secret", None);
    assert!(
        first.contains("now authenticates with the provisioned secret")
            && !first.contains("replaced"),
        "{first}"
    );
    let again = put_demo_user_with_grace(store, "demo-secret", None);
    assert!(again.contains("nothing changed"), "{again}");

    let (status, body) = invoke("ticket-create", "ticket-create.json", store);
    assert_eq!(
        (status, &body["data"]["ticketId"]),
        (200, &"TKT-001".into())
    );
    let (status, body) = invoke("ticket-append", "ticket-append.json", store);
    assert_eq!(
        (status, &body["data"]["ticketId"]),
        (200, &"TKT-001".into())
    );
    // Operators read them back, one JSON object a line.
    let listed = stdout(&run(&[
        "conversations",
        "list",
        "--email",
        "demo@example.com",
        "--store",
        store,
    ]));
    let first: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(
        (&first["conversationId"], &first["kind"]),
        (&"TKT-001".into(), &"ticket".into())
    );
    let read = stdout(&run(&[
        "messages",
        "--conversation",
        "TKT-001",
        "--store",
        store,
    ]));
    let messages: Vec<serde_json::Value> = read
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{read}");
    assert!(messages.iter().all(|m| m["author"] == "customer"));
    let missing = run(&["messages", "--conversation", "TKT-999", "--store", store]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no conversation TKT-999"));
    let (status, body) = invoke("live-create", "live-create.json", store);
    assert_eq!(status, 200);
    assert!(
        body["data"]["chatId"]
            .as_str()
            .unwrap()
            .starts_with("chat-")
    );
    // The sample chat id belongs to no chat in a fresh store.
    let (status, body) = invoke("live-chat", "live-chat.json", store);
    assert_eq!((status, &body["error"]["code"]), (404, &"not_found".into()));

    // A rotation keeps the events' token working for the grace period (24 hours by
    // default); a rotation with no grace revokes it at once.
    assert!(put_demo_user_with_grace(store, "rotated", None).contains("stays valid for 24 h"));
    let (status, _) = invoke("ticket-create", "ticket-create.json", store);
    assert_eq!(status, 200);
    let revoked = put_demo_user_with_grace(store, "revoked-the-rest", Some("0"));
    assert!(revoked.contains("no longer works"), "{revoked}");
    let (status, _) = invoke("ticket-create", "ticket-create.json", store);
    assert_eq!(status, 401);
}

#[test]
fn a_customers_data_is_exported_then_erased_and_another_customers_kept() {
    use supportzen_sqlite::Outbox;
    let dir = tempfile::tempdir().unwrap();
    let store = store_arg(dir.path());
    put_demo_user(&store, "demo-secret");
    invoke("ticket-create", "ticket-create.json", &store);
    invoke("ticket-append", "ticket-append.json", &store);
    invoke("live-create", "live-create.json", &store);
    let other = stdout(&run(&[
        "users",
        "put",
        "--email",
        "other@example.com",
        "--secret",
        "s",
        "--store",
        &store,
    ]));
    assert!(other.contains("other@example.com"), "{other}");

    let export = |email: &str| -> serde_json::Value {
        serde_json::from_str(&stdout(&run(&[
            "users", "export", "--email", email, "--store", &store,
        ])))
        .unwrap()
    };
    let exported = export("Demo@Example.com");
    assert_eq!(exported["email"], "demo@example.com");
    let conversations = exported["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 2, "{exported}");
    let messages: usize = conversations
        .iter()
        .map(|c| c["messages"].as_array().unwrap().len())
        .sum();
    assert_eq!(messages, 3, "the ticket's two and the chat's one");
    assert!(
        !exported.to_string().contains("demo-secret"),
        "never the secret"
    );

    let files = dir.path().join("files");
    // Files it cannot reach stop an erasure before anything is deleted.
    let refused = run(&[
        "users",
        "erase",
        "--email",
        "demo@example.com",
        "--store",
        &store,
        "--files",
        files.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no files directory"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        export("demo@example.com")["conversations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    std::fs::create_dir_all(&files).unwrap();
    // An endpoint subscribed to customer.erased, on a receiver `serve` will deliver to,
    // and one that is not.
    let receiver = OneRequest::listen();
    let subscribed = add_webhook(&store, &receiver.url(), "customer.erased");
    let other_endpoint = add_webhook(&store, "https://example.com/hooks", "message.created");
    // A delivery about them still waiting in the outbox (not due for a day): its body
    // names them, so the erasure drops it.
    let outbox = dir.path().join("test-outbox.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use supportzen_shared::events::{EventType, delivery::Delivery};
        let waiting = Delivery {
            endpoint_id: other_endpoint.0.clone(),
            event_id: "evt_waiting".into(),
            event_type: EventType::MessageCreated,
            body: r#"{"id":"evt_waiting","type":"message.created","data":{"customer":{"email":"demo@example.com"}}}"#.into(),
            first_attempt_at: 1_000,
            attempts: 0,
        };
        let tomorrow = supportzen_shared::domain::now_millis() + 86_400_000;
        let outbox = Outbox::open(outbox.to_str().unwrap()).unwrap();
        outbox.enqueue(vec![waiting], tomorrow).await.unwrap();
    });
    let erase = || -> serde_json::Value {
        serde_json::from_str(&stdout(&run(&[
            "users",
            "erase",
            "--email",
            "demo@example.com",
            "--store",
            &store,
            "--files",
            files.to_str().unwrap(),
        ])))
        .unwrap()
    };
    let erased = erase();
    assert_eq!(
        (
            &erased["user"],
            &erased["conversations"],
            &erased["messages"]
        ),
        (&true.into(), &2.into(), &3.into()),
        "{erased}"
    );
    assert_eq!(erased["webhooks"]["queued"], 1, "{erased}");
    assert_eq!(erased["webhooks"]["dropped"], 1, "{erased}");
    let after = export("demo@example.com");
    assert_eq!(after["conversations"], serde_json::json!([]));
    assert_eq!(after["profile"], serde_json::Value::Null);
    let again = erase();
    assert_eq!(
        (&again["user"], &again["messages"]),
        (&false.into(), &0.into())
    );
    // Nothing was left to erase: receivers heard of it the first time.
    assert_eq!(again["webhooks"]["queued"], 0, "{again}");
    assert_eq!(again["webhooks"]["dropped"], 0, "{again}");
    assert_eq!(again["webhooks"]["outbox"], outbox.to_str().unwrap());
    let pending = || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let outbox = Outbox::open(outbox.to_str().unwrap()).unwrap();
            outbox.pending().await.unwrap()
        })
    };
    let pending_now = pending();
    assert_eq!(
        pending_now.len(),
        1,
        "only customer.erased: {pending_now:?}"
    );
    assert_eq!(pending_now[0].delivery.endpoint_id, subscribed.0);
    assert_ne!(pending_now[0].delivery.endpoint_id, other_endpoint.0);

    // `serve` on that store delivers it from the outbox, signed with the endpoint's secret.
    let key = format!("{}/erase-agent-key.pem", env!("CARGO_TARGET_TMPDIR"));
    let (child, _) = start_serve_with(&["--store", &store, "--agent-key", &key], Stdio::null());
    let _server = Server(child);
    let (headers, body) = receiver.take();
    let event = signed_event(&headers, &body, &subscribed.1);
    assert_eq!(event["type"], "customer.erased");
    assert_eq!(event["data"]["customer"]["email"], "demo@example.com");
    assert_eq!(event["data"]["erased"]["conversations"], 2);
    assert_eq!(event["data"]["erased"]["messages"], 3);
    assert!(event.get("conversationId").is_none(), "{event}");
    assert!(!body.contains("demo-secret"), "{body}");
    // Delivered once: once the outbox has nothing pending, nothing else is coming.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !pending().is_empty() {
        assert!(std::time::Instant::now() < deadline, "still pending");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(receiver.received.try_recv().is_err(), "delivered once");
    // The other customer is still there.
    let put = stdout(&run(&[
        "users",
        "put",
        "--email",
        "other@example.com",
        "--secret",
        "s",
        "--store",
        &store,
    ]));
    assert!(put.contains("nothing changed"), "{put}");
}

/// The event a webhook request (`headers`, `body`) carries, once its Standard Webhooks
/// signature by `secret` checks out and its id is its `webhook-id`.
pub(crate) fn signed_event(
    headers: &HashMap<String, String>,
    body: &str,
    secret: &str,
) -> serde_json::Value {
    use supportzen_shared::events::WebhookSecret;
    let header = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{name}: {headers:?}"))
            .clone()
    };
    let secret = WebhookSecret::parse(secret).unwrap();
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    let signature = secret.sign(&header("webhook-id"), timestamp, body);
    assert!(
        header("webhook-signature")
            .split(' ')
            .any(|one| one == signature),
        "{headers:?}"
    );
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["id"], header("webhook-id").as_str());
    event
}

/// `webhooks add` for `events`; the endpoint's id and secret.
pub(crate) fn add_webhook(store: &str, url: &str, events: &str) -> (String, String) {
    let added = stdout(&run(&[
        "webhooks", "add", "--url", url, "--events", events, "--store", store,
    ]));
    let line = |prefix: &str| {
        added
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {added}"))
            .to_string()
    };
    (line("id: "), line("secret: "))
}

/// A webhook receiver on a free loopback port that answers 200 to every request and
/// hands over the first one's headers (lower-cased names) and body.
pub(crate) struct OneRequest {
    address: std::net::SocketAddr,
    pub(crate) received: std::sync::mpsc::Receiver<(HashMap<String, String>, String)>,
}

impl OneRequest {
    pub(crate) fn listen() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = HashMap::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let Some((name, value)) = line.trim_end().split_once(':') else {
                        break;
                    };
                    headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
                }
                let length: usize = headers
                    .get("content-length")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .unwrap();
                let _ = sender.send((headers, String::from_utf8(body).unwrap()));
            }
        });
        OneRequest { address, received }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hooks", self.address)
    }

    /// The first request, within a minute.
    pub(crate) fn take(&self) -> (HashMap<String, String>, String) {
        self.received
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the webhook arrives")
    }
}

#[test]
fn invoke_runs_each_function_on_its_sample_event() {
    let dir = tempfile::tempdir().unwrap();
    invoke_each_sample_event(&store_arg(dir.path()));
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let cases: [(&[&str], &str); 7] = [
        (
            &[
                "invoke",
                "live-create",
                "/nonexistent/event.json",
                "--store",
                "sqlite::memory:",
            ],
            "cannot read",
        ),
        (&["serve", "--store", "postgres://db"], "unknown store"),
        (
            &["invoke", "live-nope", "x.json"],
            "invalid value 'live-nope'",
        ),
        (
            &[
                "users",
                "put",
                "--email",
                "demo@example.com",
                "--secret",
                "",
                "--store",
                "sqlite::memory:",
            ],
            "--secret must not be empty",
        ),
        (
            &["table", "create", "--store", "sqlite::memory:"],
            "table create is for dynamodb:TABLE",
        ),
        (
            &[
                "ops",
                "replay-events",
                "--store",
                "sqlite::memory:",
                "--from-queue",
                "https://sqs.us-east-1.amazonaws.com/123456789012/events-dead",
                "--to-queue",
                "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks",
            ],
            "ops replay-events is for dynamodb:TABLE",
        ),
        (
            &[
                "ops",
                "replay-events",
                "--store",
                "dynamodb:support",
                "--from-queue",
                "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                "--to-queue",
                "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            ],
            "--from-queue and --to-queue are the same queue",
        ),
    ];
    for (args, expected) in cases {
        let output = run(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// Kills the server when the test ends, however it ends.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `supportzen serve` on a free port, its stderr to `stderr`; returns the process
/// and its base URL, read from the one line it prints on stdout.
fn start_serve(store: &str, stderr: Stdio) -> (Child, String) {
    // Its agents' key goes to cargo's scratch directory, not the source tree; its webhook
    // outbox (unused here) stays in memory.
    let key = format!("{}/serve-agent-key.pem", env!("CARGO_TARGET_TMPDIR"));
    let args = [
        "--store",
        store,
        "--agent-key",
        &key,
        "--outbox",
        ":memory:",
    ];
    start_serve_with(&args, stderr)
}

/// `supportzen serve --listen 127.0.0.1:0` with `args`.
pub(crate) fn start_serve_with(args: &[&str], stderr: Stdio) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("TRUST_FIRST_REQUEST")
        // Attachments' files outside the checkout (these tests upload none).
        .env(
            "SUPPORTZEN_FILES",
            std::env::temp_dir().join("supportzen-cli-tests-files"),
        )
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("prints its address")
        .to_string();
    (child, base)
}

/// [`start_serve`], stopped when the test ends however it ends.
fn serve(store: &str) -> (Server, String) {
    let (child, base) = start_serve(store, Stdio::null());
    (Server(child), base)
}

#[test]
fn agents_token_prints_a_token_that_serve_accepts_for_its_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("agent-key.pem");
    let key = key.to_str().unwrap();
    let token = |extra: &[&str]| {
        let mut args = vec!["agents", "token", "--id", "agent-7", "--agent-key", key];
        args.extend_from_slice(extra);
        stdout(&run(&args)).trim().to_string()
    };
    let both = token(&["--name", "Sam"]);
    let read_only = token(&["--scope", "agent.read"]);
    assert_eq!(both.split('.').count(), 3, "a JWT: {both}");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");

    let store = store_arg(dir.path());
    let (child, base) = start_serve_with(&["--store", &store, "--agent-key", key], Stdio::null());
    let _server = Server(child);
    let client = reqwest::blocking::Client::new();
    let inbox = format!("{base}/api/agent/conversations?kind=chat");
    let status = |token: &str| {
        client
            .get(&inbox)
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(status(&both), 200);
    assert_eq!(status(&read_only), 200);
    let assign = client
        .post(format!("{base}/api/agent/conversations/TKT-001/assign"))
        .bearer_auth(&read_only)
        .body(r#"{"assignee": null}"#)
        .send()
        .unwrap();
    assert_eq!(assign.status(), 403);
    // A token from another key is refused.
    let other = dir.path().join("other-key.pem");
    let args = [
        "agents",
        "token",
        "--id",
        "agent-7",
        "--agent-key",
        other.to_str().unwrap(),
    ];
    assert_eq!(status(stdout(&run(&args)).trim()), 401);

    let failed = run(&["agents", "token", "--id", "", "--agent-key", key]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("--id must be 1 to 128 characters"));
    let failed = run(&["agents", "token", "--id", "a", "--scope", "admin"]);
    assert!(!failed.status.success());
}

#[test]
fn listen_prints_the_events_its_ticket_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("agent-key.pem");
    let key = key.to_str().unwrap();
    let store = store_arg(dir.path());
    put_demo_user(&store, "demo-secret");
    let (child, base) = start_serve_with(&["--store", &store, "--agent-key", key], Stdio::null());
    let _server = Server(child);
    let client = reqwest::blocking::Client::new();
    let ticket = || -> String {
        let issued: serde_json::Value = client
            .post(format!("{base}/api/client/realtime/ticket"))
            .bearer_auth(DEMO_TOKEN)
            .header("x-supportzen-email", "demo@example.com")
            .send()
            .unwrap()
            .json()
            .unwrap();
        issued["data"]["ticket"].as_str().unwrap().to_string()
    };
    let ticket = ticket();
    let mut listening = Command::new(BIN)
        .args([
            "listen", "--server", &base, "--ticket", &ticket, "--count", "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(listening.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "listening");

    let opened = client
        .post(format!("{base}/api/client/live/create"))
        .bearer_auth(DEMO_TOKEN)
        .body(r#"{"email": "demo@example.com", "created_at": 1679223400, "message": "Is anyone there?"}"#)
        .send()
        .unwrap();
    assert_eq!(opened.status(), 200);
    let printed = listening.wait_with_output().unwrap();
    assert!(printed.status.success());
    let event: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(event["type"], "message.created");
    assert_eq!(event["data"]["message"], "Is anyone there?");

    // The ticket opened its one socket; a second use is refused, in one line.
    let again = run(&["listen", "--server", &base, "--ticket", &ticket]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("refused the socket (401"), "{stderr}");
}

#[test]
fn serve_answers_on_the_port_it_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(&store_arg(dir.path()));
    let client = reqwest::blocking::Client::new();
    let response = client
        .post(format!("{base}/api/client/live/create"))
        .bearer_auth(DEMO_TOKEN)
        .body(r#"{"email":"demo@example.com","created_at":1679223400,"message":"Hi!"}"#)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().unwrap();
    assert!(
        body["data"]["chatId"]
            .as_str()
            .unwrap()
            .starts_with("chat-")
    );
}

#[test]
fn serve_serves_the_console_and_its_local_sign_in_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(&store_arg(dir.path()));
    let client = reqwest::blocking::Client::new();
    let page = client.get(format!("{base}/console/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let module = client.get(format!("{base}/web/client.js")).send().unwrap();
    assert_eq!(
        module.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(module.text().unwrap().contains("export class AgentClient"));
    let config: serde_json::Value = client
        .get(format!("{base}/console/config.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["mode"], "local");
    assert_eq!(config["localSignIn"], "/console/local/sign-in");

    // Listening on 127.0.0.1, the sign-in mints a token the agent routes take.
    let signed_in: serde_json::Value = client
        .post(format!("{base}/console/local/sign-in"))
        .header("content-type", "application/json")
        .body(r#"{"id": "agent-7", "name": "Sam from Support"}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = signed_in["data"]["token"].as_str().expect("a token");
    let inbox = client
        .get(format!("{base}/api/agent/conversations?kind=chat"))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(inbox.status(), 200);
    // A page on another name that resolves here (DNS rebinding) is refused.
    let rebound = client
        .post(format!("{base}/console/local/sign-in"))
        .header("content-type", "application/json")
        .header("host", "evil.example")
        .body(r#"{"id": "agent-7"}"#)
        .send()
        .unwrap();
    assert_eq!(rebound.status(), 403);
}

/// `webhooks add`, `list` and `remove` on `store`: the secret is printed once, with a
/// word saying so, and never listed.
fn manage_webhooks(store: &str) {
    let added = stdout(&run(&[
        "webhooks",
        "add",
        "--url",
        "https://example.com/hooks?token=t",
        "--events",
        "message.created,conversation.assigned",
        "--store",
        store,
    ]));
    let line = |prefix: &str| {
        let found = added.lines().find_map(|line| line.strip_prefix(prefix));
        found
            .unwrap_or_else(|| panic!("{prefix}: {added}"))
            .to_string()
    };
    let (id, secret) = (line("id: "), line("secret: "));
    assert!(
        id.starts_with("wh_") && secret.starts_with("whsec_"),
        "{added}"
    );
    assert!(added.contains("shown only this once"), "{added}");

    let listed = stdout(&run(&["webhooks", "list", "--store", store]));
    assert!(!listed.contains("whsec_"), "{listed}");
    let endpoint: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(endpoint["id"], id.as_str());
    assert_eq!(endpoint["url"], "https://example.com/hooks?token=t");
    assert_eq!(
        endpoint["events"],
        serde_json::json!(["message.created", "conversation.assigned"])
    );
    assert_eq!(endpoint["enabled"], true);

    for (args, error) in [
        (
            ["--url", "ftp://example.com/", "--events", "message.created"],
            "--url must be an absolute http or https URL",
        ),
        (
            [
                "--url",
                "https://example.com/",
                "--events",
                "message.deleted",
            ],
            "invalid value 'message.deleted' for '--events <EVENTS>'",
        ),
    ] {
        let refused = run(&[&["webhooks", "add", "--store", store][..], &args].concat());
        assert!(!refused.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(error), "{args:?}: {stderr}");
    }

    let removed = stdout(&run(&["webhooks", "remove", &id, "--store", store]));
    assert_eq!(removed.trim(), format!("webhook {id} removed"));
    assert_eq!(stdout(&run(&["webhooks", "list", "--store", store])), "");
    let again = run(&["webhooks", "remove", &id, "--store", store]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(&format!("there is no webhook {id}")),
        "{stderr}"
    );
}

#[test]
fn webhook_endpoints_are_managed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    manage_webhooks(&store_arg(dir.path()));
}

/// `webhooks deliveries` reads the store's outbox (beside it by default): pending and dead
/// deliveries, without their bodies, and the counts on stderr.
#[test]
fn deliveries_lists_the_outbox_of_the_store() {
    use supportzen_shared::events::EventType;
    use supportzen_shared::events::delivery::Delivery;
    use supportzen_sqlite::Outbox;

    let dir = tempfile::tempdir().unwrap();
    let store = store_arg(dir.path());
    let missing = run(&["webhooks", "deliveries", "--store", &store]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("there is no outbox at"), "{stderr}");
    assert!(
        !dir.path().join("test-outbox.db").exists(),
        "nothing is created"
    );

    let delivery = |event: &str| Delivery {
        endpoint_id: "wh_1".into(),
        event_id: event.into(),
        event_type: EventType::MessageCreated,
        body: r#"{"data":{"customer":{"email":"ann@example.com"}}}"#.into(),
        first_attempt_at: 1_000,
        attempts: 0,
    };
    let path = dir.path().join("test-outbox.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let outbox = Outbox::open(path.to_str().unwrap()).unwrap();
        let both = vec![delivery("evt_waiting"), delivery("evt_dead")];
        outbox.enqueue(both, 1_000).await.unwrap();
        let claims = outbox.claim_due(1_000, 2_000, 10).await.unwrap();
        outbox
            .retry_at(&claims[0], 1, 9_000, "answered 500 Internal Server Error")
            .await
            .unwrap();
        outbox
            .bury(&claims[1], 8, 5_000, "answered 503 Service Unavailable")
            .await
            .unwrap();
    });

    let listed = run(&["webhooks", "deliveries", "--store", &store]);
    let text = stdout(&listed);
    assert!(!text.contains("ann@example.com"), "no bodies: {text}");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0]["state"], "pending");
    assert_eq!(rows[0]["eventId"], "evt_waiting");
    assert_eq!(rows[0]["attempts"], 1);
    assert_eq!(rows[0]["nextAttemptAt"], 9_000);
    assert_eq!(rows[0]["lastError"], "answered 500 Internal Server Error");
    assert_eq!(rows[1]["state"], "dead");
    assert_eq!(rows[1]["eventId"], "evt_dead");
    assert_eq!(rows[1]["attempts"], 8);
    assert_eq!(rows[1]["diedAt"], 5_000);
    assert_eq!(rows[1]["lastError"], "answered 503 Service Unavailable");
    assert_eq!(
        String::from_utf8_lossy(&listed.stderr).trim(),
        "1 pending, 1 dead"
    );
    let named = run(&["webhooks", "deliveries", "--outbox", path.to_str().unwrap()]);
    assert_eq!(stdout(&named), text);
}

/// The same commands on DynamoDB Local (started by ./scripts/test).
#[test]
fn the_commands_work_on_a_dynamodb_table() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "needs DynamoDB Local: run ./scripts/test"
    );
    let store = format!("dynamodb:cli-{}", std::process::id());
    let table = stdout(&run(&["table", "create", "--store", &store]));
    assert!(table.contains("is active"), "{table}");
    let again = stdout(&run(&["table", "create", "--store", &store]));
    assert!(again.contains("already there"), "{again}");
    invoke_each_sample_event(&store);
    manage_webhooks(&store);
    put_demo_user(&store, "demo-secret");

    let (_server, base) = serve(&store);
    let response = reqwest::blocking::Client::new()
        .post(format!("{base}/api/client/ticket/create"))
        .bearer_auth(DEMO_TOKEN)
        .body(r#"{"data":{"email":"demo@example.com","created_at":1679223400,"message":"Again"}}"#)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(
        body["data"]["ticketId"], "TKT-003",
        "the sample events opened TKT-001 and (in a rotation's grace period) TKT-002; the revoked token's request took no number"
    );
}

/// The AWS SDK panics on an empty endpoint override; the CLI must refuse it instead.
#[test]
fn an_empty_endpoint_override_is_refused_not_a_panic() {
    let mut put = Command::new(BIN);
    put.args(put_demo("dynamodb:demo"))
        .env("AWS_ENDPOINT_URL_DYNAMODB", "");
    fails_in_one_line(
        put,
        "AWS_ENDPOINT_URL_DYNAMODB is set but empty",
        "unset it",
    );
}

/// `users put` for the demo user into `store`.
fn put_demo(store: &str) -> [&str; 8] {
    [
        "users",
        "put",
        "--email",
        "demo@example.com",
        "--secret",
        "s",
        "--store",
        store,
    ]
}

/// Runs a failing command and checks what it printed on stderr: one short line, no debug
/// structs (SDK errors print raw responses and `Some(..)` otherwise), naming `cause` and
/// suggesting `remedy`.
fn fails_in_one_line(mut command: Command, cause: &str, remedy: &str) {
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.len() < 500, "{} bytes: {stderr}", stderr.len());
    for debug in ["Some(", " { ", "DispatchFailure(", "\u{1b}[", "panicked"] {
        assert!(!stderr.contains(debug), "{debug:?} in {stderr}");
    }
    assert!(stderr.contains(cause), "no {cause:?} in {stderr}");
    assert!(stderr.contains(remedy), "no {remedy:?} in {stderr}");
}

/// `supportzen` with the environment of a shell that set none of AWS's variables, and a
/// home without AWS configuration. Instance metadata is off: nothing leaves the machine.
fn bare(args: &[&str], home: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).env_clear();
    command
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

#[test]
fn aws_failures_are_one_line_that_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let put = put_demo("dynamodb:demo");
    // Nothing listens on port 9 (discard) here.
    let mut unreachable = bare(&put, home.path());
    unreachable.env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9");
    unreachable.env("AWS_REGION", "us-east-1");
    unreachable
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local");
    fails_in_one_line(
        unreachable,
        "Connection refused",
        "Is DynamoDB running at http://127.0.0.1:9?",
    );

    let mut no_credentials = bare(&put, home.path());
    no_credentials.env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9");
    no_credentials.env("AWS_REGION", "us-east-1");
    fails_in_one_line(no_credentials, "credentials", "AWS_ACCESS_KEY_ID=local");

    let mut no_region = bare(&put, home.path());
    no_region.env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9");
    no_region
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local");
    fails_in_one_line(no_region, "region", "export AWS_REGION");
}

/// On DynamoDB Local (started by ./scripts/test): a missing table is named, with the
/// command that creates it, whether a command writes to it or the server would serve it.
#[test]
fn a_missing_table_is_named_with_the_command_that_creates_it() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "needs DynamoDB Local: run ./scripts/test"
    );
    let store = format!("dynamodb:missing-{}", std::process::id());
    let mut put = Command::new(BIN);
    put.args(put_demo(&store));
    fails_in_one_line(
        put,
        "ResourceNotFoundException",
        "supportzen table create --store",
    );
    let mut serve = Command::new(BIN);
    serve.args(["serve", "--listen", "127.0.0.1:0", "--store", &store]);
    fails_in_one_line(serve, "does not exist", "supportzen table create --store");
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, _) = start_serve(&store_arg(dir.path()), Stdio::piped());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "colours on a pipe: {stderr:?}");
}
