//! Attachments: a customer or agent declares an upload and gets a signed form to send
//! the file straight to the storage (never through a function); a message then names
//! the uploads it carries, and [`attach`] checks each before the message is written.
//! The write itself claims them (`StoreError::AttachmentUnavailable` if another write
//! got there first), so an upload is attached once, by whoever uploaded it.

use super::{Answer, authenticated, user_only};
use crate::auth::Customer;
use crate::config::Config;
use crate::domain::{
    Agent, Attachment, AttachmentId, AttachmentLimits, DeclaredUpload, MessageId, Uploader,
    now_millis,
};
use crate::error::{ApiError, unavailable_attachment};
use crate::store::{
    FileStorage, Kept, Stored, UploadForm, UploadRecord, UploadRegistry, UserReader,
};
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
        attached_to: None,
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
            .find(|record| {
                &record.id == id && &record.uploader == uploader && record.attached_to.is_none()
            })
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
        let stored = match files
            .stored(&key)
            .await
            .map_err(|e| ApiError::Internal(format!("reading {key}: {e}")))?
        {
            Stored::File(stored) => stored,
            Stored::Missing => {
                return Err(refused(
                    "was never uploaded: send the file with its upload form first".into(),
                ));
            }
            Stored::Changing => return Err(changed(id)),
        };
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
    // All copies at once (at most `limits.max_per_message`, 10 by default): the attach
    // takes about as long as its largest copy rather than their sum, which keeps it well
    // inside the request's deadline. Every copy is awaited before deciding, so that a
    // failure releases all that were attempted, the failed ones included (releasing a
    // copy never made is harmless).
    let copies: Vec<_> = checked
        .iter()
        .map(|(record, key, version)| copy(files, record, key, version.as_deref()))
        .collect();
    let copies = futures_util::future::join_all(copies).await;
    let mut attachments = Vec::with_capacity(copies.len());
    let mut failure = None;
    for (record, key, kept, copied) in copies {
        match copied {
            Ok(Kept::Copied) => {}
            Ok(Kept::Changed) => {
                failure.get_or_insert_with(|| changed(&record.id));
            }
            Err(e) => {
                failure.get_or_insert_with(|| {
                    ApiError::Internal(format!("keeping {key} as {kept}: {e}"))
                });
            }
        }
        attachments.push(record.attachment(kept));
    }
    if let Some(failure) = failure {
        release(files, &attachments).await;
        return Err(failure);
    }
    Ok(attachments)
}

/// Keeps a copy of `record`'s upload, stored under `key` as `version`: the copy's key,
/// and what the storage did.
async fn copy<'a, F: FileStorage>(
    files: &F,
    record: &'a UploadRecord,
    key: &'a str,
    version: Option<&str>,
) -> (&'a UploadRecord, &'a str, String, Result<Kept, String>) {
    let kept = record.uploader.kept_key(&record.id);
    let copied = files.keep(key, version, &kept).await;
    (record, key, kept, copied)
}

/// The 400 for an upload whose form was posted again while it was being checked.
fn changed(id: &AttachmentId) -> ApiError {
    ApiError::field(
        "attachments",
        format!("{id} was uploaded again while it was being checked: send the message again"),
    )
}

/// The message's write is done: if it certainly did not write this request's message
/// `message`, the copies [`attach`] kept for it point nowhere and are released, best
/// effort (a failure is logged; the upload stays attachable either way).
///
/// "Certainly" is checked, not assumed from the answer: a write that timed out may have
/// committed, and a write retried after it committed fails its own conditions (the
/// upload claimed, or the receipt written: then the answer is this request's receipt,
/// replayed). So nothing is released after an answer that leaves the write in doubt
/// (503 or 500: a copy kept for nothing costs a few bytes, a copy released under a
/// written message loses its file), and otherwise only copies whose upload a fresh read
/// shows not claimed by `message` (a read that fails releases nothing).
pub async fn settle<S: UploadRegistry, F: FileStorage, T>(
    store: &S,
    files: &F,
    message: &MessageId,
    attachments: &[Attachment],
    outcome: Result<Answer<T>, ApiError>,
) -> Result<Answer<T>, ApiError> {
    if attachments.is_empty() {
        return outcome;
    }
    match &outcome {
        Ok(answer) if !answer.replayed => return outcome,
        Err(ApiError::Unavailable { .. } | ApiError::Internal(_)) => {
            tracing::warn!(
                message = message.as_str(),
                "the message's write may have happened: its attachment copies are kept"
            );
            return outcome;
        }
        _ => {}
    }
    let ids: Vec<AttachmentId> = attachments.iter().map(|a| a.id.clone()).collect();
    match store.find_uploads(&ids).await {
        Ok(records) => {
            let claimed = |attachment: &Attachment| {
                records.iter().any(|record| {
                    record.id == attachment.id && record.attached_to.as_ref() == Some(message)
                })
            };
            let unused: Vec<&Attachment> = attachments.iter().filter(|a| !claimed(a)).collect();
            release(files, unused).await;
        }
        Err(err) => {
            tracing::warn!(message = message.as_str(), %err, "attachment copies kept: their uploads were not read");
        }
    }
    outcome
}

async fn release<'a, F: FileStorage>(
    files: &F,
    attachments: impl IntoIterator<Item = &'a Attachment>,
) {
    for attachment in attachments {
        if let Err(err) = files.release(&attachment.key).await {
            tracing::warn!(key = %attachment.key, %err, "an unused attachment copy was not released");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentId, ContentType, FileName};
    use crate::store::{StoreError, StoredFile};
    use std::sync::Mutex;
    use std::time::Duration;

    /// Uploads all stored as PNGs of their declared size; `keep` answers `Changed` for
    /// the keys in `changed`, fails for those in `failing` and copies the others; what
    /// was kept and released is noted.
    #[derive(Default)]
    struct Fake {
        records: Vec<UploadRecord>,
        changed: Vec<String>,
        failing: Vec<String>,
        /// Keys replaced at every read (`Stored::Changing`).
        changing: Vec<String>,
        kept: Mutex<Vec<String>>,
        released: Mutex<Vec<String>>,
    }

    impl Fake {
        fn released(&self) -> Vec<String> {
            let mut released = self.released.lock().unwrap().clone();
            released.sort();
            released
        }
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

        async fn stored(&self, key: &str) -> Result<Stored, String> {
            if self.changing.iter().any(|k| k == key) {
                return Ok(Stored::Changing);
            }
            let mut first_bytes = b"\x89PNG\r\n\x1a\n".to_vec();
            first_bytes.resize(64, 0);
            Ok(Stored::File(StoredFile {
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
            if self.failing.iter().any(|key| key == from) {
                return Err("S3 gave no answer within 5 s".into());
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

    fn agent() -> Uploader {
        Uploader::agent(&AgentId::parse("agent-7").unwrap())
    }

    fn record(uploader: &Uploader) -> UploadRecord {
        UploadRecord {
            id: AttachmentId::generate(),
            uploader: uploader.clone(),
            name: FileName::parse("shot.png").unwrap(),
            content_type: ContentType::Png,
            size: 64,
            created_at: now_millis(),
            attached_to: None,
        }
    }

    fn sorted(mut keys: Vec<String>) -> Vec<String> {
        keys.sort();
        keys
    }

    /// The attachment ids of copies' keys (`files/<side>/<folder>/<id>/<random>`), sorted.
    fn ids_in(keys: &[String]) -> Vec<String> {
        sorted(
            keys.iter()
                .map(|key| key.split('/').nth(3).unwrap_or_default().to_string())
                .collect(),
        )
    }

    fn ids_of(records: &[&UploadRecord]) -> Vec<String> {
        sorted(records.iter().map(|r| r.id.to_string()).collect())
    }

    /// An upload posted again between the check and the copy is refused (400 naming
    /// it), and every copy attempted for the message is released.
    #[tokio::test]
    async fn an_upload_replaced_during_the_check_is_refused_and_nothing_is_kept() {
        let uploader = agent();
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
        assert_eq!(ids_in(&kept), ids_of(&[&first]));
        assert!(kept[0].starts_with("files/agent/"), "{kept:?}");
        let released = fake.released();
        assert!(released.contains(&kept[0]), "the copy made is released");
        assert_eq!(
            ids_in(&released),
            ids_of(&[&first, &second]),
            "and the one attempted"
        );

        // Without the change, both are kept under new keys, the message's to carry.
        let fake = Fake {
            records: vec![first.clone(), second.clone()],
            ..Fake::default()
        };
        let attached = attach(&fake, &fake, &limits, &uploader, &ids)
            .await
            .unwrap();
        let named: Vec<&AttachmentId> = attached.iter().map(|a| &a.id).collect();
        assert_eq!(named, [&first.id, &second.id], "in the order named");
        let keys: Vec<String> = attached.iter().map(|a| a.key.clone()).collect();
        assert_eq!(ids_in(&keys), ids_of(&[&first, &second]));
        assert_eq!(sorted(keys), sorted(fake.kept.lock().unwrap().clone()));
        assert!(fake.released.lock().unwrap().is_empty());
    }

    /// An upload replaced at every read of the check is the same 400 as one replaced
    /// before the copy, not a 500; nothing is copied.
    #[tokio::test]
    async fn an_upload_replaced_at_every_read_is_refused() {
        let uploader = agent();
        let (first, second) = (record(&uploader), record(&uploader));
        let fake = Fake {
            changing: vec![second.key()],
            records: vec![first.clone(), second.clone()],
            ..Fake::default()
        };
        let ids = [first.id.clone(), second.id.clone()];
        let refused = attach(&fake, &fake, &AttachmentLimits::default(), &uploader, &ids)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, ApiError::InvalidField { field: "attachments", reason }
                if reason.contains(second.id.as_str()) && reason.contains("uploaded again")),
            "{refused:?}"
        );
        assert!(fake.kept.lock().unwrap().is_empty());
    }

    /// A copy that fails (or times out: S3 may still make it) is released too, with
    /// the copies made for the same message; every copy is attempted.
    #[tokio::test]
    async fn a_failed_copy_is_released_with_the_others() {
        let uploader = agent();
        let (first, second, third) = (record(&uploader), record(&uploader), record(&uploader));
        let fake = Fake {
            failing: vec![first.key()],
            records: vec![first.clone(), second.clone(), third.clone()],
            ..Fake::default()
        };
        let ids = [first.id.clone(), second.id.clone(), third.id.clone()];
        let failed = attach(&fake, &fake, &AttachmentLimits::default(), &uploader, &ids)
            .await
            .unwrap_err();
        assert!(matches!(failed, ApiError::Internal(_)), "{failed:?}");
        let kept = fake.kept.lock().unwrap().clone();
        assert_eq!(ids_in(&kept), ids_of(&[&second, &third]));
        let released = fake.released();
        assert!(
            kept.iter().all(|key| released.contains(key)),
            "{released:?}"
        );
        assert_eq!(ids_in(&released), ids_of(&[&first, &second, &third]));
    }

    /// `settle` releases a copy only when its upload is certainly not claimed by the
    /// message: never after an answer that leaves the write in doubt (503, 500), and
    /// not when a fresh read shows the write claimed it after all (a write retried
    /// after it committed fails on its own claim or receipt).
    #[tokio::test]
    async fn copies_are_released_only_when_the_message_was_certainly_not_written() {
        let uploader = agent();
        let message = MessageId::generate();
        let (mine, free, other) = (record(&uploader), record(&uploader), record(&uploader));
        let attachments: Vec<Attachment> = [&mine, &free, &other]
            .iter()
            .map(|record| record.attachment(uploader.kept_key(&record.id)))
            .collect();
        let store = |claimed_here: bool| Fake {
            records: vec![
                UploadRecord {
                    attached_to: claimed_here.then(|| message.clone()),
                    ..mine.clone()
                },
                free.clone(),
                UploadRecord {
                    attached_to: Some(MessageId::generate()),
                    ..other.clone()
                },
            ],
            ..Fake::default()
        };
        let answer = |replayed: bool| Ok(Answer { data: (), replayed });
        let failures = || {
            [
                ApiError::NotFound("ticket"),
                ApiError::Closed("conversation"),
                unavailable_attachment(&mine.id),
            ]
        };

        // Written: nothing released, whatever the store says.
        let fake = store(false);
        settle(&fake, &fake, &message, &attachments, answer(false))
            .await
            .unwrap();
        assert!(fake.released().is_empty());

        // In doubt: nothing released, even though no upload is claimed by the message.
        for outcome in [
            ApiError::Unavailable {
                retry_after: Duration::from_secs(1),
                reason: "DynamoDB did not answer in time".into(),
            },
            ApiError::Internal("an answer not understood".into()),
        ] {
            let fake = store(false);
            let outcome: Result<Answer<()>, _> = Err(outcome);
            settle(&fake, &fake, &message, &attachments, outcome)
                .await
                .unwrap_err();
            assert!(fake.released().is_empty());
        }

        // Not written: all released but the ones the message claimed after all (the
        // upload another message claimed is not this message's copy to keep).
        for claimed_here in [false, true] {
            let expected = if claimed_here {
                ids_of(&[&free, &other])
            } else {
                ids_of(&[&mine, &free, &other])
            };
            for failure in failures() {
                let fake = store(claimed_here);
                let outcome: Result<Answer<()>, _> = Err(failure);
                settle(&fake, &fake, &message, &attachments, outcome)
                    .await
                    .unwrap_err();
                assert_eq!(
                    ids_in(&fake.released()),
                    expected,
                    "claimed: {claimed_here}"
                );
            }
            // Another request's answer, or this one's own receipt read back after its
            // write committed and a retry of it failed on the receipt.
            let fake = store(claimed_here);
            settle(&fake, &fake, &message, &attachments, answer(true))
                .await
                .unwrap();
            assert_eq!(
                ids_in(&fake.released()),
                expected,
                "claimed: {claimed_here}"
            );
        }
    }
}
