//! Due work on SQLite: snoozed conversations by their snooze time (a partial index), and
//! each action one conditional update on the exact state read, as on DynamoDB.

use crate::conversation_reads::{SELECT_CONVERSATION, read_conversation};
use crate::{SqliteStore, internal};
use rusqlite::params;
use supportzen_shared::store::{Due, DueWork, StoreError, StoredConversation};

impl DueWork for SqliteStore {
    async fn due(&self, now: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_CONVERSATION} WHERE snoozed_until_ms IS NOT NULL
                     AND snoozed_until_ms <= ?1 AND status = 'pending'
                     ORDER BY snoozed_until_ms, id LIMIT ?2"
                ))
                .map_err(internal)?;
            let rows = statement
                .query_map(params![now, limit], read_conversation)
                .map_err(internal)?;
            let mut due = Vec::new();
            for row in rows {
                due.push(Due::Wake(row.map_err(internal)??));
            }
            Ok(due)
        })
        .await
    }

    async fn wake(&self, snoozed: &StoredConversation) -> Result<bool, StoreError> {
        let Some(until) = snoozed.snoozed_until else {
            return Ok(false);
        };
        let (key, activity) = (snoozed.id.key(), snoozed.last_activity_at);
        self.with_conn(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE conversations SET status = 'open', snoozed_until_ms = NULL
                     WHERE id = ?1 AND status = 'pending' AND snoozed_until_ms = ?2
                     AND last_activity_ms = ?3",
                    params![key, until, activity],
                )
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }
}
