//! Attachments: a customer or agent declares an upload and gets a signed form to send
//! the file straight to the storage (never through a function); a message then names
//! the uploads it carries, and [`attach`] checks each before the message is written.
//! The write itself claims them (`StoreError::AttachmentUnavailable` if another write
//! got there first), so an upload is attached once, by whoever uploaded it.

use super::{Answer, authenticated, user_only};
use crate::auth::Customer;
use crate::config::Config;
use crate::domain::{
    Agent, Attachment, AttachmentId, AttachmentLimits, DeclaredUpload, Uploader, now_millis,
};
use crate::error::{ApiError, unavailable_attachment};
use crate::store::{FileStorage, Kept, UploadForm, UploadRecord, UploadRegistry, UserReader};
use serde::Serialize;
use std::time::SystemTime;

/// `data` of the upload routes: the id a message will name, and where to send the file.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTarget {
    pub attachment_id: String,
    pub upload: UploadForm,
}

/// A customer declares an upload (checked against the limits when the request was read).
/// Someone trust-on-first-use would accept may upload before their first message, so
/// that a first ticket can carry a screenshot.
pub async fn customer_upload<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    customer: &Customer,
    declared: DeclaredUpload,
) -> Result<Answer<UploadTarget>, ApiError>
where
    S: UserReader + UploadRegistry,
    F: FileStorage,
{
    let read = user_only(store, customer).await;
    let (caller, ()) = authenticated(config, customer, "user", read, now_millis())?;
    declare(store, files, Uploader::customer(caller.user()), declared).await
}

/// An agent declares an upload.
pub async fn agent_upload<S: UploadRegistry, F: FileStorage>(
    store: &S,
    files: &F,
    agent: &Agent,
    declared: DeclaredUpload,
) -> Result<Answer<UploadTarget>, ApiError> {
    declare(store, files, Uploader::agent(&agent.id), declared).await
}

/// Signs the form first (no I/O, and a failure leaves nothing behind), then records the
/// upload: one write.
async fn declare<S: UploadRegistry, F: FileStorage>(
    store: &S,
    files: &F,
    uploader: Uploader,
    declared: DeclaredUpload,
) -> Result<Answer<UploadTarget>, ApiError> {
    let id = AttachmentId::generate();
    let key = uploader.key(&id);
    let upload = files
        .upload_form(
            &key,
            declared.content_type,
            declared.size,
            SystemTime::now(),
        )
        .map_err(|e| ApiError::Internal(format!("signing an upload form: {e}")))?;
    let record = UploadRecord {
        id: id.clone(),
        uploader,
        name: declared.name,
        content_type: declared.content_type,
        size: declared.size,
        created_at: now_millis(),
        attached: false,
    };
    store
        .record_upload(&record)
        .await
        .map_err(|e| ApiError::from_store(e, "attachment"))?;
    Ok(Answer::fresh(UploadTarget {
        attachment_id: id.to_string(),
        upload,
    }))
}

/// Checks that every one of `ids` is `uploader`'s, not attached yet, not expired, within
/// `limits`, stored, and stored as declared (its size exactly, its first bytes its type),
/// then keeps a copy of the very version checked under a key no upload form can write
/// (so posting the form again cannot change what the message links to). The facts the
/// message will carry, in the order named, each with its copy's key; none for no ids,
/// without any I/O. A failed check is a 400 naming the attachment, and keeps nothing.
///
/// Costs one store read for all of them, and per file a HEAD, a ranged GET of the first
/// bytes and a copy on the storage. If the message is then not written, [`settle`]
/// releases the copies.
pub async fn attach<S: UploadRegistry, F: FileStorage>(
    store: &S,
    files: &F,
    limits: &AttachmentLimits,
    uploader: &Uploader,
    ids: &[AttachmentId],
) -> Result<Vec<Attachment>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if ids.len() > limits.max_per_message {
        return Err(ApiError::field(
            "attachments",
            format!("must name at most {} files", limits.max_per_message),
        ));
    }
    let records = store
        .find_uploads(ids)
        .await
        .map_err(|e| ApiError::from_store(e, "attachment"))?;
    let now = now_millis();
    let mut checked = Vec::with_capacity(ids.len());
    for id in ids {
        let record = records
            .iter()
            .find(|record| &record.id == id && &record.uploader == uploader && !record.attached)
            .ok_or_else(|| unavailable_attachment(id))?;
        let refused = |reason: String| ApiError::field("attachments", format!("{id} {reason}"));
        if record.expired(now) {
            return Err(refused(
                "has expired: uploads must be attached within a day, upload the file again".into(),
            ));
        }
        limits
            .content_type(record.content_type.as_str())
            .map_err(|reason| refused(format!("has a type that {reason}")))?;
        limits
            .size(record.size)
            .map_err(|reason| refused(format!("has a size that {reason}")))?;
        let key = record.key();
        let stored = files
            .stored(&key)
            .await
            .map_err(|e| ApiError::Internal(format!("reading {key}: {e}")))?
            .ok_or_else(|| {
                refused("was never uploaded: send the file with its upload form first".into())
            })?;
        let declared = DeclaredUpload {
            name: record.name.clone(),
            content_type: record.content_type,
            size: record.size,
        };
        limits
            .stored_matches(&declared, stored.size, &stored.first_bytes)
            .map_err(refused)?;
        checked.push((record, key, stored.version));
    }
    let mut attachments = Vec::with_capacity(checked.len());
    for (record, key, version) in checked {
        let kept = record.uploader.kept_key(&record.id);
        let copied = files.keep(&key, version.as_deref(), &kept).await;
        let failure = match copied {
            Ok(Kept::Copied) => {
                attachments.push(record.attachment(kept));
                continue;
            }
            Ok(Kept::Changed) => ApiError::field(
                "attachments",
                format!(
                    "{} was uploaded again while it was being checked: send the message again",
                    record.id
                ),
            ),
            Err(e) => ApiError::Internal(format!("keeping {key} as {kept}: {e}")),
        };
        release(files, &attachments).await;
        return Err(failure);
    }
    Ok(attachments)
}

/// The message's write is done: if it did not write this request's message (it failed,
/// or answered another request's), the copies [`attach`] kept for it point nowhere and
/// are released, best effort (a failure is logged; the upload stays attachable either
/// way, its claim never having been written).
pub async fn settle<F: FileStorage, T>(
    files: &F,
    attachments: &[Attachment],
    outcome: Result<Answer<T>, ApiError>,
) -> Result<Answer<T>, ApiError> {
    let written = matches!(&outcome, Ok(answer) if !answer.replayed);
    if !written {
        release(files, attachments).await;
    }
    outcome
}

async fn release<F: FileStorage>(files: &F, attachments: &[Attachment]) {
    for attachment in attachments {
        if let Err(err) = files.release(&attachment.key).await {
            tracing::warn!(key = %attachment.key, %err, "an unused attachment copy was not released");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContentType, FileName};
    use crate::store::{StoreError, StoredFile};
    use std::sync::Mutex;

    /// Uploads all stored as PNGs of their declared size; `keep` answers `Changed` for
    /// the keys in `changed` and copies the others; what was kept and released is noted.
    #[derive(Default)]
    struct Fake {
        records: Vec<UploadRecord>,
        changed: Vec<String>,
        kept: Mutex<Vec<String>>,
        released: Mutex<Vec<String>>,
    }

    impl UploadRegistry for Fake {
        async fn record_upload(&self, _: &UploadRecord) -> Result<(), StoreError> {
            Ok(())
        }

        async fn find_uploads(&self, _: &[AttachmentId]) -> Result<Vec<UploadRecord>, StoreError> {
            Ok(self.records.clone())
        }
    }

    impl FileStorage for Fake {
        fn upload_form(
            &self,
            _: &str,
            _: ContentType,
            _: u64,
            _: SystemTime,
        ) -> Result<UploadForm, String> {
            Err("not here".into())
        }

        async fn stored(&self, _: &str) -> Result<Option<StoredFile>, String> {
            let mut first_bytes = b"\x89PNG\r\n\x1a\n".to_vec();
            first_bytes.resize(64, 0);
            Ok(Some(StoredFile {
                size: 64,
                first_bytes,
                version: Some("\"v1\"".into()),
            }))
        }

        async fn keep(&self, from: &str, version: Option<&str>, to: &str) -> Result<Kept, String> {
            assert_eq!(
                version,
                Some("\"v1\""),
                "the version checked is the one copied"
            );
            if self.changed.iter().any(|key| key == from) {
                return Ok(Kept::Changed);
            }
            self.kept.lock().unwrap().push(to.to_string());
            Ok(Kept::Copied)
        }

        async fn release(&self, key: &str) -> Result<(), String> {
            self.released.lock().unwrap().push(key.to_string());
            Ok(())
        }

        fn download_url(
            &self,
            _: &str,
            _: ContentType,
            _: &FileName,
            _: SystemTime,
        ) -> Result<String, String> {
            Err("not here".into())
        }
    }

    fn record(uploader: &Uploader) -> UploadRecord {
        UploadRecord {
            id: AttachmentId::generate(),
            uploader: uploader.clone(),
            name: FileName::parse("shot.png").unwrap(),
            content_type: ContentType::Png,
            size: 64,
            created_at: now_millis(),
            attached: false,
        }
    }

    /// An upload posted again between the check and the copy is refused (400 naming
    /// it), and the copies already made for the message are released.
    #[tokio::test]
    async fn an_upload_replaced_during_the_check_is_refused_and_nothing_is_kept() {
        let uploader = Uploader::agent(&crate::domain::AgentId::parse("agent-7").unwrap());
        let (first, second) = (record(&uploader), record(&uploader));
        let fake = Fake {
            changed: vec![second.key()],
            records: vec![first.clone(), second.clone()],
            ..Fake::default()
        };
        let ids = [first.id.clone(), second.id.clone()];
        let limits = AttachmentLimits::default();
        let refused = attach(&fake, &fake, &limits, &uploader, &ids)
            .await
            .unwrap_err();
        let ApiError::InvalidField {
            field,
            reason: message,
        } = &refused
        else {
            panic!("{refused:?}");
        };
        assert_eq!(*field, "attachments");
        assert!(
            message.contains(second.id.as_str()) && message.contains("uploaded again"),
            "{message}"
        );
        let kept = fake.kept.lock().unwrap().clone();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].starts_with("files/agent/"), "{kept:?}");
        assert_eq!(
            *fake.released.lock().unwrap(),
            kept,
            "the first copy is released"
        );

        // Without the change, both are kept under new keys, the message's to carry.
        let fake = Fake {
            records: vec![first.clone(), second.clone()],
            ..Fake::default()
        };
        let attached = attach(&fake, &fake, &limits, &uploader, &ids)
            .await
            .unwrap();
        let keys: Vec<String> = attached.iter().map(|a| a.key.clone()).collect();
        assert_eq!(keys, *fake.kept.lock().unwrap());
        assert!(fake.released.lock().unwrap().is_empty());
    }
}
