//! A customer's data rights: `supportzen users export` (GDPR Article 15) writes what the
//! store holds about them as one JSON document; `supportzen users erase` (Article 17)
//! deletes it (`store::CustomerEraser`), then the files their conversations carried, and
//! queues a `customer.erased` webhook ([`notify_erased`]), and drops the deliveries about
//! them still in the local outbox ([`drop_queued`]).

use crate::files::FileStore;
use crate::store_url::StoreUrl;
use serde_json::{Value, json};
use std::path::Path;
use supportzen_shared::domain::{ConversationId, MessageId, UserId, now_millis};
use supportzen_shared::events::CustomerEvent;
use supportzen_shared::events::delivery::Delivery;
use supportzen_shared::s3::S3Objects;
use supportzen_shared::store::{
    AgentReader, ConversationAdmin, Erased, MessageWindow, StoreError, StoredConversation,
    StoredMessage, WebhookRegistry,
};
use supportzen_sqlite::Outbox;

/// Messages read a page at a time.
const PAGE: usize = 100;

/// Everything `customer`'s conversations and profile hold, as one JSON document.
pub async fn export<S: ConversationAdmin + AgentReader>(
    store: &S,
    customer: &UserId,
) -> Result<Value, StoreError> {
    let profile = store.profile(customer).await?;
    let mut conversations = Vec::new();
    for conversation in store.conversations_of(customer).await? {
        let messages = every_message(store, &conversation.id).await?;
        conversations.push(conversation_json(&conversation, &messages));
    }
    Ok(json!({
        "email": customer.as_str(),
        "exportedAt": now_millis(),
        "profile": profile.map(|p| json!({
            "name": p.name,
            "planId": p.plan_id,
            "accountCreatedAt": p.account_created_at,
        })),
        "conversations": conversations,
    }))
}

/// The conversation's messages and the agents' notes about it, oldest first.
async fn every_message<S: AgentReader>(
    store: &S,
    conversation: &ConversationId,
) -> Result<Vec<StoredMessage>, StoreError> {
    let mut window = MessageWindow::After(
        MessageId::parse("msg-00000000-0000-0000-0000-000000000000")
            .map_err(StoreError::Internal)?,
    );
    let mut messages = Vec::new();
    loop {
        let page = store
            .agent_message_page(conversation, &window, PAGE)
            .await?;
        let next = page.items.last().map(|last| last.id.clone());
        messages.extend(page.items);
        match next {
            Some(last) if page.has_more => window = MessageWindow::After(last),
            _ => return Ok(messages),
        }
    }
}

fn conversation_json(conversation: &StoredConversation, messages: &[StoredMessage]) -> Value {
    json!({
        "id": conversation.id.key(),
        "kind": conversation.id.kind(),
        "status": conversation.status.as_str(),
        "assignee": conversation.assignee.as_ref().map(|a| a.as_str()),
        "snoozedUntil": conversation.snoozed_until,
        "followUpOf": conversation.follow_up_of.as_ref().map(|c| c.key()),
        "createdAt": conversation.created_at,
        "lastActivityAt": conversation.last_activity_at,
        "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
    })
}

fn message_json(message: &StoredMessage) -> Value {
    json!({
        "id": message.id.as_str(),
        "author": message.author.as_str(),
        "text": message.text,
        "imageUrl": message.image_url,
        "clientMessageId": message.client_message_id,
        "sentAt": message.sent_at,
        "agent": message.agent.as_ref().map(|a| json!({"id": a.id.as_str(), "name": a.name.as_str()})),
        "internal": message.internal,
        "attachments": message.attachments.iter().map(|file| json!({
            "id": file.id.as_str(),
            "name": file.name.as_str(),
            "contentType": file.content_type.as_str(),
            "size": file.size,
        })).collect::<Vec<_>>(),
    })
}

/// Where an erasure's files are deleted: `serve`'s directory with a SQLite store, S3
/// (`ATTACHMENTS_BUCKET`) with DynamoDB. Opened before the store is touched, so that a
/// bucket or directory that cannot be reached stops the erasure before anything is
/// deleted (the file keys are read from the items the erasure deletes).
pub enum Files {
    Local(FileStore),
    S3(Box<S3Objects>),
}

impl Files {
    pub fn open(store: &StoreUrl, dir: &Path) -> Result<Self, String> {
        match store {
            StoreUrl::Sqlite(_) => {
                if !dir.is_dir() {
                    return Err(format!(
                        "there is no files directory {} (supportzen serve --files names it): give the one serve uses, with --files",
                        dir.display()
                    ));
                }
                Ok(Files::Local(FileStore::open(dir, "http://127.0.0.1")?))
            }
            StoreUrl::Dynamo(_) => S3Objects::from_env()
                .map(|bucket| Files::S3(Box::new(bucket)))
                .map_err(|e| {
                    format!("cannot reach the attachments bucket, so nothing was erased: {e}")
                }),
        }
    }

    /// Deletes `keys`; how many files were there (locally) or asked to go (S3 answers the
    /// same whether a key was there). A failure names the keys left, for the operator.
    pub async fn delete(&self, keys: &[String]) -> Result<u64, String> {
        let mut deleted = 0;
        for (done, key) in keys.iter().enumerate() {
            let removed = match self {
                Files::Local(files) => files.remove(key).await,
                Files::S3(bucket) => bucket.delete(key).await.map(|()| true),
            };
            match removed {
                Ok(true) => deleted += 1,
                Ok(false) => {}
                Err(err) => {
                    return Err(format!(
                        "the customer's items are erased, but the file {key} could not be deleted ({err}); delete these by hand: {}",
                        keys[done..].join(" ")
                    ));
                }
            }
        }
        Ok(deleted)
    }
}

/// The counts an erasure prints.
pub fn erased_json(customer: &UserId, erased: &Erased, files: u64) -> Value {
    let mut counts = counts_json(erased, files);
    counts["email"] = customer.as_str().into();
    counts
}

/// What an erasure removed, by kind: numbers and a flag, nothing that names anyone.
fn counts_json(erased: &Erased, files: u64) -> Value {
    json!({
        "user": erased.user,
        "conversations": erased.conversations,
        "messages": erased.messages,
        "receipts": erased.receipts,
        "uploads": erased.uploads,
        "other": erased.other,
        "files": files,
    })
}

/// Where `users erase` queues its `customer.erased` webhooks: the outbox `supportzen
/// serve` delivers from (a SQLite file named after the store unless `--outbox` names
/// it), or production's webhook queue (`--webhook-queue URL`), which the
/// `webhook-deliver` function drains.
pub enum WebhookTarget {
    Outbox(String),
    Queue {
        sqs: aws_sdk_sqs::Client,
        url: String,
    },
}

/// Queues one `customer.erased` delivery per endpoint subscribed to it, and says how
/// many, and where. Nothing when the erasure removed nothing (an unknown customer, or one
/// erased already): receivers heard of it the first time.
pub async fn notify_erased<R: WebhookRegistry>(
    registry: &R,
    target: &WebhookTarget,
    customer: &UserId,
    erased: &Erased,
    files: u64,
) -> Result<Value, String> {
    let now = now_millis();
    let (kind, to) = match target {
        WebhookTarget::Outbox(path) => ("outbox", path),
        WebhookTarget::Queue { url, .. } => ("queue", url),
    };
    if erased.is_empty() && files == 0 {
        return Ok(json!({ "queued": 0, kind: to }));
    }
    let remedy = "the customer is erased, but webhooks were not told (running the erasure again finds nothing left and sends nothing): tell the receivers by hand";
    let subscriptions = registry
        .subscriptions()
        .await
        .map_err(|e| format!("{remedy} (the webhook endpoints could not be read: {e})"))?;
    let event = CustomerEvent::erased(customer, counts_json(erased, files), now);
    let deliveries = Delivery::for_subscriptions(&subscriptions, &event, now);
    if !deliveries.is_empty() {
        match target {
            WebhookTarget::Outbox(path) => {
                let outbox = Outbox::open(path)
                    .map_err(|e| format!("{remedy} (cannot open the outbox {path}: {e})"))?;
                outbox
                    .enqueue(deliveries.clone(), now)
                    .await
                    .map_err(|e| format!("{remedy} (cannot queue in the outbox {path}: {e})"))?;
            }
            WebhookTarget::Queue { sqs, url } => {
                send_to_queue(sqs, url, &deliveries)
                    .await
                    .map_err(|e| format!("{remedy} ({e})"))?;
            }
        }
    }
    Ok(json!({ "queued": deliveries.len(), kind: to }))
}

/// Drops the deliveries about `customer` still waiting in the local outbox, pending or
/// dead (their bodies name them by email), but their `customer.erased`; returns how
/// many, or `None` for production's queue, whose messages no one can pick out and
/// delete (there `webhook-deliver` delivers them). Running the erasure again drops what
/// a failed run left.
pub async fn drop_queued(
    target: &WebhookTarget,
    customer: &UserId,
) -> Result<Option<usize>, String> {
    let WebhookTarget::Outbox(path) = target else {
        return Ok(None);
    };
    if path != ":memory:" && !Path::new(path).exists() {
        return Ok(Some(0));
    }
    let remedy = "the customer is erased, but the webhook deliveries about them still in the outbox were not dropped: run the erasure again";
    let outbox =
        Outbox::open(path).map_err(|e| format!("{remedy} (cannot open the outbox {path}: {e})"))?;
    outbox
        .drop_customer(customer.as_str())
        .await
        .map(Some)
        .map_err(|e| format!("{remedy} (cannot drop them from the outbox {path}: {e})"))
}

/// The deliveries as production's events-stream function queues them: one message each,
/// its body the delivery's JSON, ten to a `SendMessageBatch`.
async fn send_to_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    deliveries: &[Delivery],
) -> Result<(), String> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    for chunk in deliveries.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, delivery)| {
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(serde_json::to_string(delivery).map_err(|e| e.to_string())?)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        let sent = sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "the webhook queue refused them: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        if let Some(refused) = sent.failed().first() {
            return Err(format!(
                "the webhook queue refused {} of {} (first: {})",
                sent.failed().len(),
                chunk.len(),
                refused.code()
            ));
        }
    }
    Ok(())
}
