//! The typing throttle, as on DynamoDB: one row per conversation and sender whose time
//! a claim moves forward only when it is at least the interval old. (`supportzen serve`
//! throttles in memory; this keeps the store behind the same conformance suite.)

use crate::{SqliteStore, internal};
use rusqlite::params;
use supportzen_shared::domain::ConversationId;
use supportzen_shared::events::{Subscriber, TYPING_INTERVAL_MS};
use supportzen_shared::store::{StoreError, TypingGate};

impl TypingGate for SqliteStore {
    async fn claim_typing(
        &self,
        from: &Subscriber,
        conversation: &ConversationId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (key, sender) = (conversation.key(), format!("{}#{}", from.kind(), from.id()));
        self.with_conn(move |conn| {
            let changed = conn
                .execute(
                    "INSERT INTO typing_claims (conversation_id, sender, at_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (conversation_id, sender) DO UPDATE SET at_ms = excluded.at_ms
                     WHERE at_ms <= ?4",
                    params![key, sender, now, now - TYPING_INTERVAL_MS],
                )
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }
}
