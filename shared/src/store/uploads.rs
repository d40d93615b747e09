//! Uploads: what was declared for each attachment id, kept until a message claims it.

use super::StoreError;
use crate::domain::{Attachment, AttachmentId, ContentType, FileName, MessageId, Uploader};
use std::future::Future;

/// How long an unattached upload's record is kept (seconds): as long as the storage
/// keeps an unattached file (the bucket's lifecycle rule deletes it after a day).
pub const UNATTACHED_UPLOAD_TTL_SECS: i64 = 24 * 60 * 60;

/// One declared upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: AttachmentId,
    /// Whose it is: only they may attach it.
    pub uploader: Uploader,
    pub name: FileName,
    pub content_type: ContentType,
    /// The exact size declared, in bytes.
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// The message that claimed it, if one has: after a write that seemed to fail, this
    /// tells whether it did (the claim is part of the message's write).
    pub attached_to: Option<MessageId>,
}

impl UploadRecord {
    /// Where its file is stored.
    pub fn key(&self) -> String {
        self.uploader.key(&self.id)
    }

    /// The facts a message keeps about it, its file kept under `key`.
    pub fn attachment(&self, key: String) -> Attachment {
        Attachment {
            id: self.id.clone(),
            name: self.name.clone(),
            content_type: self.content_type,
            size: self.size,
            key,
        }
    }

    /// Whether it is past its [`UNATTACHED_UPLOAD_TTL_SECS`] at `now` (milliseconds): the
    /// storage may have deleted its file, and DynamoDB keeps an expired item up to two
    /// days before its TTL removes it, so it must not be attached.
    pub fn expired(&self, now: i64) -> bool {
        now >= self
            .created_at
            .saturating_add(UNATTACHED_UPLOAD_TTL_SECS * 1000)
    }
}

/// Records uploads when they are declared, and finds them when a message names them.
/// Claiming them is part of the message's write: [`StoreError::AttachmentUnavailable`]
/// there, for an upload that is missing, someone else's or attached already.
pub trait UploadRegistry {
    fn record_upload(
        &self,
        record: &UploadRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The records of those of `ids` that exist, in any order.
    fn find_uploads(
        &self,
        ids: &[AttachmentId],
    ) -> impl Future<Output = Result<Vec<UploadRecord>, StoreError>> + Send;
}
