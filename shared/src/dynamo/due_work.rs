//! Due work on DynamoDB: the sparse `due-work` index, one query per shard for the keys
//! due by now, and each action one conditional update on the exact due time read, so a
//! repeated or overlapping sweep changes nothing the second time.

use super::DynamoStore;
use super::conversations::ConversationItem;
use super::items::{
    AGENTS_NOTICE_SK, DUE_SHARDS, IndexKeys, META, NOTICE_SK, PROFILE, conversation_pk, due_bound,
    due_pk, due_shard, due_sk, key, n, notice_sk, s, user_pk,
};
use super::schema::DUE_WORK;
use super::table::{names, values};
use crate::domain::{ConversationId, Email, Reader, Status, UserId, now_millis};
use crate::store::{Due, DueWork, EmailPreferences, StoreError, StoredConversation};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

impl DynamoStore {
    /// The update that sets `conversation`'s notice for `reader` (unread replies for
    /// the customer, unread messages for the agents) for `due_at` unless one is
    /// pending: every attribute `if_not_exists`, so the first message of a quiet period
    /// decides its time and later ones change nothing.
    pub(super) fn notice_update(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(conversation), notice_sk(reader))))
            .update_expression(
                "SET due_at = if_not_exists(due_at, :due), \
                 gsi4pk = if_not_exists(gsi4pk, :due_pk), \
                 gsi4sk = if_not_exists(gsi4sk, :due_sk), #id = :id, #kind = :kind",
            )
            .set_expression_attribute_names(Some(names(&[("#id", "id"), ("#kind", "kind")])))
            .set_expression_attribute_values(Some(values(vec![
                (":due", n(due_at)),
                (":due_pk", s(due_pk(due_shard(conversation)))),
                (":due_sk", s(due_sk(due_at, conversation))),
                (":id", s(conversation.key())),
                (":kind", s(conversation.kind())),
            ])))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))
    }

    /// [`DynamoStore::notice_update`] as a transaction's action.
    pub(super) fn notice_action(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .update(self.notice_update(reader, conversation, due_at)?)
            .build())
    }
}

/// A notice item as the due-work index returns it, for `reader`.
fn decode_notice(reader: Reader, item: &super::items::Item) -> Result<Due, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Internal(format!("notice item without {name}"))),
    };
    let due_at = match item.get("due_at") {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::Internal(format!("notice due_at {value:?}")))?,
        _ => return Err(StoreError::Internal("notice item without due_at".into())),
    };
    let conversation =
        ConversationId::from_stored(&text("kind")?, &text("id")?).map_err(StoreError::Internal)?;
    Ok(match reader {
        Reader::Customer => Due::UnreadReplies {
            conversation,
            due_at,
        },
        Reader::Agents => Due::UnreadMessages {
            conversation,
            due_at,
        },
    })
}

impl DueWork for DynamoStore {
    async fn due(&self, now: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
        let per_shard = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let shards = (0..DUE_SHARDS).map(|shard| {
            let query = self
                .client
                .query()
                .index_name(DUE_WORK.name)
                .key_condition_expression("#pk = :pk AND #sk < :bound")
                .expression_attribute_names("#pk", DUE_WORK.partition_key)
                .expression_attribute_names("#sk", DUE_WORK.sort_key)
                .expression_attribute_values(":pk", s(due_pk(shard)))
                .expression_attribute_values(":bound", s(due_bound(now)))
                .limit(per_shard);
            async move { self.query_page(query, None, "Query due work").await }
        });
        let mut due = Vec::new();
        for page in futures_util::future::join_all(shards).await {
            for item in page?.items {
                match item.get("sk") {
                    Some(AttributeValue::S(sk)) if sk == META => {
                        due.push(Due::Wake(Box::new(ConversationItem::decode(item)?)))
                    }
                    Some(AttributeValue::S(sk)) if sk == NOTICE_SK => {
                        due.push(decode_notice(Reader::Customer, &item)?)
                    }
                    Some(AttributeValue::S(sk)) if sk == AGENTS_NOTICE_SK => {
                        due.push(decode_notice(Reader::Agents, &item)?)
                    }
                    _ => {}
                }
            }
        }
        due.sort_by_key(Due::due_at);
        due.truncate(limit);
        Ok(due)
    }

    async fn wake(&self, snoozed: &StoredConversation) -> Result<bool, StoreError> {
        let Some(until) = snoozed.snoozed_until else {
            return Ok(false);
        };
        let id = &snoozed.id;
        // The inbox keys follow the activity read, so the write is conditional on it too
        // (a reply since then moved it: the next sweep reads the conversation again).
        let index = IndexKeys::new(
            id,
            Status::Open,
            snoozed.last_activity_at,
            self.inbox_shards,
        );
        let mut attribute_values = vec![
            (":open", s(Status::Open.as_str())),
            (":true", AttributeValue::Bool(true)),
            (":pending", s(Status::Pending.as_str())),
            (":until", n(until)),
            (":activity", n(snoozed.last_activity_at)),
        ];
        attribute_values.extend(index.values());
        let wake = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(id), META)))
            .update_expression(format!(
                "SET #status = :open, #open = :true, {} REMOVE snoozed_until, gsi4pk, gsi4sk",
                IndexKeys::SET
            ))
            .condition_expression(
                "attribute_exists(pk) AND #status = :pending AND snoozed_until = :until \
                 AND last_activity_at = :activity",
            )
            .set_expression_attribute_names(Some(names(&[
                ("#status", "status"),
                ("#open", "open"),
            ])))
            .set_expression_attribute_values(Some(values(attribute_values)));
        Ok(self.send_update(wake, "UpdateItem wake").await?.is_done())
    }

    async fn take_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> Result<bool, StoreError> {
        let write = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(conversation), notice_sk(reader))))
            .condition_expression("due_at = :due")
            .expression_attribute_values(":due", n(due_at));
        Ok(self
            .send_delete(write, "DeleteItem notice")
            .await?
            .is_done())
    }

    async fn schedule_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> Result<(), StoreError> {
        let update = self.notice_update(reader, conversation, due_at)?;
        let write = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values);
        let operation = "UpdateItem notice";
        self.send_update(write, operation)
            .await?
            .unconditional(operation)?;
        Ok(())
    }

    /// One `GetItem` of the conversation's `assignee_email` only.
    async fn assignee_email(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Email>, StoreError> {
        let item = self
            .get(
                key(conversation_pk(conversation), META),
                Some("assignee_email"),
                "GetItem assignee email",
            )
            .await?;
        Ok(
            match item.as_ref().and_then(|item| item.get("assignee_email")) {
                Some(AttributeValue::S(email)) => Email::parse(email).ok(),
                _ => None,
            },
        )
    }
}

impl EmailPreferences for DynamoStore {
    async fn unsubscribe(&self, user: &UserId) -> Result<bool, StoreError> {
        let write = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(user_pk(user), PROFILE)))
            .update_expression("SET unsubscribed_at = if_not_exists(unsubscribed_at, :now)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", n(now_millis()));
        Ok(self
            .send_update(write, "UpdateItem unsubscribe")
            .await?
            .is_done())
    }

    async fn unsubscribed(&self, user: &UserId) -> Result<bool, StoreError> {
        let item = self
            .get(
                key(user_pk(user), PROFILE),
                Some("unsubscribed_at"),
                "GetItem unsubscribed",
            )
            .await?;
        Ok(item.is_some_and(|item| item.contains_key("unsubscribed_at")))
    }
}
