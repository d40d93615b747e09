//! The agents' side: the inbox (one query per shard of the inbox or assignee index,
//! merged), a conversation with its notes, and the agents' conditional writes.

use super::DynamoStore;
use super::conversation_reads::{in_time_order, one_more};
use super::conversations::{ConversationItem, MessageItem, as_it_was};
use super::items::{
    IndexKeys, MESSAGE_PREFIX, META, NOTE_PREFIX, assignee_pk, conversation_pk, due_pk, due_shard,
    due_sk, inbox_pk, inbox_sk, key, n, owner_activity_key, receipt_pk, s, to_item,
};
use super::receipts::ReceiptItem;
use super::schema;
use super::table::{Cancelled, Part, Transaction, names, values};
use super::uploads::failed_claim;
use super::wire::Written;
use crate::domain::{AgentId, ConversationId, Email, NewMessage, Reader, Status};
use crate::idempotency::{NewReceipt, Receipt, ReceiptKey};
use crate::store::{
    ActivityCursor, AgentReader, AgentReceipts, AgentWriter, AssigneeFilter, InboxFilter,
    MessagePreview, MessageWindow, Page, StoreError, StoredConversation, StoredMessage,
    merge_pages,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use futures_util::{StreamExt, TryStreamExt};
use std::cmp::Reverse;
use std::collections::HashMap;

/// A condition expression with the attribute names and values it uses (DynamoDB refuses
/// names or values an expression does not use).
struct Condition {
    expression: &'static str,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

/// The condition that a conversation still has the status an agent saw. Items written
/// before statuses have none; they are open (or closed) by their `open` flag.
fn same_status(seen: Status) -> Condition {
    let mut names = vec![("#status", "status")];
    let mut values = vec![(":seen_status", s(seen.as_str()))];
    let expression = if seen == Status::Open {
        names.push(("#open", "open"));
        values.push((":true", AttributeValue::Bool(true)));
        "(#status = :seen_status OR (attribute_not_exists(#status) AND #open = :true))"
    } else {
        "#status = :seen_status"
    };
    Condition {
        expression,
        names,
        values,
    }
}

impl AgentReader for DynamoStore {
    async fn find_conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        self.get_as::<ConversationItem>(key(conversation_pk(id), META), "GetItem conversation")
            .await?
            .map(ConversationItem::into_stored)
            .transpose()
    }

    async fn inbox_page(
        &self,
        filter: &InboxFilter,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> Result<Page<StoredConversation>, StoreError> {
        let (index, kind) = (
            match filter.assignee {
                AssigneeFilter::Any => schema::INBOX,
                _ => schema::BY_ASSIGNEE,
            },
            filter.kind.as_str(),
        );
        let status_prefix = format!("{}#", filter.status.as_str());
        let shards = self.inbox_shards.count();
        // Each shard is asked for a whole page (and one more), so that the merge holds
        // `limit` conversations whenever that many remain, however unevenly activity is
        // spread; with one shard (the default) that is the only query.
        let shard_queries = (0..shards).map(|shard| {
            let partition = match &filter.assignee {
                AssigneeFilter::Any => inbox_pk(kind, shard),
                AssigneeFilter::Unassigned => assignee_pk(None, kind, shard),
                AssigneeFilter::Agent(agent) => assignee_pk(Some(agent), kind, shard),
            };
            let mut query = self
                .client
                .query()
                .index_name(index.name)
                .expression_attribute_names("#pk", index.partition_key)
                .expression_attribute_names("#sk", index.sort_key)
                .expression_attribute_values(":pk", s(partition))
                .scan_index_forward(false);
            // After a cursor: the status's range up to the cursor's own key, which is
            // inclusive, so the cursor's conversation is dropped below (and read one more).
            let end = from.map(|c| inbox_sk(filter.status, c.last_activity_at, &c.conversation));
            query = match &end {
                None => query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :status)")
                    .expression_attribute_values(":status", s(&status_prefix))
                    .limit(one_more(limit)),
                Some(end) => query
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :status AND :end")
                    .expression_attribute_values(":status", s(&status_prefix))
                    .expression_attribute_values(":end", s(end))
                    .limit(one_more(limit + 1)),
            };
            async move {
                let page = self
                    .query_page_as::<ConversationItem>(query, None, "Query inbox shard")
                    .await?;
                let more = page.more;
                let items = page
                    .items
                    .into_iter()
                    .map(ConversationItem::into_stored)
                    .filter(|c| match (c, from) {
                        (Ok(c), Some(cursor)) => {
                            c.id != cursor.conversation
                                || c.last_activity_at != cursor.last_activity_at
                        }
                        _ => true,
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, StoreError>((items, more))
            }
        });
        // At most two shard queries in flight: a cold container opens at most two
        // connections, and a page of many shards costs a round trip per two.
        let sources = futures_util::stream::iter(shard_queries)
            .buffered(SHARDS_IN_FLIGHT)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(merge_pages(
            sources,
            |c: &StoredConversation| Reverse((c.last_activity_at, c.id.key())),
            limit,
        ))
    }

    async fn agent_message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> Result<Page<StoredMessage>, StoreError> {
        let (messages, notes) = futures_util::future::join(
            self.message_range(conversation, MESSAGE_PREFIX, window, limit),
            self.message_range(conversation, NOTE_PREFIX, window, limit),
        )
        .await;
        let sources = vec![messages?, notes?];
        let page = if matches!(window, MessageWindow::After(_)) {
            merge_pages(
                sources,
                |m: &StoredMessage| m.id.as_str().to_string(),
                limit,
            )
        } else {
            merge_pages(
                sources,
                |m: &StoredMessage| Reverse(m.id.as_str().to_string()),
                limit,
            )
        };
        Ok(in_time_order(page, window))
    }
}

/// Inbox shard queries a page has in flight at once (and so the connections a cold
/// container opens for it).
const SHARDS_IN_FLIGHT: usize = 2;

impl DynamoStore {
    /// The update that makes `message` (a public reply) the newest activity of `seen`,
    /// on condition that its status is still the one seen and no newer activity is
    /// there. With `behind` (a first try found newer activity: a customer's message
    /// stamped later committed first), the reply is only counted, on condition that newer
    /// activity is still there: it must not make the customer look answered.
    fn reply_touch(
        &self,
        seen: &StoredConversation,
        message: &NewMessage,
        behind: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let id = &seen.id;
        let Condition {
            expression: condition,
            names: condition_names,
            values: mut attribute_values,
        } = same_status(seen.status);
        attribute_values.extend([(":one", n(1)), (":now", n(message.sent_at))]);
        let (update, activity_condition) = if behind {
            (
                "ADD agent_replies :one".to_string(),
                "last_activity_at > :now",
            )
        } else {
            let preview = MessagePreview::of(message);
            let index = IndexKeys::new(id, seen.status, message.sent_at, self.inbox_shards);
            attribute_values.extend([
                (
                    ":owner_activity",
                    s(owner_activity_key(message.sent_at, id)),
                ),
                (":message", s(preview.id.as_str())),
                (":author", s(preview.author.as_str())),
                (":preview", s(preview.text)),
            ]);
            attribute_values.extend(index.values());
            (
                format!(
                    "SET last_activity_at = :now, #status = :seen_status, \
                     gsi1sk = :owner_activity, {}, last_message_id = :message, \
                     last_message_author = :author, last_message_preview = :preview \
                     ADD agent_replies :one",
                    IndexKeys::SET
                ),
                "last_activity_at <= :now",
            )
        };
        let update = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(id), META)))
            .update_expression(update)
            .condition_expression(format!(
                "attribute_exists(pk) AND {condition} AND {activity_condition}"
            ))
            .set_expression_attribute_names(Some(names(&condition_names)))
            .set_expression_attribute_values(Some(values(attribute_values)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The check that a note's conversation exists; a note changes nothing else.
    fn exists_check(&self, id: &ConversationId) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(id), META)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

/// What a failed condition on a conversation means: gone, or changed under the agent.
fn changed_or_gone(old: Option<&HashMap<String, AttributeValue>>) -> StoreError {
    match old {
        Some(_) => StoreError::Changed,
        None => StoreError::NotFound,
    }
}

impl AgentWriter for DynamoStore {
    async fn add_agent_message(
        &self,
        seen: &StoredConversation,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let mut behind = false;
        let cancelled = loop {
            let conversation = if message.internal {
                self.exists_check(&seen.id)?
            } else {
                self.reply_touch(seen, message, behind)?
            };
            let transaction = Transaction::default()
                .with(Part::Conversation, conversation)
                .with(
                    Part::Message,
                    self.put_new(to_item(&MessageItem::new(&seen.id, message))?)?,
                );
            let transaction = match notice_at {
                Some(due_at) if !message.internal => transaction.with(
                    Part::Notice,
                    self.notice_action(Reader::Customer, &seen.id, due_at)?,
                ),
                _ => transaction,
            };
            let transaction = self.claims(transaction, message)?;
            let transaction = self.with_receipt(transaction, receipt)?;
            let cancelled = match self
                .transact("TransactWriteItems agent message", transaction)
                .await
            {
                Ok(()) => return Ok(()),
                Err(cancelled) => cancelled,
            };
            // Only the activity stood in the way: a newer message is there. Once more,
            // behind it (newer activity only grows: once behind, always behind).
            if let Cancelled::Conditions(failed) = &cancelled
                && !behind
                && !message.internal
                && failed.failed(Part::Conversation)
                && as_it_was(failed).is_some_and(|was| {
                    was.status == seen.status && was.last_activity_at > message.sent_at
                })
            {
                behind = true;
                continue;
            }
            break cancelled;
        };
        match cancelled {
            Cancelled::Store(err) => Err(err),
            Cancelled::Conditions(failed) if failed.failed(Part::Receipt) => {
                Err(StoreError::ReceiptExists)
            }
            Cancelled::Conditions(failed) if failed.failed(Part::Conversation) => {
                Err(if message.internal {
                    StoreError::NotFound
                } else {
                    changed_or_gone(failed.old_item(Part::Conversation))
                })
            }
            Cancelled::Conditions(failed) => {
                Err(failed_claim(message, &failed).unwrap_or_else(|| {
                    StoreError::Internal(format!("agent message cancelled: {failed:?}"))
                }))
            }
        }
    }

    async fn set_status(
        &self,
        seen: &StoredConversation,
        status: Status,
        snoozed_until: Option<i64>,
    ) -> Result<(), StoreError> {
        let id = &seen.id;
        let index = IndexKeys::new(id, status, seen.last_activity_at, self.inbox_shards);
        let Condition {
            expression: condition,
            names: mut condition_names,
            values: mut attribute_values,
        } = same_status(seen.status);
        condition_names.push(("#open", "open"));
        attribute_values.extend([
            (":status", s(status.as_str())),
            (":open", AttributeValue::Bool(!status.is_closed())),
            (":seen_activity", n(seen.last_activity_at)),
        ]);
        attribute_values.extend(index.values());
        if let Some(until) = snoozed_until {
            // In the due-work index until it wakes (or is cleared).
            attribute_values.extend([
                (":snooze", n(until)),
                (":due_pk", s(due_pk(due_shard(id)))),
                (":due_sk", s(due_sk(until, id))),
            ]);
        }
        // Any message since the read moves the activity (two may share a millisecond), or,
        // written behind a newer one, the customer's count.
        let newest = match &seen.last_message {
            Some(message) => {
                attribute_values.push((":seen_message", s(message.id.as_str())));
                "last_message_id = :seen_message"
            }
            None => "attribute_not_exists(last_message_id)",
        };
        attribute_values.push((":seen_count", n(seen.reads.customer_messages)));
        let counted = if seen.reads.customer_messages == 0 {
            "(attribute_not_exists(customer_messages) OR customer_messages = :seen_count)"
        } else {
            "customer_messages = :seen_count"
        };
        let set = format!("SET #status = :status, #open = :open, {}", IndexKeys::SET);
        let update = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(id), META)))
            .update_expression(match snoozed_until {
                Some(_) => {
                    format!("{set}, snoozed_until = :snooze, gsi4pk = :due_pk, gsi4sk = :due_sk")
                }
                None => format!("{set} REMOVE snoozed_until, gsi4pk, gsi4sk"),
            })
            .condition_expression(format!(
                "attribute_exists(pk) AND last_activity_at = :seen_activity AND {newest} \
                 AND {counted} AND {condition}"
            ))
            .set_expression_attribute_names(Some(names(&condition_names)))
            .set_expression_attribute_values(Some(values(attribute_values)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match self.send_update(update, "UpdateItem status").await? {
            Written::Done(_) => Ok(()),
            Written::ConditionFailed(old) => Err(changed_or_gone(old.as_ref())),
        }
    }

    async fn assign(
        &self,
        conversation: &ConversationId,
        assignee: Option<&AgentId>,
        assignee_email: Option<&Email>,
    ) -> Result<StoredConversation, StoreError> {
        let mut attribute_values = values(vec![
            (
                ":pk",
                s(IndexKeys::assignee_pk(
                    conversation,
                    assignee,
                    self.inbox_shards,
                )),
            ),
            (":true", AttributeValue::Bool(true)),
        ]);
        // The assignee's address goes with them: set with it, removed otherwise.
        let expression = match (assignee, assignee_email) {
            (Some(agent), Some(email)) => {
                attribute_values.insert(":assignee".into(), s(agent.as_str()));
                attribute_values.insert(":email".into(), s(email.user_id().as_str()));
                "SET assignee = :assignee, assignee_email = :email, gsi3pk = :pk"
            }
            (Some(agent), None) => {
                attribute_values.insert(":assignee".into(), s(agent.as_str()));
                "SET assignee = :assignee, gsi3pk = :pk REMOVE assignee_email"
            }
            (None, _) => "SET gsi3pk = :pk REMOVE assignee, assignee_email",
        };
        let update = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(conversation), META)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk) AND #open = :true")
            .expression_attribute_names("#open", "open")
            .set_expression_attribute_values(Some(attribute_values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match self.send_update(update, "UpdateItem assign").await? {
            Written::Done(new) => ConversationItem::decode(new.unwrap_or_default()),
            Written::ConditionFailed(Some(_)) => Err(StoreError::Closed),
            Written::ConditionFailed(None) => Err(StoreError::NotFound),
        }
    }
}

impl AgentReceipts for DynamoStore {
    /// One strongly consistent `GetItem`: a retry right after its first attempt sees it.
    async fn find_receipt(&self, key: &ReceiptKey) -> Result<Option<Receipt>, StoreError> {
        self.get(
            super::items::key(receipt_pk(key), key.key.as_str()),
            None,
            "GetItem agent receipt",
        )
        .await?
        .map(ReceiptItem::decode)
        .transpose()
    }
}
