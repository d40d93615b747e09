//! Attachments over HTTP, on both stores: a file is declared, uploaded straight to the
//! storage (here `supportzen serve`'s /files) with the signed form, attached by naming
//! its id, and read back through a signed link. Every check that refuses an attachment
//! is a clear 4xx, and a refused message writes nothing.

use serde_json::json;
use std::time::{Duration, SystemTime};
use supportzen_shared::domain::{DEFAULT_MAX_ATTACHMENT_BYTES, Scope};
use supportzen_shared::store::UPLOAD_FORM_LIFETIME;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "bob-secret";

/// A PNG's signature, then filler: what the first-bytes check looks at.
fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size, 7);
    bytes
}

async fn desk<S: TestStore>() -> (TestApp<S>, String, String) {
    let app = TestApp::<S>::spawn().await;
    app.provision(ANN, ANN_SECRET).await;
    app.provision(BOB, BOB_SECRET).await;
    (app, token(ANN_SECRET, ANN), token(BOB_SECRET, BOB))
}

/// Declares an upload as `email`: the reply (the form is its `data.upload`).
async fn declare<S: TestStore>(
    app: &TestApp<S>,
    token: &str,
    email: &str,
    name: &str,
    content_type: &str,
    size: u64,
) -> Reply {
    let body = json!({"email": email, "name": name, "content_type": content_type, "size": size});
    app.post(ATTACHMENTS, Some(token), &body).await
}

/// Declares and uploads `file` as `email`; the attachment id.
async fn uploaded<S: TestStore>(
    app: &TestApp<S>,
    token: &str,
    email: &str,
    name: &str,
    content_type: &str,
    file: &[u8],
) -> String {
    let reply = declare(app, token, email, name, content_type, file.len() as u64).await;
    let data = reply.ok();
    let (status, text) = app.upload(&data["upload"], content_type, file).await;
    assert_eq!(status, 204, "{text}");
    data["attachmentId"].as_str().unwrap().to_string()
}

/// Ann's open ticket, with one message.
async fn ann_ticket<S: TestStore>(app: &TestApp<S>, ann: &str) -> String {
    let reply = app
        .post(TICKET_CREATE, Some(ann), &create_body(ANN, "first"))
        .await;
    reply.ok()["ticketId"].as_str().unwrap().to_string()
}

async fn append<S: TestStore>(app: &TestApp<S>, ann: &str, ticket: &str, ids: &[&str]) -> Reply {
    let body =
        json!({"ticket_id": ticket, "email": ANN, "message": "see attached", "attachments": ids});
    app.post(TICKET_APPEND, Some(ann), &body).await
}

/// Asserts a 400 on `attachments` whose message names `id` and says `what`.
fn refused(reply: &Reply, id: &str, what: &str) {
    let error = reply.err(400, "invalid_field");
    assert_eq!(error["field"], "attachments", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(id), "{message}");
    assert!(message.contains(what), "{message}");
}

async fn a_screenshot_is_uploaded_attached_and_read_back<S: TestStore>() {
    let (app, ann, _) = desk::<S>().await;
    let picture = png(3000);
    let declared = declare(&app, &ann, ANN, "screen shot.png", "image/png", 3000).await;
    let data = declared.ok().clone();
    let id = data["attachmentId"].as_str().unwrap();
    assert!(id.starts_with("att-"), "{data}");
    let form = &data["upload"];
    let expires_at = form["expiresAt"].as_i64().unwrap();
    let now = supportzen_shared::domain::now_millis();
    assert!(
        expires_at > now && expires_at <= now + 5 * 60 * 1000,
        "{data}"
    );
    assert!(
        form["fields"]["key"]
            .as_str()
            .unwrap()
            .starts_with("uploads/customer/"),
        "{data}"
    );
    assert_eq!(app.upload(form, "image/png", &picture).await.0, 204);
    let report = uploaded(
        &app,
        &ann,
        ANN,
        "report.pdf",
        "application/pdf",
        b"%PDF-1.7\n%...",
    )
    .await;

    // The first message of a ticket carries both.
    let mut body = create_body(ANN, "my screen and the invoice");
    body["attachments"] = json!([id, report]);
    let ticket = app.post(TICKET_CREATE, Some(&ann), &body).await;
    let ticket = ticket.ok()["ticketId"].as_str().unwrap().to_string();

    let page = app.get(&messages_path(&ticket), Some(&ann), ANN).await;
    let files = page.ok()["messages"][0]["attachments"].clone();
    assert_eq!(files.as_array().unwrap().len(), 2, "{files}");
    assert_eq!(files[0]["id"], id);
    assert_eq!(files[0]["name"], "screen shot.png");
    assert_eq!(files[0]["contentType"], "image/png");
    assert_eq!(files[0]["size"], 3000);

    // The picture is served inline as what it is; the PDF only as a download.
    let (status, headers, bytes) = app.download(files[0]["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, picture);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, headers, bytes) = app.download(files[1]["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes.as_slice()), (200, &b"%PDF-1.7\n%..."[..]));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("report.pdf"), "{disposition}");

    // A name without its type's extension is saved with it.
    let bare = uploaded(&app, &ann, ANN, "invoice", "application/pdf", b"%PDF-1.7\n").await;
    append(&app, &ann, &ticket, &[&bare]).await.ok();
    let page = app.get(&messages_path(&ticket), Some(&ann), ANN).await;
    let file = page.ok()["messages"][1]["attachments"][0].clone();
    assert_eq!(file["name"], "invoice");
    let (_, headers, _) = app.download(file["url"].as_str().unwrap()).await;
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.ends_with("''invoice.pdf"), "{disposition}");

    // Agents read the same files.
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let path = agent_path(
        supportzen_shared::endpoint::Endpoint::AgentMessages,
        &ticket,
    );
    let page = app.agent_get(&path, &agent).await;
    let url = page.ok()["messages"][0]["attachments"][0]["url"].clone();
    let (status, _, bytes) = app.download(url.as_str().unwrap()).await;
    assert_eq!((status, bytes), (200, picture));
}

async fn uploads_outside_the_limits_are_refused_when_declared<S: TestStore>() {
    let (app, ann, _) = desk::<S>().await;
    let too_big = DEFAULT_MAX_ATTACHMENT_BYTES + 1;
    declare(&app, &ann, ANN, "big.png", "image/png", too_big)
        .await
        .bad_field("size");
    declare(&app, &ann, ANN, "empty.png", "image/png", 0)
        .await
        .bad_field("size");
    for script in ["text/html", "image/svg+xml", "application/javascript"] {
        declare(&app, &ann, ANN, "page", script, 10)
            .await
            .bad_field("content_type");
    }
    declare(&app, &ann, ANN, "../etc/passwd", "text/plain", 10)
        .await
        .bad_field("name");
    // A right-to-left override would show `invoice\u{202E}fdp.exe` as `invoiceexe.pdf`.
    for hidden in ["invoice\u{202E}fdp.exe", "a\u{200B}.png", "\u{FEFF}a.png"] {
        declare(&app, &ann, ANN, hidden, "image/png", 10)
            .await
            .bad_field("name");
    }
    let wrong = token("not-ann", ANN);
    declare(&app, &wrong, ANN, "a.png", "image/png", 10)
        .await
        .err(401, "unauthorized");
}

async fn a_refused_attachment_is_a_400_naming_it_and_writes_nothing<S: TestStore>() {
    let (app, ann, bob) = desk::<S>().await;
    let ticket = ann_ticket(&app, &ann).await;
    let id = ticket_id(&ticket);
    let unchanged = || async { texts(&app.store, &id).await };
    assert_eq!(unchanged().await, ["first"]);

    // More bytes than declared: the storage refuses them, so nothing is there to attach.
    let reply = declare(&app, &ann, ANN, "shot.png", "image/png", 100).await;
    let oversize = reply.ok()["attachmentId"].as_str().unwrap().to_string();
    let (status, text) = app
        .upload(&reply.ok()["upload"], "image/png", &png(101))
        .await;
    assert_eq!(status, 413, "{text}");
    refused(
        &append(&app, &ann, &ticket, &[&oversize]).await,
        &oversize,
        "never uploaded",
    );

    // Declared as a PNG, but an HTML page: stored (the size is right), never attached.
    let page = b"<html><script>alert(document.cookie)</script></html>";
    let disguised = uploaded(&app, &ann, ANN, "cat.png", "image/png", page).await;
    refused(
        &append(&app, &ann, &ticket, &[&disguised]).await,
        &disguised,
        "not image/png",
    );

    // Bob's upload is Bob's.
    let bobs = uploaded(&app, &bob, BOB, "bob.png", "image/png", &png(64)).await;
    refused(
        &append(&app, &ann, &ticket, &[&bobs]).await,
        &bobs,
        "not an upload of yours",
    );
    // An id nobody issued reads the same.
    let unknown = "att-0194f1d2-7c1e-7000-8000-000000000000";
    refused(
        &append(&app, &ann, &ticket, &[unknown]).await,
        unknown,
        "not an upload of yours",
    );

    // A form whose five minutes are over: the storage refuses it, nothing is stored.
    let reply = declare(&app, &ann, ANN, "late.png", "image/png", 64).await;
    let late = reply.ok()["attachmentId"].as_str().unwrap().to_string();
    let key = reply.ok()["upload"]["fields"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let signed_earlier = SystemTime::now() - UPLOAD_FORM_LIFETIME - Duration::from_secs(1);
    let expired =
        app.file_store
            .signed_form(&key, "image/png", 64, signed_earlier, UPLOAD_FORM_LIFETIME);
    let (status, text) = app
        .upload(
            &serde_json::to_value(&expired).unwrap(),
            "image/png",
            &png(64),
        )
        .await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("expired"), "{text}");
    refused(
        &append(&app, &ann, &ticket, &[&late]).await,
        &late,
        "never uploaded",
    );

    // One good file among them changes nothing: the message is refused whole, and the
    // good file stays free to attach.
    let good = uploaded(&app, &ann, ANN, "good.png", "image/png", &png(64)).await;
    refused(
        &append(&app, &ann, &ticket, &[&good, &disguised]).await,
        &disguised,
        "not image/png",
    );
    append(&app, &ann, &ticket, &[&good]).await.ok();

    // Used twice: the second message is refused.
    refused(
        &append(&app, &ann, &ticket, &[&good]).await,
        &good,
        "not an upload of yours",
    );
    let mut body = create_body(ANN, "again");
    body["attachments"] = json!([good]);
    refused(
        &app.post(LIVE_CREATE, Some(&ann), &body).await,
        &good,
        "not an upload of yours",
    );

    // Malformed lists are refused before anything is read.
    let reply = append(&app, &ann, &ticket, &[&good, &good]).await;
    assert!(
        reply.err(400, "invalid_field")["message"]
            .as_str()
            .unwrap()
            .contains("twice")
    );
    append(&app, &ann, &ticket, &["not-an-id"])
        .await
        .bad_field("attachments");
    let eleven: Vec<String> = (0..11)
        .map(|n| format!("att-0194f1d2-7c1e-7000-8000-0000000000{n:02}"))
        .collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let error = append(&app, &ann, &ticket, &eleven).await;
    assert!(
        error.err(400, "invalid_field")["message"]
            .as_str()
            .unwrap()
            .contains("at most 10")
    );

    assert_eq!(unchanged().await, ["first", "see attached"]);
    assert_eq!(conversation_count(&app, ANN).await, 1, "no chat was opened");
}

async fn agents_attach_their_own_uploads<S: TestStore>() {
    let (app, ann, _) = desk::<S>().await;
    let ticket = ann_ticket(&app, &ann).await;
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let body = json!({"name": "steps.txt", "content_type": "text/plain", "size": 20});
    let reply = app.agent_post(AGENT_ATTACHMENTS, &agent, &body).await;
    let data = reply.ok().clone();
    assert!(
        data["upload"]["fields"]["key"]
            .as_str()
            .unwrap()
            .starts_with("uploads/agent/"),
        "{data}"
    );
    let text = b"1. restart 2. retry\n";
    assert_eq!(app.upload(&data["upload"], "text/plain", text).await.0, 204);
    let id = data["attachmentId"].as_str().unwrap();

    let path = agent_path(supportzen_shared::endpoint::Endpoint::AgentReply, &ticket);
    let reply = app
        .agent_post(
            &path,
            &agent,
            &json!({"message": "try this", "attachments": [id]}),
        )
        .await;
    let file = reply.ok()["message"]["attachments"][0].clone();
    assert_eq!(
        (file["id"].as_str(), file["size"].as_u64()),
        (Some(id), Some(20))
    );
    let (status, headers, bytes) = app.download(file["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes.as_slice()), (200, &text[..]));
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");

    // The customer sees it too.
    let page = app.get(&messages_path(&ticket), Some(&ann), ANN).await;
    assert_eq!(page.ok()["messages"][1]["attachments"][0]["id"], id);

    // A customer's upload is not an agent's to attach, nor another agent's theirs.
    let customers = uploaded(&app, &ann, ANN, "a.png", "image/png", &png(64)).await;
    let other = app.agent_token("agent-8", &Scope::ALL);
    for (token, file) in [(&agent, &customers), (&other, &id.to_string())] {
        let reply = app
            .agent_post(
                &path,
                token,
                &json!({"message": "x", "attachments": [file]}),
            )
            .await;
        refused(&reply, file, "not an upload of yours");
    }
    // Uploading needs agent.write.
    let reader = app.agent_token("agent-9", &[Scope::Read]);
    app.agent_post(AGENT_ATTACHMENTS, &reader, &body)
        .await
        .err(403, "forbidden");
}

/// The files `supportzen serve` keeps for messages (copies of attached uploads).
fn kept_files<S>(app: &TestApp<S>) -> usize {
    match std::fs::read_dir(app.files.path().join("kept")) {
        Ok(entries) => entries.count(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => 0,
        Err(err) => panic!("cannot read the kept files: {err}"),
    }
}

/// An upload form stores one file, once: posting it again (other bytes, same size and
/// type) is refused, before and after the file is attached, and the message's link
/// always serves the file that was checked.
async fn a_form_posted_again_never_changes_an_attached_file<S: TestStore>() {
    let (app, ann, _) = desk::<S>().await;
    let ticket = ann_ticket(&app, &ann).await;
    let checked = png(64);
    let reply = declare(&app, &ann, ANN, "shot.png", "image/png", 64).await;
    let form = reply.ok()["upload"].clone();
    let id = reply.ok()["attachmentId"].as_str().unwrap().to_string();
    assert_eq!(app.upload(&form, "image/png", &checked).await.0, 204);
    let mut other = png(64);
    other[40..].fill(0x42);
    let (status, text) = app.upload(&form, "image/png", &other).await;
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("already uploaded with this form"), "{text}");

    append(&app, &ann, &ticket, &[&id]).await.ok();
    let (status, text) = app.upload(&form, "image/png", &other).await;
    assert_eq!(status, 409, "{text}");
    let page = app.get(&messages_path(&ticket), Some(&ann), ANN).await;
    let file = page.ok()["messages"][1]["attachments"][0].clone();
    assert_eq!(file["id"], id.as_str());
    let (status, _, bytes) = app.download(file["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes), (200, checked));
}

/// A message that is not written keeps none of the files it named: they stay free to
/// attach, and no copy of them is left kept.
async fn a_message_not_written_keeps_no_file<S: TestStore>() {
    let (app, ann, _) = desk::<S>().await;
    let ticket = ann_ticket(&app, &ann).await;
    let id = uploaded(&app, &ann, ANN, "shot.png", "image/png", &png(64)).await;
    // A made-up ticket: 404, and nothing kept.
    append(&app, &ann, "TKT-999", &[&id])
        .await
        .err(404, "not_found");
    assert_eq!(kept_files(&app), 0, "the copy was released");
    // An agent's reply to a closed conversation: 409, and nothing kept.
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let status = agent_path(supportzen_shared::endpoint::Endpoint::AgentStatus, &ticket);
    app.agent_post(&status, &agent, &json!({"status": "closed"}))
        .await
        .ok();
    let body = json!({"name": "steps.txt", "content_type": "text/plain", "size": 5});
    let reply = app.agent_post(AGENT_ATTACHMENTS, &agent, &body).await;
    let agents = reply.ok()["attachmentId"].as_str().unwrap().to_string();
    assert_eq!(
        app.upload(&reply.ok()["upload"], "text/plain", b"hello")
            .await
            .0,
        204
    );
    let reply_path = agent_path(supportzen_shared::endpoint::Endpoint::AgentReply, &ticket);
    let message = json!({"message": "try this", "attachments": [agents]});
    app.agent_post(&reply_path, &agent, &message)
        .await
        .err(409, "conversation_closed");
    assert_eq!(kept_files(&app), 0, "the copy was released");

    // Both are still theirs to attach, once.
    let open = ann_ticket(&app, &ann).await;
    append(&app, &ann, &open, &[&id]).await.ok();
    let reply_path = agent_path(supportzen_shared::endpoint::Endpoint::AgentReply, &open);
    app.agent_post(&reply_path, &agent, &message).await.ok();
    assert_eq!(kept_files(&app), 2);
}

/// An upload past its day is not attached, even if the store still has its record (a
/// DynamoDB TTL removes expired items up to two days late).
async fn an_upload_past_its_day_is_refused<S: TestStore>() {
    use supportzen_shared::domain::{
        AttachmentId, ContentType, Email, FileName, Uploader, now_millis,
    };
    use supportzen_shared::store::{UNATTACHED_UPLOAD_TTL_SECS, UploadRecord};
    let (app, ann, _) = desk::<S>().await;
    let ticket = ann_ticket(&app, &ann).await;
    let record = UploadRecord {
        id: AttachmentId::generate(),
        uploader: Uploader::customer(Email::parse(ANN).unwrap().user_id()),
        name: FileName::parse("old.png").unwrap(),
        content_type: ContentType::Png,
        size: 64,
        created_at: now_millis() - UNATTACHED_UPLOAD_TTL_SECS * 1000 - 1,
        attached_to: None,
    };
    app.store.record_upload(&record).await.unwrap();
    let form = app.file_store.signed_form(
        &record.key(),
        "image/png",
        64,
        SystemTime::now(),
        UPLOAD_FORM_LIFETIME,
    );
    let form = serde_json::to_value(&form).unwrap();
    assert_eq!(app.upload(&form, "image/png", &png(64)).await.0, 204);
    let id = record.id.to_string();
    refused(&append(&app, &ann, &ticket, &[&id]).await, &id, "expired");
    assert_eq!(kept_files(&app), 0);
}

/// `TKT-001` as the store's id.
fn ticket_id(key: &str) -> supportzen_shared::domain::ConversationId {
    ticket(&json!({ "ticketId": key }))
}

for_each_store!(
    a_screenshot_is_uploaded_attached_and_read_back,
    uploads_outside_the_limits_are_refused_when_declared,
    a_refused_attachment_is_a_400_naming_it_and_writes_nothing,
    agents_attach_their_own_uploads,
    a_form_posted_again_never_changes_an_attached_file,
    a_message_not_written_keeps_no_file,
    an_upload_past_its_day_is_refused,
);
