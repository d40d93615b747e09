//! Uploads: one row per declared attachment, claimed by the message that carries it in
//! the message's own transaction. A message keeps its files' facts in a JSON column.

use crate::{SqliteStore, internal};
use rusqlite::params;
use serde_json::{Value, json};
use supportzen_shared::domain::{
    Attachment, AttachmentId, ContentType, FileName, MessageId, NewMessage, Uploader,
};
use supportzen_shared::store::{StoreError, UploadRecord, UploadRegistry};

/// Claims each of `message`'s uploads: exists, in the folder its key names (the
/// writer's), not attached yet. The first that is not is the error, and the caller's
/// transaction is dropped, so nothing is written.
pub(crate) fn claim_uploads(
    tx: &rusqlite::Transaction<'_>,
    message: &NewMessage,
) -> Result<(), StoreError> {
    for file in &message.attachments {
        let folder = Uploader::of_key(&file.key)
            .ok_or_else(|| StoreError::Internal(format!("attachment key {}", file.key)))?;
        let folder = folder.as_str();
        let claimed = tx
            .execute(
                "UPDATE uploads SET attached_to = ?3
                 WHERE id = ?1 AND uploader = ?2 AND attached_to IS NULL",
                params![file.id.as_str(), folder, message.id.as_str()],
            )
            .map_err(internal)?;
        if claimed != 1 {
            return Err(StoreError::AttachmentUnavailable(file.id.clone()));
        }
    }
    Ok(())
}

/// A message's files as its `attachments` column keeps them; `None` for none.
pub(crate) fn encode_attachments(files: &[Attachment]) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let list: Vec<Value> = files
        .iter()
        .map(|file| {
            json!({
                "id": file.id.as_str(),
                "name": file.name.as_str(),
                "content_type": file.content_type.as_str(),
                "size": file.size,
                "key": file.key,
            })
        })
        .collect();
    Some(Value::Array(list).to_string())
}

pub(crate) fn decode_attachments(column: Option<&str>) -> Result<Vec<Attachment>, StoreError> {
    let Some(text) = column else {
        return Ok(Vec::new());
    };
    let bad = |what: &str| StoreError::Internal(format!("stored attachments: bad {what}"));
    let list: Vec<Value> = serde_json::from_str(text).map_err(|_| bad("JSON"))?;
    list.iter()
        .map(|file| {
            let text = |name: &str| {
                file.get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(name))
            };
            Ok(Attachment {
                id: AttachmentId::parse(text("id")?).map_err(|_| bad("id"))?,
                name: FileName::parse(text("name")?).map_err(|_| bad("name"))?,
                content_type: ContentType::parse(text("content_type")?)
                    .map_err(|_| bad("content_type"))?,
                size: file
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("size"))?,
                key: text("key")?.to_string(),
            })
        })
        .collect()
}

impl UploadRegistry for SqliteStore {
    async fn record_upload(&self, record: &UploadRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO uploads (id, uploader, name, content_type, size, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    record.id.as_str(),
                    record.uploader.as_str(),
                    record.name.as_str(),
                    record.content_type.as_str(),
                    i64::try_from(record.size).map_err(|_| StoreError::Internal(format!(
                        "upload size {}",
                        record.size
                    )))?,
                    record.created_at
                ],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn find_uploads(&self, ids: &[AttachmentId]) -> Result<Vec<UploadRecord>, StoreError> {
        let ids = ids.to_vec();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id, uploader, name, content_type, size, created_at_ms,
                         attached_to FROM uploads WHERE id = ?1",
                )
                .map_err(internal)?;
            let mut found = Vec::new();
            for id in &ids {
                let mut rows = statement.query([id.as_str()]).map_err(internal)?;
                if let Some(row) = rows.next().map_err(internal)? {
                    let bad = |what: &str| {
                        StoreError::Internal(format!("stored upload {id}: bad {what}"))
                    };
                    let (name, kind): (String, String) =
                        (row.get(2).map_err(internal)?, row.get(3).map_err(internal)?);
                    found.push(UploadRecord {
                        id: id.clone(),
                        uploader: Uploader::from_stored(row.get(1).map_err(internal)?),
                        name: FileName::parse(&name).map_err(|_| bad("name"))?,
                        content_type: ContentType::parse(&kind).map_err(|_| bad("content_type"))?,
                        size: u64::try_from(row.get::<_, i64>(4).map_err(internal)?)
                            .map_err(|_| bad("size"))?,
                        created_at: row.get(5).map_err(internal)?,
                        attached_to: row
                            .get::<_, Option<String>>(6)
                            .map_err(internal)?
                            .map(|id| MessageId::parse(&id))
                            .transpose()
                            .map_err(|_| bad("attached_to"))?,
                    });
                }
            }
            Ok(found)
        })
        .await
    }
}
