//! Read marks, in one transaction: the mark's message checked, the other side's messages
//! after it counted, and the mark written with `counter - count`, as on DynamoDB.

use crate::conversation_reads::conversation_by_id;
use crate::{SqliteStore, internal};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use supportzen_shared::domain::{Agent, MessageId, now_millis};
use supportzen_shared::store::{
    MarkedRead, ReadMarker, Reader, StoreError, StoredConversation, committed,
};

impl ReadMarker for SqliteStore {
    async fn mark_read(
        &self,
        seen: &StoredConversation,
        reader: Reader,
        up_to: &MessageId,
        by: Option<&Agent>,
    ) -> Result<MarkedRead, StoreError> {
        let (key, up_to, by, seen) = (seen.id.key(), up_to.clone(), by.cloned(), seen.clone());
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            let before = conversation_by_id(&tx, &key)?.ok_or(StoreError::NotFound)?;
            // The customer cannot see notes, so cannot mark one.
            let visible = match reader {
                Reader::Customer => "AND internal = 0",
                Reader::Agents => "",
            };
            let found: Option<i64> = tx
                .query_row(
                    &format!(
                        "SELECT 1 FROM messages WHERE conversation_id = ?1 AND id = ?2 {visible}"
                    ),
                    params![key, up_to.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(internal)?;
            if found.is_none() {
                return Err(StoreError::UnknownMessage);
            }
            if !before.reads.moves_forward(reader, &up_to) {
                return Ok(MarkedRead {
                    conversation: before,
                    moved: false,
                });
            }
            let after: i64 = tx
                .query_row(
                    "SELECT count(*) FROM messages
                     WHERE conversation_id = ?1 AND id > ?2 AND internal = 0 AND author = ?3",
                    params![key, up_to.as_str(), reader.reads().as_str()],
                    |row| row.get(0),
                )
                .map_err(internal)?;
            let read = before.reads.written_for(reader) - after;
            match reader {
                Reader::Customer => tx.execute(
                    "UPDATE conversations SET customer_read_up_to = ?2, customer_read = ?3
                     WHERE id = ?1",
                    params![key, up_to.as_str(), read],
                ),
                Reader::Agents => tx.execute(
                    "UPDATE conversations SET agents_read_up_to = ?2, agents_read = ?3,
                         agents_read_by_id = ?4, agents_read_by_name = ?5
                     WHERE id = ?1",
                    params![
                        key,
                        up_to.as_str(),
                        read,
                        by.as_ref().map(|a| a.id.as_str()),
                        by.as_ref().map(|a| a.name.as_str())
                    ],
                ),
            }
            .map_err(internal)?;
            let conversation = conversation_by_id(&tx, &key)?
                .ok_or_else(|| StoreError::Internal(format!("{key} vanished while marked")))?;
            let marked = MarkedRead {
                conversation,
                moved: true,
            };
            journal.write(&tx, || {
                committed::marked_read(&seen, reader, &marked, now_millis())
            })?;
            tx.commit().map_err(internal)?;
            Ok(marked)
        })
        .await
    }
}
