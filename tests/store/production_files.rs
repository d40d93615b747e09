//! Attachments as production runs them: the Lambda handlers on DynamoDB Local with
//! `S3Objects` on an S3-compatible server (moto's, which ./scripts/test starts and names
//! in `AWS_ENDPOINT_URL_S3`). A presigned POST uploads, the attach checks the object with
//! HEAD and a ranged GET (If-Match its ETag) and copies that version to `files/`, tagged
//! attached, a presigned GET downloads the copy; and the DynamoDB calls an attachment adds
//! are the documented ones.
//!
//! moto honours neither the POST policy nor signatures, so a file of the wrong size or
//! type is stored here; the attach check is what refuses it, as it would on S3 should a
//! policy ever be wrong.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use supportzen_shared::Config;
use supportzen_shared::auth::Secret;
use supportzen_shared::domain::Email;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::http::handlers::{
    attachment_upload, conversation_messages, ticket_append, ticket_create,
};
use supportzen_shared::http::with_route_parameters;
use supportzen_shared::s3::{Bucket, Credentials, S3Objects};
use supportzen_shared::store::UserProvisioner;
use supportzen_tests::dynamo::{RoundTrips, fresh_dynamo_store};
use supportzen_tests::{create_body, token};

const EMAIL: &str = "ann@example.com";
const SECRET: &str = "s3cret";

/// The S3-compatible server ./scripts/test started.
fn server() -> String {
    std::env::var("AWS_ENDPOINT_URL_S3").expect(
        "AWS_ENDPOINT_URL_S3 names no S3-compatible server: run these tests with ./scripts/test, which starts one",
    )
}

/// A new, empty bucket on the server (moto creates one on an unsigned PUT).
async fn fresh_bucket(client: &reqwest::Client) -> (S3Objects, String) {
    let name = format!("attachments-{}", uuid::Uuid::now_v7().simple());
    let created = client
        .put(format!("{}/{name}", server()))
        .send()
        .await
        .expect("the S3 server answers");
    assert!(created.status().is_success(), "{}", created.status());
    let credentials = Credentials {
        access_key_id: "local".into(),
        secret_access_key: "local".into(),
        session_token: None,
    };
    let bucket = Bucket::path_style(&name, "us-east-1", &server());
    (S3Objects::new(bucket, credentials).unwrap(), name)
}

fn post(body: &Value) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .header("authorization", format!("Bearer {}", token(SECRET, EMAIL)))
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn answer(response: Response<Body>) -> (u16, Value) {
    let body = serde_json::from_slice(response.body().as_ref()).unwrap();
    (response.status().as_u16(), body)
}

fn data(response: Response<Body>) -> Value {
    let (status, body) = answer(response);
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn provisioned() -> (DynamoStore, RoundTrips) {
    let (store, trips) = fresh_dynamo_store().await;
    let user = Email::parse(EMAIL).unwrap();
    store
        .put_secret(
            user.user_id(),
            &Secret::parse(SECRET).unwrap(),
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
    trips.take();
    (store, trips)
}

/// Declares `file` and uploads it with the presigned POST, as a browser would; the id.
async fn upload(
    store: &DynamoStore,
    files: &S3Objects,
    client: &reqwest::Client,
    content_type: &str,
    file: &[u8],
) -> String {
    let target = upload_target(store, files, client, content_type, file).await;
    target["attachmentId"].as_str().unwrap().to_string()
}

/// Posts `file` with the upload form of `target` (a declared upload's `data`).
async fn post_form(client: &reqwest::Client, target: &Value, content_type: &str, file: &[u8]) {
    let form = &target["upload"];
    let fields = form["fields"].as_object().unwrap();
    let (header, bytes) = supportzen::files::upload_body(fields, content_type, file);
    let stored = client
        .post(form["url"].as_str().unwrap())
        .header("content-type", header)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(stored.status().is_success(), "{}", stored.status());
}

/// The keys in the bucket under `prefix` (moto lists without a signature).
async fn keys(client: &reqwest::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let listing = client
        .get(format!("{}/{bucket}?list-type=2&prefix={prefix}", server()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_string()))
        .collect()
}

/// Declares `file` and uploads it with the presigned POST; the declaration's `data`.
async fn upload_target(
    store: &DynamoStore,
    files: &S3Objects,
    client: &reqwest::Client,
    content_type: &str,
    file: &[u8],
) -> Value {
    let body = json!({"email": EMAIL, "name": "shot.png", "content_type": content_type, "size": file.len()});
    let target = data(attachment_upload(store, files, &Config::default(), post(&body)).await);
    let form = &target["upload"];
    let fields = form["fields"].as_object().unwrap();
    // The policy S3 would enforce: the exact key, type and size range, the unattached tag.
    assert!(
        fields["key"]
            .as_str()
            .unwrap()
            .starts_with("uploads/customer/")
    );
    assert_eq!(fields["Content-Type"], content_type);
    assert!(fields.contains_key("policy") && fields.contains_key("x-amz-signature"));
    post_form(client, &target, content_type, file).await;
    target
}

/// The first page of Ann's conversation `id`, as conversation-messages answers it.
async fn first_page(store: &DynamoStore, files: &S3Objects, id: &str) -> Value {
    let read = lambda_http::http::Request::builder()
        .method("GET")
        .header("authorization", format!("Bearer {}", token(SECRET, EMAIL)))
        .header("x-supportzen-email", EMAIL)
        .body(Body::Empty)
        .unwrap();
    let read = with_route_parameters(read, vec![("id", id.to_string())]);
    data(conversation_messages(store, files, &Config::default(), read).await)
}

fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size, 7);
    bytes
}

#[tokio::test]
async fn a_presigned_upload_is_attached_and_downloaded_with_a_presigned_get() {
    let client = reqwest::Client::new();
    let (files, _) = fresh_bucket(&client).await;
    let (store, trips) = provisioned().await;
    let config = Config::default();
    let picture = png(5000);
    let id = upload(&store, &files, &client, "image/png", &picture).await;
    assert_eq!(
        trips.take(),
        ["GetItem", "PutItem"],
        "declaring: the user, the upload's record"
    );

    let mut body = create_body(EMAIL, "my screen");
    body["attachments"] = json!([id]);
    let ticket = data(ticket_create(&store, &files, &config, post(&body)).await);
    assert_eq!(
        trips.take(),
        [
            "GetItem",
            "BatchGetItem",
            "UpdateItem",
            "TransactWriteItems"
        ],
        "ticket-create with a file: the uploads' records read once, claimed in the write"
    );

    let ticket_id = ticket["ticketId"].as_str().unwrap();
    let page = first_page(&store, &files, ticket_id).await;
    let file = &page["messages"][0]["attachments"][0];
    assert_eq!(
        (file["id"].as_str(), file["size"].as_u64()),
        (Some(id.as_str()), Some(5000))
    );
    let url = file["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=900"), "15 minutes: {url}");
    let downloaded = client.get(url).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.headers()["content-type"], "image/png");
    assert_eq!(
        downloaded.bytes().await.unwrap().as_ref(),
        picture.as_slice()
    );

    // Kept: a copy under files/, tagged attached, so the lifecycle rule leaves it; the
    // upload itself is never tagged attached (on S3 its form tagged it unattached, for
    // the rule to delete; moto ignores a form's tagging field, so it has no tag here).
    use supportzen_shared::store::ConversationAdmin;
    let messages = store
        .messages(&supportzen_tests::ticket(&ticket))
        .await
        .unwrap();
    let kept = messages[0].attachments[0].key.clone();
    let uploader =
        supportzen_shared::domain::Uploader::customer(Email::parse(EMAIL).unwrap().user_id());
    assert!(
        kept.starts_with(&format!(
            "files/customer/{}/{id}/",
            &uploader.as_str()["uploads/customer/".len()..]
        )),
        "{kept}"
    );
    let tagging = files.tagging(&kept).await.unwrap();
    assert!(tagging.contains("<Value>attached</Value>"), "{tagging}");
    let tagging = files
        .tagging(&uploader.key(&supportzen_shared::domain::AttachmentId::parse(&id).unwrap()))
        .await
        .unwrap();
    assert!(!tagging.contains("<Value>attached</Value>"), "{tagging}");

    // Attached once: a second message naming it is refused, and writes nothing.
    let append =
        json!({"ticket_id": ticket_id, "email": EMAIL, "message": "again", "attachments": [id]});
    let (status, body) = answer(ticket_append(&store, &files, &config, post(&append)).await);
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("attachments"))
    );
}

/// The upload form stays valid five minutes and S3 stores whatever a valid form posts
/// (moto even ignores the policy): posting it again after the attach must not change
/// what the message's link serves, and a copy is only made of the version checked.
#[tokio::test]
async fn a_form_posted_again_never_changes_an_attached_file() {
    let client = reqwest::Client::new();
    let (files, bucket) = fresh_bucket(&client).await;
    let (store, _) = provisioned().await;
    let config = Config::default();
    let checked = png(4000);
    let target = upload_target(&store, &files, &client, "image/png", &checked).await;
    let id = target["attachmentId"].as_str().unwrap();
    let mut body = create_body(EMAIL, "my screen");
    body["attachments"] = json!([id]);
    let ticket = data(ticket_create(&store, &files, &config, post(&body)).await);

    let mut other = png(4000);
    other[100..].fill(0x42);
    post_form(&client, &target, "image/png", &other).await;
    let page = first_page(&store, &files, ticket["ticketId"].as_str().unwrap()).await;
    let url = page["messages"][0]["attachments"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let downloaded = client.get(&url).send().await.unwrap();
    assert_eq!(
        downloaded.bytes().await.unwrap().as_ref(),
        checked.as_slice()
    );
    assert_eq!(keys(&client, &bucket, "files/").await.len(), 1);

    // The check reads one version: a ranged GET of another ETag reads nothing (412).
    // The copy names the version too (x-amz-copy-source-if-match), which moto 5.2.6
    // ignores (it honours only x-amz-copy-source-if-none-match), so only S3 itself
    // refuses a copy of another version; here the right one copies.
    use supportzen_shared::store::{FileStorage, Kept, Stored};
    let upload_key = target["upload"]["fields"]["key"].as_str().unwrap();
    let Stored::File(stored) = files.stored(upload_key).await.unwrap() else {
        panic!("the second post is stored");
    };
    assert_eq!(
        stored.first_bytes[100..],
        other[100..512],
        "the second post is stored"
    );
    let version = stored.version.expect("S3 answers an ETag");
    assert_eq!(
        files.first_bytes(upload_key, 512, Some("\"0000\"")).await,
        Ok(None)
    );
    let elsewhere = format!("files/customer/x/{id}/if-match");
    assert_eq!(
        files.keep(upload_key, Some(&version), &elsewhere).await,
        Ok(Kept::Copied)
    );
}

/// A message whose write fails (here: a ticket nobody has) keeps none of its files:
/// the copies made for it are re-tagged unattached, for the lifecycle rule to delete,
/// and the upload can be attached to a real conversation afterwards.
#[tokio::test]
async fn a_message_not_written_leaves_no_kept_file() {
    let client = reqwest::Client::new();
    let (files, bucket) = fresh_bucket(&client).await;
    let (store, _) = provisioned().await;
    let config = Config::default();
    let ticket =
        data(ticket_create(&store, &files, &config, post(&create_body(EMAIL, "hi"))).await);
    let id = upload(&store, &files, &client, "image/png", &png(64)).await;
    let made_up =
        json!({"ticket_id": "TKT-999", "email": EMAIL, "message": "see", "attachments": [id]});
    let (status, body) = answer(ticket_append(&store, &files, &config, post(&made_up)).await);
    assert_eq!(status, 404, "{body}");
    let released = keys(&client, &bucket, "files/").await;
    assert_eq!(released.len(), 1, "{released:?}");
    let tagging = files.tagging(&released[0]).await.unwrap();
    assert!(tagging.contains("<Value>unattached</Value>"), "{tagging}");

    let real = json!({"ticket_id": ticket["ticketId"], "email": EMAIL, "message": "see", "attachments": [id]});
    data(ticket_append(&store, &files, &config, post(&real)).await);
    let mut attached = 0;
    for key in keys(&client, &bucket, "files/").await {
        if files
            .tagging(&key)
            .await
            .unwrap()
            .contains("<Value>attached</Value>")
        {
            attached += 1;
        }
    }
    assert_eq!(attached, 1);
}

#[tokio::test]
async fn what_s3_stored_is_checked_against_the_declaration() {
    let client = reqwest::Client::new();
    let (files, _) = fresh_bucket(&client).await;
    let (store, _) = provisioned().await;
    let config = Config::default();
    let ticket =
        data(ticket_create(&store, &files, &config, post(&create_body(EMAIL, "hi"))).await);
    let ticket_id = ticket["ticketId"].as_str().unwrap();
    let append = |id: &str| json!({"ticket_id": ticket_id, "email": EMAIL, "message": "see", "attachments": [id]});

    // An HTML page uploaded as a PNG: its first bytes give it away.
    let page = b"<html><script>alert(1)</script></html>";
    let disguised = upload(&store, &files, &client, "image/png", page).await;
    let (status, body) =
        answer(ticket_append(&store, &files, &config, post(&append(&disguised))).await);
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&disguised) && message.contains("not image/png"),
        "{message}"
    );

    // More bytes than declared (S3 would refuse them by the policy; moto does not).
    let body = json!({"email": EMAIL, "name": "x.png", "content_type": "image/png", "size": 64});
    let target = data(attachment_upload(&store, &files, &config, post(&body)).await);
    let (header, bytes) = supportzen::files::upload_body(
        target["upload"]["fields"].as_object().unwrap(),
        "image/png",
        &png(65),
    );
    let url = target["upload"]["url"].as_str().unwrap();
    let sent = client
        .post(url)
        .header("content-type", header)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    let oversize = target["attachmentId"].as_str().unwrap();
    let (status, body) =
        answer(ticket_append(&store, &files, &config, post(&append(oversize))).await);
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("is 65 bytes, not the 64 declared"),
        "{message}"
    );

    // Declared, never uploaded.
    let body = json!({"email": EMAIL, "name": "x.png", "content_type": "image/png", "size": 10});
    let target = data(attachment_upload(&store, &files, &config, post(&body)).await);
    let missing = target["attachmentId"].as_str().unwrap();
    let (status, body) =
        answer(ticket_append(&store, &files, &config, post(&append(missing))).await);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never uploaded")
    );

    use supportzen_shared::store::ConversationAdmin;
    let id = supportzen_tests::ticket(&ticket);
    assert_eq!(
        store.messages(&id).await.unwrap().len(),
        1,
        "nothing was written"
    );
}
