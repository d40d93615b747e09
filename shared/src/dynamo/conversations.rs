//! Conversations (chats and tickets) and their messages: one partition per conversation,
//! a `META` item and one item per message, written together in transactions.

use super::DynamoStore;
use super::errors::classify;
use super::items::{
    Item, MESSAGE_PREFIX, META, activity_key, conversation_pk, from_item, key, n, open_pk, s,
    time_key, to_item, user_pk,
};
use super::schema;
use super::table::{Cancelled, Part, Transaction, names, values};
use crate::auth::Caller;
use crate::domain::{Author, ConversationId, MessageId, NewMessage, UserId};
use crate::idempotency::NewReceipt;
use crate::store::{
    ConversationAdmin, ConversationCreator, MessageAppender, NewConversation, StoreError,
    StoredConversation, StoredMessage, StoredProfile,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

/// A conversation's `META` item. It is in the by-owner index always, and in the
/// open-by-activity index while open.
#[derive(Serialize, Deserialize, Debug)]
struct ConversationItem {
    pk: String,
    sk: String,
    id: String,
    kind: String,
    owner: String,
    open: bool,
    created_at: i64,
    last_activity_at: i64,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
}

impl ConversationItem {
    /// A new, open conversation.
    fn new(id: &ConversationId, owner: &UserId, now: i64) -> Self {
        ConversationItem {
            pk: conversation_pk(id),
            sk: META.to_string(),
            id: id.key(),
            kind: id.kind().to_string(),
            owner: owner.as_str().to_string(),
            open: true,
            created_at: now,
            last_activity_at: now,
            gsi1pk: user_pk(owner),
            gsi1sk: time_key(now, &id.key()),
            gsi2pk: Some(open_pk(id.kind())),
            gsi2sk: Some(activity_key(now, id)),
        }
    }

    fn decode(item: Item) -> Result<StoredConversation, StoreError> {
        let stored: ConversationItem = from_item(item)?;
        Ok(StoredConversation {
            id: ConversationId::from_stored(&stored.kind, &stored.id)
                .map_err(StoreError::Internal)?,
            owner: UserId::from_stored(stored.owner),
            open: stored.open,
            created_at: stored.created_at,
            last_activity_at: stored.last_activity_at,
        })
    }
}

/// A message, sorted within its conversation by its time-ordered id.
#[derive(Serialize, Deserialize, Debug)]
struct MessageItem {
    pk: String,
    sk: String,
    id: String,
    /// `customer`, `agent` or `system`; absent on messages stored before authors existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    sent_at: i64,
}

impl MessageItem {
    fn new(conversation: &ConversationId, message: &NewMessage) -> Self {
        MessageItem {
            pk: conversation_pk(conversation),
            sk: format!("{MESSAGE_PREFIX}{}", message.id.as_str()),
            id: message.id.as_str().to_string(),
            author: Some(message.author.as_str().to_string()),
            body: message.text.as_str().to_string(),
            image_url: message.image_url.as_ref().map(|u| u.as_str().to_string()),
            sent_at: message.sent_at,
        }
    }

    fn decode(item: Item) -> Result<StoredMessage, StoreError> {
        let stored: MessageItem = from_item(item)?;
        Ok(StoredMessage {
            id: MessageId::parse(&stored.id).map_err(StoreError::Internal)?,
            author: Author::from_stored(stored.author.as_deref()).map_err(StoreError::Internal)?,
            text: stored.body,
            image_url: stored.image_url,
            sent_at: stored.sent_at,
        })
    }
}

impl DynamoStore {
    /// The transaction a create sends: the owner (put if new, profile update if known),
    /// the conversation and its first message, each conditional, and the receipt. Built
    /// without I/O.
    pub fn create_actions(&self, new: &NewConversation) -> Result<Transaction, StoreError> {
        let now = new.first_message.sent_at;
        let conversation = ConversationItem::new(&new.id, new.owner.user(), now);
        let transaction = Transaction::default()
            .with(Part::Owner, self.owner_action(new, now)?)
            .with(Part::Conversation, self.put_new(to_item(&conversation)?)?)
            .with(
                Part::Message,
                self.put_new(to_item(&MessageItem::new(&new.id, &new.first_message))?)?,
            );
        self.with_receipt(transaction, new.receipt.as_ref())
    }

    /// The transaction an append sends: touch the conversation on condition that it is
    /// the owner's, of the right kind and open; put the message (and the receipt). Built
    /// without I/O.
    pub fn append_actions(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        receipt: Option<&NewReceipt>,
    ) -> Result<Transaction, StoreError> {
        let touch = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(conversation), META)))
            .update_expression("SET last_activity_at = :now, gsi2sk = :activity")
            .condition_expression(
                "attribute_exists(pk) AND #owner = :owner AND #kind = :kind AND #open = :open",
            )
            .set_expression_attribute_names(Some(names(&[
                ("#owner", "owner"),
                ("#kind", "kind"),
                ("#open", "open"),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":now", n(message.sent_at)),
                (":activity", s(activity_key(message.sent_at, conversation))),
                (":owner", s(owner.as_str())),
                (":kind", s(conversation.kind())),
                (":open", AttributeValue::Bool(true)),
            ])))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let transaction = Transaction::default()
            .with(
                Part::Conversation,
                TransactWriteItem::builder().update(touch).build(),
            )
            .with(
                Part::Message,
                self.put_new(to_item(&MessageItem::new(conversation, message))?)?,
            );
        self.with_receipt(transaction, receipt)
    }

    fn with_receipt(
        &self,
        transaction: Transaction,
        receipt: Option<&NewReceipt>,
    ) -> Result<Transaction, StoreError> {
        Ok(match receipt {
            Some(receipt) => transaction.with(Part::Receipt, self.put_receipt(receipt)?),
            None => transaction,
        })
    }
}

impl ConversationCreator for DynamoStore {
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        let transaction = self.create_actions(new)?;
        let failed = match self
            .transact("TransactWriteItems create", transaction)
            .await
        {
            Ok(()) => return Ok(()),
            Err(Cancelled::Store(err)) => return Err(err),
            Err(Cancelled::Conditions(failed)) => failed,
        };
        // The receipt first: a retry that lost the race is answered from the winner's
        // receipt whatever else changed.
        Err(match &new.owner {
            _ if failed.failed(Part::Receipt) => StoreError::ReceiptExists,
            Caller::New { .. } if failed.failed(Part::Owner) => StoreError::UserExists,
            Caller::Known(_) if failed.failed(Part::Owner) => {
                StoreError::Internal("authenticated user vanished".into())
            }
            _ if failed.failed(Part::Conversation) => {
                StoreError::Internal(format!("conversation {} already exists", new.id.key()))
            }
            _ => StoreError::Internal(format!("create cancelled: {failed:?}")),
        })
    }
}

impl MessageAppender for DynamoStore {
    async fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let transaction = self.append_actions(conversation, owner, message, receipt)?;
        let failed = match self
            .transact("TransactWriteItems append", transaction)
            .await
        {
            Ok(()) => return Ok(()),
            Err(Cancelled::Store(err)) => return Err(err),
            Err(Cancelled::Conditions(failed)) => failed,
        };
        if failed.failed(Part::Receipt) {
            return Err(StoreError::ReceiptExists);
        }
        if !failed.failed(Part::Conversation) {
            return Err(StoreError::Internal(format!(
                "append cancelled: {failed:?}"
            )));
        }
        // Tell "closed" apart from "missing or not yours" with the item as it was; only
        // its owner learns that it is closed.
        let old = failed.old_item(Part::Conversation);
        let is =
            |name: &str, value: &AttributeValue| old.and_then(|item| item.get(name)) == Some(value);
        let theirs = is("owner", &s(owner.as_str())) && is("kind", &s(conversation.kind()));
        Err(if theirs && is("open", &AttributeValue::Bool(false)) {
            StoreError::Closed
        } else {
            StoreError::NotFound
        })
    }
}

impl ConversationAdmin for DynamoStore {
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        self.get(key(conversation_pk(id), META), None, "GetItem conversation")
            .await?
            .map(ConversationItem::decode)
            .transpose()
    }

    async fn messages(&self, id: &ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(conversation_pk(id)))
            .expression_attribute_values(":prefix", s(MESSAGE_PREFIX))
            .consistent_read(true);
        self.query_all(query, "Query messages")
            .await?
            .into_iter()
            .map(MessageItem::decode)
            .collect()
    }

    async fn conversations_of(&self, user: &UserId) -> Result<Vec<StoredConversation>, StoreError> {
        let index = schema::BY_OWNER;
        let query = self
            .client
            .query()
            .index_name(index.name)
            .key_condition_expression("#pk = :owner")
            .expression_attribute_names("#pk", index.partition_key)
            .expression_attribute_values(":owner", s(user_pk(user)))
            .scan_index_forward(false);
        self.query_all(query, "Query by-owner")
            .await?
            .into_iter()
            .map(ConversationItem::decode)
            .collect()
    }

    async fn close(&self, id: &ConversationId) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(id), META)))
            .update_expression("SET #open = :closed REMOVE gsi2pk, gsi2sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#open", "open")
            .expression_attribute_values(":closed", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(classify("UpdateItem close", err)),
        }
    }

    async fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>, StoreError> {
        self.stored_profile(user).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stored_without_an_author_are_the_customers() {
        let id = MessageId::generate();
        let legacy: Item = [
            ("pk", s("CONV#TKT-001")),
            ("sk", s(format!("{MESSAGE_PREFIX}{}", id.as_str()))),
            ("id", s(id.as_str())),
            ("body", s("hello")),
            ("sent_at", n(1)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let stored = MessageItem::decode(legacy).unwrap();
        assert_eq!((stored.id, stored.author), (id, Author::Customer));
    }
}
