//! The typing throttle: one item per conversation and sender, `TYPING#<conversation>` /
//! `<kind>#<id>`, whose `at_ms` a claim moves forward on condition that it is at least
//! the interval old. It expires a minute later (time-to-live): nothing else reads it.

use super::DynamoStore;
use super::items::{key, n, typing_pk, typing_sk};
use crate::domain::ConversationId;
use crate::events::{Subscriber, TYPING_INTERVAL_MS};
use crate::store::{StoreError, TypingGate};

impl TypingGate for DynamoStore {
    async fn claim_typing(
        &self,
        from: &Subscriber,
        conversation: &ConversationId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let claim = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(typing_pk(conversation), &typing_sk(from))))
            .update_expression("SET at_ms = :now, expires_at = :expires")
            .condition_expression("attribute_not_exists(at_ms) OR at_ms <= :cutoff")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":cutoff", n(now - TYPING_INTERVAL_MS))
            .expression_attribute_values(":expires", n(now / 1000 + 60));
        Ok(self
            .send_update(claim, "UpdateItem typing")
            .await?
            .is_done())
    }
}
