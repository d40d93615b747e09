//! Uploads: one item per declared attachment, `UPLOAD#<id>` / `UPLOAD`, expiring (TTL)
//! a day after it was declared unless a message claims it. A message's write claims its
//! uploads in the same transaction ([`DynamoStore::claims`]).

use super::DynamoStore;
use super::items::{Item, from_item, key, s, to_item};
use super::table::{FailedConditions, Part, Transaction, values};
use crate::domain::{AttachmentId, ContentType, FileName, MessageId, NewMessage, Uploader};
use crate::store::{StoreError, UNATTACHED_UPLOAD_TTL_SECS, UploadRecord, UploadRegistry};
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

/// The sort key of an upload item.
pub const UPLOAD: &str = "UPLOAD";

pub fn upload_pk(id: &AttachmentId) -> String {
    format!("UPLOAD#{}", id.as_str())
}

#[derive(Serialize, Deserialize, Debug)]
struct UploadItem {
    pk: String,
    sk: String,
    id: String,
    /// The uploader's folder: only a message of theirs may claim it.
    uploader: String,
    name: String,
    content_type: String,
    size: u64,
    created_at: i64,
    /// The message that claimed it; absent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attached_to: Option<String>,
    /// TTL (seconds) while unattached; removed by the claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

impl UploadItem {
    fn new(record: &UploadRecord) -> Self {
        UploadItem {
            pk: upload_pk(&record.id),
            sk: UPLOAD.to_string(),
            id: record.id.to_string(),
            uploader: record.uploader.as_str().to_string(),
            name: record.name.as_str().to_string(),
            content_type: record.content_type.as_str().to_string(),
            size: record.size,
            created_at: record.created_at,
            attached_to: None,
            expires_at: Some(record.created_at / 1000 + UNATTACHED_UPLOAD_TTL_SECS),
        }
    }

    fn decode(item: Item) -> Result<UploadRecord, StoreError> {
        let stored: UploadItem = from_item(item)?;
        let bad = |what: &str, reason: String| {
            StoreError::Internal(format!("stored upload {}: {what} {reason}", stored.id))
        };
        Ok(UploadRecord {
            id: AttachmentId::parse(&stored.id).map_err(|e| bad("id", e))?,
            uploader: Uploader::from_stored(stored.uploader.clone()),
            name: FileName::parse(&stored.name).map_err(|e| bad("name", e))?,
            content_type: ContentType::parse(&stored.content_type)
                .map_err(|e| bad("content_type", e))?,
            size: stored.size,
            created_at: stored.created_at,
            attached_to: stored
                .attached_to
                .as_deref()
                .map(MessageId::parse)
                .transpose()
                .map_err(|e| bad("attached_to", e))?,
        })
    }
}

impl UploadRegistry for DynamoStore {
    async fn record_upload(&self, record: &UploadRecord) -> Result<(), StoreError> {
        let write = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(to_item(&UploadItem::new(record))?))
            .condition_expression("attribute_not_exists(pk)");
        let operation = "PutItem upload";
        self.send_put(write, operation)
            .await?
            .unconditional(operation)?;
        Ok(())
    }

    async fn find_uploads(&self, ids: &[AttachmentId]) -> Result<Vec<UploadRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = ids.iter().map(|id| key(upload_pk(id), UPLOAD)).collect();
        self.batch_get(keys, None, "BatchGetItem uploads")
            .await?
            .into_iter()
            .map(UploadItem::decode)
            .collect()
    }
}

impl DynamoStore {
    /// Adds to `transaction` the claim of each of `message`'s attachments: on condition
    /// that the upload exists, is in the folder its key names (the writer's: the flow
    /// built the key from the caller) and is not attached yet, it is marked as the
    /// message's and stops expiring.
    pub(super) fn claims(
        &self,
        mut transaction: Transaction,
        message: &NewMessage,
    ) -> Result<Transaction, StoreError> {
        for (index, file) in message.attachments.iter().enumerate() {
            let folder = Uploader::of_key(&file.key)
                .ok_or_else(|| StoreError::Internal(format!("attachment key {}", file.key)))?;
            let folder = folder.as_str();
            let claim = Update::builder()
                .table_name(&*self.table)
                .set_key(Some(key(upload_pk(&file.id), UPLOAD)))
                .update_expression("SET attached_to = :message REMOVE expires_at")
                .condition_expression(
                    "attribute_exists(pk) AND uploader = :uploader \
                     AND attribute_not_exists(attached_to)",
                )
                .set_expression_attribute_values(Some(values(vec![
                    (":message", s(message.id.as_str())),
                    (":uploader", s(folder)),
                ])))
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            transaction = transaction.with(
                Part::Attachment(index),
                TransactWriteItem::builder().update(claim).build(),
            );
        }
        Ok(transaction)
    }
}

/// The first of `message`'s attachments whose claim failed, if any.
pub(super) fn failed_claim(message: &NewMessage, failed: &FailedConditions) -> Option<StoreError> {
    message
        .attachments
        .iter()
        .enumerate()
        .find(|(index, _)| failed.failed(Part::Attachment(*index)))
        .map(|(_, file)| StoreError::AttachmentUnavailable(file.id.clone()))
}
