//! A customer's data rights: `supportzen users export` (GDPR Article 15) writes what the
//! store holds about them as one JSON document; `supportzen users erase` (Article 17)
//! deletes it (`store::CustomerEraser`) and then the files their conversations carried.

use crate::files::FileStore;
use crate::store_url::StoreUrl;
use serde_json::{Value, json};
use std::path::Path;
use supportzen_shared::domain::{ConversationId, MessageId, UserId, now_millis};
use supportzen_shared::s3::S3Objects;
use supportzen_shared::store::{
    AgentReader, ConversationAdmin, Erased, MessageWindow, StoreError, StoredConversation,
    StoredMessage,
};

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

/// Deletes the files an erasure named: from `serve`'s directory with a SQLite store, from
/// S3 (`ATTACHMENTS_BUCKET`) with DynamoDB. How many were deleted. Uploads never attached
/// to a DynamoDB store's message are not named (nothing indexes them by uploader): the
/// bucket's lifecycle rule deletes them a day after upload.
pub async fn delete_files(store: &StoreUrl, dir: &Path, keys: &[String]) -> Result<u64, String> {
    if keys.is_empty() {
        return Ok(0);
    }
    match store {
        StoreUrl::Sqlite(_) => {
            let files = FileStore::open(dir, "http://127.0.0.1")?;
            for key in keys {
                files
                    .delete(key)
                    .await
                    .map_err(|e| format!("cannot delete the file {key}: {e}"))?;
            }
        }
        StoreUrl::Dynamo(_) => {
            let bucket = S3Objects::from_env().map_err(|e| {
                format!(
                    "cannot reach the attachments bucket to delete {} files: {e}",
                    keys.len()
                )
            })?;
            for key in keys {
                bucket
                    .delete(key)
                    .await
                    .map_err(|e| format!("cannot delete the file {key}: {e}"))?;
            }
        }
    }
    Ok(keys.len() as u64)
}

/// The counts an erasure prints.
pub fn erased_json(customer: &UserId, erased: &Erased, files: u64) -> Value {
    json!({
        "email": customer.as_str(),
        "user": erased.user,
        "conversations": erased.conversations,
        "messages": erased.messages,
        "receipts": erased.receipts,
        "uploads": erased.uploads,
        "other": erased.other,
        "files": files,
    })
}
