//! Due work on SQLite: snoozed conversations by their snooze time (a partial index), and
//! each action one conditional update on the exact state read, as on DynamoDB.

use crate::conversation_reads::{SELECT_CONVERSATION, read_conversation};
use crate::{SqliteStore, internal};
use rusqlite::{TransactionBehavior, params};
use supportzen_shared::domain::{
    ConversationId, ConversationKey, Email, Reader, UserId, now_millis,
};
use supportzen_shared::store::{
    Due, DueWork, EmailPreferences, StoreError, StoredConversation, committed,
};

/// The table of the notices for `reader`: the customer's (unread replies) or the
/// agents' (unread customer messages).
fn notices(reader: Reader) -> &'static str {
    match reader {
        Reader::Customer => "reply_notices",
        Reader::Agents => "message_notices",
    }
}

/// Sets the conversation's notice for `reader` for `due_at` unless one is pending.
pub(crate) fn set_notice(
    conn: &rusqlite::Connection,
    reader: Reader,
    key: &str,
    due_at: i64,
) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "INSERT OR IGNORE INTO {} (conversation_id, due_at_ms) VALUES (?1, ?2)",
            notices(reader)
        ),
        params![key, due_at],
    )
    .map_err(internal)?;
    Ok(())
}

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
                due.push(Due::Wake(Box::new(row.map_err(internal)??)));
            }
            for reader in [Reader::Customer, Reader::Agents] {
                let mut statement = conn
                    .prepare(&format!(
                        "SELECT conversation_id, due_at_ms FROM {} WHERE due_at_ms <= ?1
                         ORDER BY due_at_ms, conversation_id LIMIT ?2",
                        notices(reader)
                    ))
                    .map_err(internal)?;
                let rows = statement
                    .query_map(params![now, limit], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })
                    .map_err(internal)?;
                for row in rows {
                    let (key, due_at) = row.map_err(internal)?;
                    let conversation = ConversationKey::parse(&key)
                        .ok()
                        .and_then(|key| key.resolve_any())
                        .ok_or_else(|| StoreError::Internal(format!("stored notice {key:?}")))?;
                    due.push(match reader {
                        Reader::Customer => Due::UnreadReplies {
                            conversation,
                            due_at,
                        },
                        Reader::Agents => Due::UnreadMessages {
                            conversation,
                            due_at,
                        },
                    });
                }
            }
            due.sort_by_key(Due::due_at);
            due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(due)
        })
        .await
    }

    async fn wake(&self, snoozed: &StoredConversation) -> Result<bool, StoreError> {
        let Some(until) = snoozed.snoozed_until else {
            return Ok(false);
        };
        let (key, activity, snoozed) =
            (snoozed.id.key(), snoozed.last_activity_at, snoozed.clone());
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            let changed = tx
                .execute(
                    "UPDATE conversations SET status = 'open', snoozed_until_ms = NULL
                     WHERE id = ?1 AND status = 'pending' AND snoozed_until_ms = ?2
                     AND last_activity_ms = ?3",
                    params![key, until, activity],
                )
                .map_err(internal)?;
            if changed != 1 {
                return Ok(false);
            }
            journal.write(&tx, || committed::woken(&snoozed, now_millis()))?;
            tx.commit().map_err(internal)?;
            Ok(true)
        })
        .await
    }

    async fn take_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> Result<bool, StoreError> {
        let key = conversation.key();
        self.with_conn(move |conn| {
            let taken = conn
                .execute(
                    &format!(
                        "DELETE FROM {} WHERE conversation_id = ?1 AND due_at_ms = ?2",
                        notices(reader)
                    ),
                    params![key, due_at],
                )
                .map_err(internal)?;
            Ok(taken == 1)
        })
        .await
    }

    async fn schedule_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> Result<(), StoreError> {
        let key = conversation.key();
        self.with_conn(move |conn| set_notice(conn, reader, &key, due_at))
            .await
    }

    async fn assignee_email(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Email>, StoreError> {
        let key = conversation.key();
        self.with_conn(move |conn| {
            use rusqlite::OptionalExtension;
            let email: Option<Option<String>> = conn
                .query_row(
                    "SELECT assignee_email FROM conversations WHERE id = ?1",
                    [key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(internal)?;
            Ok(email.flatten().and_then(|email| Email::parse(&email).ok()))
        })
        .await
    }
}

impl EmailPreferences for SqliteStore {
    async fn unsubscribe(&self, user: &UserId) -> Result<bool, StoreError> {
        let id = user.as_str().to_string();
        self.with_conn(move |conn| {
            let found = conn
                .execute(
                    "UPDATE users SET unsubscribed_at_ms = coalesce(unsubscribed_at_ms, ?2)
                     WHERE id = ?1",
                    params![id, now_millis()],
                )
                .map_err(internal)?;
            Ok(found == 1)
        })
        .await
    }

    async fn unsubscribed(&self, user: &UserId) -> Result<bool, StoreError> {
        let id = user.as_str().to_string();
        self.with_conn(move |conn| {
            use rusqlite::OptionalExtension;
            let at: Option<Option<i64>> = conn
                .query_row(
                    "SELECT unsubscribed_at_ms FROM users WHERE id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(internal)?;
            Ok(matches!(at, Some(Some(_))))
        })
        .await
    }
}
