//! Due work on DynamoDB: the sparse `due-work` index, one query per shard for the keys
//! due by now, and each action one conditional update on the exact due time read, so a
//! repeated or overlapping sweep changes nothing the second time.

use super::DynamoStore;
use super::conversations::ConversationItem;
use super::errors::classify;
use super::items::{DUE_SHARDS, IndexKeys, META, conversation_pk, due_bound, due_pk, key, n, s};
use super::schema::DUE_WORK;
use super::table::{names, values};
use crate::domain::Status;
use crate::store::{Due, DueWork, StoreError, StoredConversation};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

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
                let is_meta = item.get("sk") == Some(&s(META));
                if is_meta {
                    due.push(Due::Wake(ConversationItem::decode(item)?));
                }
            }
        }
        due.sort_by_key(|item| match item {
            Due::Wake(conversation) => conversation.snoozed_until,
        });
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
        let index = IndexKeys::new(id, Status::Open, snoozed.last_activity_at);
        let mut attribute_values = vec![
            (":open", s(Status::Open.as_str())),
            (":true", AttributeValue::Bool(true)),
            (":pending", s(Status::Pending.as_str())),
            (":until", n(until)),
            (":activity", n(snoozed.last_activity_at)),
        ];
        attribute_values.extend(index.values());
        let result = self
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
            .set_expression_attribute_values(Some(values(attribute_values)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(classify("UpdateItem wake", err)),
            },
        }
    }
}
