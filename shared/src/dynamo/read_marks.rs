//! Read marks on the conversation's `META` item. A mark counts the other side's messages
//! stored after `up_to` (one query over the conversation's `MSG#` items from `up_to` on,
//! projected to their keys and authors) and writes `counter - count` on condition that
//! the counter is still the one it read and the mark is behind `up_to`: a message stored
//! in between fails the condition, and the mark counts again (docs/data-model.md).

use super::DynamoStore;
use super::conversations::ConversationItem;
use super::errors::unavailable;
use super::items::{MESSAGE_PREFIX, META, conversation_pk, key, message_sk, n, note_sk, s};
use super::table::{backoff, names, values};
use super::wire::Written;
use crate::domain::{Agent, Author, ConversationId, MessageId};
use crate::store::{MARK_ATTEMPTS, MarkedRead, ReadMarker, Reader, StoreError, StoredConversation};
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

/// The attributes of one side's mark and of the counter it is of.
struct SideAttributes {
    up_to: &'static str,
    read: &'static str,
    counter: &'static str,
}

fn side(reader: Reader) -> SideAttributes {
    match reader {
        Reader::Customer => SideAttributes {
            up_to: "customer_read_up_to",
            read: "customer_read",
            counter: "agent_replies",
        },
        Reader::Agents => SideAttributes {
            up_to: "agents_read_up_to",
            read: "agents_read",
            counter: "customer_messages",
        },
    }
}

/// What one conditional write of a mark did.
enum Attempt {
    Written(StoredConversation),
    /// The condition failed: the conversation as it is now.
    Refused(StoredConversation),
}

impl DynamoStore {
    /// Whether `up_to` is one of the conversation's messages (`MSG#`), and how many
    /// messages by `author` are stored after it: one query, every page.
    async fn count_after(
        &self,
        conversation: &ConversationId,
        author: Author,
        up_to: &MessageId,
    ) -> Result<(bool, i64), StoreError> {
        let from = message_sk(up_to);
        // "$" sorts right after "#": the end of the MSG# range.
        let to = format!("{}$", MESSAGE_PREFIX.trim_end_matches('#'));
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(conversation_pk(conversation)))
            .expression_attribute_values(":from", s(&from))
            .expression_attribute_values(":to", s(to))
            .projection_expression("sk, #author")
            .expression_attribute_names("#author", "author")
            .consistent_read(true);
        let items = self
            .query_all(query, "Query messages after a read mark")
            .await?;
        let mut found = false;
        let mut after = 0;
        for item in items {
            let sk = item.get("sk").and_then(|v| v.as_s().ok());
            if sk == Some(&from) {
                found = true;
                continue;
            }
            let stored = item.get("author").and_then(|v| v.as_s().ok());
            if Author::from_stored(stored.map(String::as_str)).map_err(StoreError::Internal)?
                == author
            {
                after += 1;
            }
        }
        Ok((found, after))
    }

    /// Writes `reader`'s mark at `up_to` with `after` of the side's messages after it, on
    /// condition that the counter is still `seen`'s and the mark is behind `up_to`.
    async fn write_mark(
        &self,
        seen: &StoredConversation,
        reader: Reader,
        up_to: &MessageId,
        by: Option<&Agent>,
        after: i64,
    ) -> Result<Attempt, StoreError> {
        let attributes = side(reader);
        let counter = seen.reads.written_for(reader);
        let mut attribute_values = vec![
            (":up_to", s(up_to.as_str())),
            (":read", n(counter - after)),
            (":counter", n(counter)),
        ];
        let mut set = "SET #up_to = :up_to, #read = :read".to_string();
        let mut remove = "";
        if reader == Reader::Agents {
            match by {
                Some(agent) => {
                    set.push_str(", agents_read_by_id = :by_id, agents_read_by_name = :by_name");
                    attribute_values.push((":by_id", s(agent.id.as_str())));
                    attribute_values.push((":by_name", s(agent.name.as_str())));
                }
                None => remove = " REMOVE agents_read_by_id, agents_read_by_name",
            }
        }
        // A conversation stored before the counters has none: zero.
        let same_counter = if counter == 0 {
            "(attribute_not_exists(#counter) OR #counter = :counter)"
        } else {
            "#counter = :counter"
        };
        let mark = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(&seen.id), META)))
            .update_expression(format!("{set}{remove}"))
            .condition_expression(format!(
                "attribute_exists(pk) AND (attribute_not_exists(#up_to) OR #up_to < :up_to) \
                 AND {same_counter}"
            ))
            .set_expression_attribute_names(Some(names(&[
                ("#up_to", attributes.up_to),
                ("#read", attributes.read),
                ("#counter", attributes.counter),
            ])))
            .set_expression_attribute_values(Some(values(attribute_values)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match self.send_update(mark, "UpdateItem read mark").await? {
            Written::Done(new) => Ok(Attempt::Written(ConversationItem::decode(
                new.unwrap_or_default(),
            )?)),
            Written::ConditionFailed(Some(old)) => {
                Ok(Attempt::Refused(ConversationItem::decode(old)?))
            }
            Written::ConditionFailed(None) => Err(StoreError::NotFound),
        }
    }
}

impl ReadMarker for DynamoStore {
    async fn mark_read(
        &self,
        seen: &StoredConversation,
        reader: Reader,
        up_to: &MessageId,
        by: Option<&Agent>,
    ) -> Result<MarkedRead, StoreError> {
        let (found, mut after) = self.count_after(&seen.id, reader.reads(), up_to).await?;
        // The agents may mark up to one of their notes.
        let found = found
            || (reader == Reader::Agents
                && self
                    .get(
                        key(conversation_pk(&seen.id), &note_sk(up_to)),
                        Some("pk"),
                        "GetItem note",
                    )
                    .await?
                    .is_some());
        if !found {
            return Err(StoreError::UnknownMessage);
        }
        let mut seen = seen.clone();
        for attempt in 1..=MARK_ATTEMPTS as u32 {
            if !seen.reads.moves_forward(reader, up_to) {
                return Ok(MarkedRead {
                    conversation: seen,
                    moved: false,
                });
            }
            match self.write_mark(&seen, reader, up_to, by, after).await? {
                Attempt::Written(conversation) => {
                    return Ok(MarkedRead {
                        conversation,
                        moved: true,
                    });
                }
                Attempt::Refused(now) => {
                    // A message came in, or another mark: count again against it.
                    seen = now;
                    if seen.reads.moves_forward(reader, up_to) {
                        tokio::time::sleep(backoff(attempt)).await;
                        after = self.count_after(&seen.id, reader.reads(), up_to).await?.1;
                    }
                }
            }
        }
        Err(unavailable(format!(
            "read mark: the conversation kept changing for {MARK_ATTEMPTS} attempts"
        )))
    }
}
