//! The customer's rating of a solved conversation, written on condition that it is
//! still solved and its rating is the one the flow read, as on DynamoDB.

use crate::{SqliteStore, internal};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use supportzen_shared::domain::{Rating, Status};
use supportzen_shared::store::{ConversationRater, StoreError, StoredConversation, committed};

impl ConversationRater for SqliteStore {
    async fn rate(&self, seen: &StoredConversation, rating: &Rating) -> Result<(), StoreError> {
        let (key, rating) = (seen.id.key(), rating.clone());
        let seen_first = seen.rating.as_ref().map(|r| r.first_rated_at);
        let seen = seen.clone();
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            let found: Option<(String, Option<i64>, Option<i64>)> = tx
                .query_row(
                    "SELECT status, rating, rating_first_at_ms FROM conversations WHERE id = ?1",
                    [&key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
                .map_err(internal)?;
            let Some((status, score, first)) = found else {
                return Err(StoreError::NotFound);
            };
            let first = score.and(first);
            if status != Status::Solved.as_str() || first != seen_first {
                return Err(StoreError::Changed);
            }
            tx.execute(
                "UPDATE conversations SET rating = ?2, rating_comment = ?3, rated_at_ms = ?4,
                 rating_first_at_ms = ?5 WHERE id = ?1",
                params![
                    key,
                    i64::from(rating.score.get()),
                    rating.comment.as_ref().map(|c| c.as_str()),
                    rating.rated_at,
                    rating.first_rated_at
                ],
            )
            .map_err(internal)?;
            journal.write(&tx, || committed::rated(&seen, &rating))?;
            tx.commit().map_err(internal)
        })
        .await
    }
}
