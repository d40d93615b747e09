//! The agents' side: the inbox (one indexed query), a conversation with its notes, and
//! the agents' writes, each conditional on the conversation as the agent's flow read it,
//! as on DynamoDB.

use crate::conversation_reads::{
    SELECT_CONVERSATION, conversation_by_id, one_more, read_conversation,
};
use crate::conversations::{insert_message, record_activity};
use crate::receipts::{find_receipt, insert_receipt};
use crate::{SqliteStore, internal};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use supportzen_shared::domain::{
    AgentId, ConversationId, Email, NewMessage, Reader, Status, now_millis,
};
use supportzen_shared::idempotency::{NewReceipt, Receipt, ReceiptKey};
use supportzen_shared::store::{
    ActivityCursor, AgentReader, AgentReceipts, AgentWriter, AssigneeFilter, InboxFilter,
    MessageWindow, Page, StoreError, StoredConversation, StoredMessage, committed,
};

/// Whether the row still has the status (and, if `same_activity`, the newest message and
/// the count of the customer's messages)
/// `seen` had: `Some(true)` yes, `Some(false)` it changed, `None` it is gone.
fn unchanged(
    tx: &rusqlite::Transaction<'_>,
    seen: &StoredConversation,
    same_activity: bool,
) -> Result<Option<bool>, StoreError> {
    let found: Option<(String, i64, Option<String>, i64)> = tx
        .query_row(
            "SELECT status, last_activity_ms, last_message_id, customer_messages
             FROM conversations WHERE id = ?1",
            [seen.id.key()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .map_err(internal)?;
    let seen_message = seen.last_message.as_ref().map(|m| m.id.as_str());
    // A customer's message written behind a newer one moves only their count.
    Ok(found.map(|(status, at, newest, counted)| {
        status == seen.status.as_str()
            && (!same_activity
                || (at == seen.last_activity_at
                    && newest.as_deref() == seen_message
                    && counted == seen.reads.customer_messages))
    }))
}

impl AgentReader for SqliteStore {
    async fn find_conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let key = id.key();
        self.with_conn(move |conn| conversation_by_id(conn, &key))
            .await
    }

    async fn inbox_page(
        &self,
        filter: &InboxFilter,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> Result<Page<StoredConversation>, StoreError> {
        let (kind, status) = (filter.kind.as_str(), filter.status.as_str());
        // ?3: 0 any assignee, 1 nobody, 2 the agent ?4.
        let (which, agent) = match &filter.assignee {
            AssigneeFilter::Any => (0, String::new()),
            AssigneeFilter::Unassigned => (1, String::new()),
            AssigneeFilter::Agent(agent) => (2, agent.as_str().to_string()),
        };
        let (at, key) = match from {
            Some(cursor) => (cursor.last_activity_at, cursor.conversation.key()),
            None => (i64::MAX, String::new()),
        };
        let strict = from.is_some();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_CONVERSATION} WHERE kind = ?1 AND status = ?2
                       AND (?3 = 0 OR (?3 = 1 AND assignee IS NULL) OR (?3 = 2 AND assignee = ?4))
                       AND (?5 = 0 OR (last_activity_ms, id) < (?6, ?7))
                     ORDER BY last_activity_ms DESC, id DESC LIMIT ?8"
                ))
                .map_err(internal)?;
            let rows = statement
                .query_map(
                    params![kind, status, which, agent, strict, at, key, one_more(limit)],
                    read_conversation,
                )
                .map_err(internal)?;
            let items = rows
                .map(|row| row.map_err(internal)?)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_one_more(items, limit, false))
        })
        .await
    }

    async fn agent_message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> Result<Page<StoredMessage>, StoreError> {
        self.message_range(conversation, window, limit, true).await
    }
}

impl AgentWriter for SqliteStore {
    async fn add_agent_message(
        &self,
        seen: &StoredConversation,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let (seen, message, receipt) = (seen.clone(), message.clone(), receipt.cloned());
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            // First, as DynamoDB reports it first: a retry that lost the race is answered
            // from the winner's receipt, not refused for the files or status the winner
            // changed.
            if let Some(receipt) = &receipt {
                insert_receipt(&tx, receipt)?;
            }
            match unchanged(&tx, &seen, false)? {
                None => return Err(StoreError::NotFound),
                Some(false) if !message.internal => return Err(StoreError::Changed),
                Some(_) => {}
            }
            let key = seen.id.key();
            insert_message(&tx, &key, &message)?;
            if !message.internal {
                record_activity(&tx, &key, &message)?;
                if let Some(due_at) = notice_at {
                    crate::due_work::set_notice(&tx, Reader::Customer, &key, due_at)?;
                }
            }
            journal.write(&tx, || {
                committed::message_added(&seen.id, &seen.owner, &message)
            })?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn set_status(
        &self,
        seen: &StoredConversation,
        status: Status,
        snoozed_until: Option<i64>,
    ) -> Result<(), StoreError> {
        let seen = seen.clone();
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            match unchanged(&tx, &seen, true)? {
                None => return Err(StoreError::NotFound),
                Some(false) => return Err(StoreError::Changed),
                Some(true) => {}
            }
            tx.execute(
                "UPDATE conversations SET status = ?2, snoozed_until_ms = ?3 WHERE id = ?1",
                params![seen.id.key(), status.as_str(), snoozed_until],
            )
            .map_err(internal)?;
            journal.write(&tx, || {
                committed::status_set(&seen, status, snoozed_until, now_millis())
            })?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn assign(
        &self,
        conversation: &ConversationId,
        assignee: Option<&AgentId>,
        assignee_email: Option<&Email>,
    ) -> Result<StoredConversation, StoreError> {
        let (key, assignee) = (conversation.key(), assignee.cloned());
        // The assignee's address goes with them: set with it, cleared otherwise.
        let email = assignee_email
            .filter(|_| assignee.is_some())
            .map(|email| email.user_id().as_str().to_string());
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            let found: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT status, assignee FROM conversations WHERE id = ?1",
                    [&key],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(internal)?;
            let before = match found {
                None => return Err(StoreError::NotFound),
                Some((status, _)) if status == Status::Closed.as_str() => {
                    return Err(StoreError::Closed);
                }
                Some((_, before)) => before,
            };
            tx.execute(
                "UPDATE conversations SET assignee = ?2, assignee_email = ?3 WHERE id = ?1",
                params![key, assignee.as_ref().map(AgentId::as_str), email],
            )
            .map_err(internal)?;
            let assigned = conversation_by_id(&tx, &key)?
                .ok_or_else(|| StoreError::Internal(format!("{key} vanished while assigned")))?;
            // The previous assignee is read only for the event: a write that journals
            // nothing never fails on it.
            journal.try_write(&tx, || {
                let before = before
                    .map(|agent| AgentId::parse(&agent))
                    .transpose()
                    .map_err(StoreError::Internal)?;
                Ok(committed::assigned(before, &assigned, now_millis()))
            })?;
            tx.commit().map_err(internal)?;
            Ok(assigned)
        })
        .await
    }
}

impl AgentReceipts for SqliteStore {
    async fn find_receipt(&self, key: &ReceiptKey) -> Result<Option<Receipt>, StoreError> {
        let key = key.clone();
        self.with_conn(move |conn| find_receipt(conn, &key)).await
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;
    use supportzen_shared::domain::AgentId;
    use supportzen_shared::store::AgentWriter;

    /// The previous assignee is read for the event alone: one this version cannot read
    /// (empty, as no write of its makes) fails no assignment while nothing is journaled.
    #[tokio::test]
    async fn an_unreadable_previous_assignee_fails_no_assignment_that_journals_nothing() {
        let store = SqliteStore::open(":memory:").unwrap();
        let chat = crate::insert_chat(&store, Some(""));
        let agent = AgentId::parse("agent-7").unwrap();
        let assigned = store.assign(&chat, Some(&agent), None).await.unwrap();
        assert_eq!(assigned.assignee, Some(agent));
    }
}
