//! Erasing a customer (`store::CustomerEraser`) in one transaction: their conversations'
//! messages and notes, the conversations with their due emails and typing claims, their
//! receipts, their uploads (declared by them, or carried by a message of theirs), their
//! connect tickets, the events about them still in the event journal (`journal.rs`: not
//! yet relayed to the webhook outbox; those set aside as unreadable too, when they name
//! them), and their user row. The files it names are those the messages carried and
//! those the customer uploaded.

use crate::uploads::decode_attachments;
use crate::{SqliteStore, internal};
use rusqlite::params;
use supportzen_shared::domain::{Uploader, UserId};
use supportzen_shared::store::{CustomerEraser, Erased, StoreError};

impl CustomerEraser for SqliteStore {
    async fn erase_customer(&self, customer: &UserId) -> Result<Erased, StoreError> {
        let customer = customer.as_str().to_string();
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let mut erased = Erased::default();
            let mut carried = Vec::new();
            {
                let mut files = tx
                    .prepare(
                        "SELECT attachments FROM messages WHERE attachments IS NOT NULL
                         AND conversation_id IN (SELECT id FROM conversations WHERE owner = ?1)",
                    )
                    .map_err(internal)?;
                let mut rows = files.query(params![customer]).map_err(internal)?;
                while let Some(row) = rows.next().map_err(internal)? {
                    let column: Option<String> = row.get(0).map_err(internal)?;
                    for file in decode_attachments(column.as_deref())? {
                        carried.push(file.id.as_str().to_string());
                        erased.files.push(file.key);
                    }
                }
            }
            let count = |n: usize| n as u64;
            // What hangs off their conversations: due emails and typing claims.
            let mut other = tx
                .execute(
                    "DELETE FROM reply_notices
                     WHERE conversation_id IN (SELECT id FROM conversations WHERE owner = ?1)",
                    params![customer],
                )
                .map_err(internal)?;
            other += tx
                .execute(
                    "DELETE FROM message_notices
                     WHERE conversation_id IN (SELECT id FROM conversations WHERE owner = ?1)",
                    params![customer],
                )
                .map_err(internal)?;
            other += tx
                .execute(
                    "DELETE FROM typing_claims
                     WHERE conversation_id IN (SELECT id FROM conversations WHERE owner = ?1)
                        OR sender = 'customer#' || ?1",
                    params![customer],
                )
                .map_err(internal)?;
            erased.messages = count(
                tx.execute(
                    "DELETE FROM messages
                     WHERE conversation_id IN (SELECT id FROM conversations WHERE owner = ?1)",
                    params![customer],
                )
                .map_err(internal)?,
            );
            erased.conversations = count(
                tx.execute(
                    "DELETE FROM conversations WHERE owner = ?1",
                    params![customer],
                )
                .map_err(internal)?,
            );
            erased.receipts = count(
                tx.execute("DELETE FROM receipts WHERE user_id = ?1", params![customer])
                    .map_err(internal)?,
            );
            other += tx
                .execute(
                    "DELETE FROM rate_counts WHERE key = ?1",
                    params![crate::rate_limits::message_key(&customer)],
                )
                .map_err(internal)?;
            let folder = Uploader::customer(&UserId::from_stored(customer.clone()));
            {
                // Their own uploads' files, attached or not (an attached one's kept copy
                // is among the messages' files above).
                let mut ids = tx
                    .prepare("SELECT id FROM uploads WHERE uploader = ?1")
                    .map_err(internal)?;
                let mut rows = ids.query(params![folder.as_str()]).map_err(internal)?;
                while let Some(row) = rows.next().map_err(internal)? {
                    let id: String = row.get(0).map_err(internal)?;
                    erased.files.push(format!("{}/{id}", folder.as_str()));
                }
            }
            let mut uploads = tx
                .execute(
                    "DELETE FROM uploads WHERE uploader = ?1",
                    params![folder.as_str()],
                )
                .map_err(internal)?;
            for id in &carried {
                uploads += tx
                    .execute("DELETE FROM uploads WHERE id = ?1", params![id])
                    .map_err(internal)?;
            }
            erased.uploads = count(uploads);
            other += tx
                .execute(
                    "DELETE FROM connect_tickets
                     WHERE subscriber_kind = 'customer' AND subscriber_id = ?1",
                    params![customer],
                )
                .map_err(internal)?;
            // A row that is not JSON (another version's) fails no erasure: it names
            // nobody this version can tell.
            for table in ["event_journal", "unreadable_events"] {
                other += tx
                    .execute(
                        &format!(
                            "DELETE FROM {table} WHERE CASE WHEN json_valid(body)
                             THEN json_extract(body, '$.owner') END = ?1"
                        ),
                        params![customer],
                    )
                    .map_err(internal)?;
            }
            erased.other = count(other);
            erased.user = tx
                .execute("DELETE FROM users WHERE id = ?1", params![customer])
                .map_err(internal)?
                == 1;
            tx.commit().map_err(internal)?;
            Ok(erased)
        })
        .await
    }
}
