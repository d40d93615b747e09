//! Conversations (chats and tickets) and their messages: one partition per conversation,
//! a `META` item and one item per message, written together in transactions. Reading
//! them is `conversation_reads.rs`.

use super::DynamoStore;
use super::backfill::{ReadValues, Rewrite};
use super::items::{
    InboxShards, IndexKeys, Item, META, conversation_pk, from_item, key, message_sk, n, note_sk,
    owner_activity_key, s, to_item, user_pk,
};
use super::table::{Cancelled, FailedConditions, Part, Transaction, names, values};
use super::uploads::failed_claim;
use crate::auth::Caller;
use crate::domain::{
    Agent, AgentId, Attachment, AttachmentId, Author, ContentType, ConversationId, ConversationKey,
    DisplayName, FileName, MessageId, NewMessage, Rating, Reader, Status, UserId,
};
use crate::idempotency::NewReceipt;
use crate::store::{
    ConversationCreator, MessageAppender, MessagePreview, NewConversation, ReadMark, ReadState,
    StoreError, StoredConversation, StoredMessage,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

/// A conversation's `META` item, in all three indexes: its owner's list, the inbox, and
/// its assignee's (or the unassigned) inbox.
#[derive(Serialize, Deserialize, Debug)]
pub(super) struct ConversationItem {
    pk: String,
    sk: String,
    id: String,
    kind: String,
    owner: String,
    /// False once closed. Kept beside `status`: items written before statuses have only
    /// this, and a customer's write checks it, whatever the item's age.
    open: bool,
    /// Absent on items written before statuses: they are open or closed by `open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snoozed_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    follow_up_of: Option<String>,
    created_at: i64,
    last_activity_at: i64,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    /// The due-work index's keys, while snoozed (`items::due_pk`, `items::due_sk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4sk: Option<String>,
    /// The newest message's id, author and first characters, for lists. Absent on
    /// conversations stored before previews, until their next message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_message_author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_message_preview: Option<String>,
    /// The customer's public messages and the agents' replies, each `ADD`ed by the write
    /// that stores one; absent (zero) on conversations stored before read marks.
    #[serde(default)]
    customer_messages: i64,
    #[serde(default)]
    agent_replies: i64,
    /// The customer's read mark: the message it is up to, and the count of agent replies
    /// at or before it when it was written (`read_marks.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_read_up_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_read: Option<i64>,
    /// The agents' read mark, with the count of customer messages, and who moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agents_read_up_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agents_read: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agents_read_by_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agents_read_by_name: Option<String>,
    /// The customer's rating (1 to 5), its comment, when it was given or last changed,
    /// and when it was first given; absent until rated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rating_score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rating_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rating_first_at: Option<i64>,
}

/// A stored read mark, or none when its message id is absent.
fn decode_mark(
    up_to: Option<&str>,
    read: Option<i64>,
    by: Option<(&str, Option<&str>)>,
) -> Result<Option<ReadMark>, StoreError> {
    let Some(up_to) = up_to else {
        return Ok(None);
    };
    let by = match by {
        Some((id, name)) => Some(Agent {
            id: AgentId::parse(id).map_err(StoreError::Internal)?,
            name: DisplayName::parse(name.unwrap_or(id)).map_err(StoreError::Internal)?,
        }),
        None => None,
    };
    Ok(Some(ReadMark {
        up_to: MessageId::parse(up_to).map_err(StoreError::Internal)?,
        read: read.unwrap_or(0),
        by,
    }))
}

impl ConversationItem {
    /// A new, open, unassigned conversation whose only message is `first`.
    pub(super) fn new(new: &NewConversation, shards: InboxShards) -> Self {
        let (id, owner, first) = (&new.id, new.owner.user(), &new.first_message);
        let now = first.sent_at;
        let preview = MessagePreview::of(first);
        let index = IndexKeys::new(id, Status::Open, now, shards);
        ConversationItem {
            pk: conversation_pk(id),
            sk: META.to_string(),
            id: id.key(),
            kind: id.kind().to_string(),
            owner: owner.as_str().to_string(),
            open: true,
            status: Some(Status::Open.as_str().to_string()),
            assignee: None,
            snoozed_until: None,
            follow_up_of: new.follow_up_of.as_ref().map(ConversationId::key),
            created_at: now,
            last_activity_at: now,
            gsi1pk: user_pk(owner),
            gsi1sk: owner_activity_key(now, id),
            gsi2pk: Some(index.inbox_pk),
            gsi2sk: Some(index.sort_key.clone()),
            gsi3pk: Some(index.unassigned_pk),
            gsi3sk: Some(index.sort_key),
            gsi4pk: None,
            gsi4sk: None,
            last_message_id: Some(preview.id.as_str().to_string()),
            last_message_author: Some(preview.author.as_str().to_string()),
            last_message_preview: Some(preview.text),
            customer_messages: i64::from(first.author == Author::Customer && !first.internal),
            agent_replies: i64::from(first.author == Author::Agent && !first.internal),
            customer_read_up_to: None,
            customer_read: None,
            agents_read_up_to: None,
            agents_read: None,
            agents_read_by_id: None,
            agents_read_by_name: None,
            rating_score: None,
            rating_comment: None,
            rated_at: None,
            rating_first_at: None,
        }
    }

    pub(super) fn decode(item: Item) -> Result<StoredConversation, StoreError> {
        from_item::<ConversationItem>(item)?.into_stored()
    }

    /// The conversation this item holds.
    pub(super) fn into_stored(self) -> Result<StoredConversation, StoreError> {
        let last_message = match (&self.last_message_id, self.last_message_preview) {
            (Some(id), Some(text)) => Some(MessagePreview {
                id: MessageId::parse(id).map_err(StoreError::Internal)?,
                author: Author::from_stored(self.last_message_author.as_deref())
                    .map_err(StoreError::Internal)?,
                text,
                sent_at: self.last_activity_at,
            }),
            _ => None,
        };
        let follow_up_of = match &self.follow_up_of {
            Some(key) => Some(
                ConversationKey::parse(key)
                    .ok()
                    .and_then(|key| key.resolve_any())
                    .ok_or_else(|| StoreError::Internal(format!("self follow_up_of {key:?}")))?,
            ),
            None => None,
        };
        let reads = ReadState {
            customer_messages: self.customer_messages,
            agent_replies: self.agent_replies,
            customer: decode_mark(
                self.customer_read_up_to.as_deref(),
                self.customer_read,
                None,
            )?,
            agents: decode_mark(
                self.agents_read_up_to.as_deref(),
                self.agents_read,
                self.agents_read_by_id
                    .as_deref()
                    .map(|id| (id, self.agents_read_by_name.as_deref())),
            )?,
        };
        let rating = Rating::from_stored(
            self.rating_score,
            self.rating_comment,
            self.rated_at,
            self.rating_first_at,
        )
        .map_err(StoreError::Internal)?;
        Ok(StoredConversation {
            reads,
            id: ConversationId::from_stored(&self.kind, &self.id).map_err(StoreError::Internal)?,
            owner: UserId::from_stored(self.owner),
            status: Status::from_stored(self.status.as_deref(), self.open)
                .map_err(StoreError::Internal)?,
            assignee: self
                .assignee
                .map(|a| AgentId::parse(&a))
                .transpose()
                .map_err(StoreError::Internal)?,
            snoozed_until: self.snoozed_until,
            follow_up_of,
            created_at: self.created_at,
            last_activity_at: self.last_activity_at,
            last_message,
            rating,
        })
    }
}

/// What `supportzen ops backfill` asks of a stored conversation (`backfill.rs`).
impl ConversationItem {
    pub(super) fn pk(&self) -> &str {
        &self.pk
    }

    /// What an older release left out or got different from what this release writes,
    /// computed from the item's own fields: `None` when it is current. Items that do not
    /// decode are left alone (`None`): the read routes report them.
    pub(super) fn rewrite(&self, shards: InboxShards) -> Option<Rewrite> {
        let id = ConversationId::from_stored(&self.kind, &self.id).ok()?;
        let status = Status::from_stored(self.status.as_deref(), self.open).ok()?;
        let assignee = match &self.assignee {
            Some(agent) => Some(AgentId::parse(agent).ok()?),
            None => None,
        };
        let index = IndexKeys::new(&id, status, self.last_activity_at, shards);
        let wanted = [
            ("status", status.as_str().to_string(), self.status.as_ref()),
            (
                "gsi1sk",
                owner_activity_key(self.last_activity_at, &id),
                Some(&self.gsi1sk),
            ),
            ("gsi2pk", index.inbox_pk, self.gsi2pk.as_ref()),
            ("gsi2sk", index.sort_key.clone(), self.gsi2sk.as_ref()),
            (
                "gsi3pk",
                IndexKeys::assignee_pk(&id, assignee.as_ref(), shards),
                self.gsi3pk.as_ref(),
            ),
            ("gsi3sk", index.sort_key, self.gsi3sk.as_ref()),
        ];
        let set: Vec<(&'static str, String)> = wanted
            .into_iter()
            .filter(|(_, want, have)| *have != Some(want))
            .map(|(name, want, _)| (name, want))
            .collect();
        let needs_preview = self.last_message_id.is_none() || self.last_message_preview.is_none();
        (!set.is_empty() || needs_preview).then_some(Rewrite { set, needs_preview })
    }

    /// The condition that the item still has the activity, status, assignee and newest
    /// message it was read with (names from [`super::backfill::UNCHANGED_NAMES`]), and its values.
    pub(super) fn unchanged_condition(&self) -> (String, ReadValues) {
        let mut condition = vec![
            "#read_activity = :read_activity".to_string(),
            "#read_open = :read_open".to_string(),
        ];
        let mut read: ReadValues = vec![
            (":read_activity", n(self.last_activity_at)),
            (":read_open", AttributeValue::Bool(self.open)),
        ];
        match &self.status {
            Some(status) => {
                condition.push("#read_status = :read_status".into());
                read.push((":read_status", s(status.clone())));
            }
            None => condition.push("attribute_not_exists(#read_status)".into()),
        }
        match &self.assignee {
            Some(agent) => {
                condition.push("#read_assignee = :read_assignee".into());
                read.push((":read_assignee", s(agent.clone())));
            }
            None => condition.push("attribute_not_exists(#read_assignee)".into()),
        }
        // Two messages may share a millisecond: the newest message read must be it still,
        // or a rewrite of the preview could put back an older one.
        match &self.last_message_id {
            Some(newest) => {
                condition.push("#read_newest = :read_newest".into());
                read.push((":read_newest", s(newest.clone())));
            }
            None => condition.push("attribute_not_exists(#read_newest)".into()),
        }
        (condition.join(" AND "), read)
    }
}

/// A message (or an agents' note), sorted within its conversation by its time-ordered id.
#[derive(Serialize, Deserialize, Debug)]
pub(super) struct MessageItem {
    pk: String,
    sk: String,
    id: String,
    /// `customer`, `agent` or `system`; absent on messages stored before authors existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent_name: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    internal: bool,
    body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_message_id: Option<String>,
    sent_at: i64,
    /// The files it carries; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<AttachmentItem>,
}

/// A message's file, as its item keeps it.
#[derive(Serialize, Deserialize, Debug)]
pub(super) struct AttachmentItem {
    id: String,
    name: String,
    content_type: String,
    size: u64,
    key: String,
}

impl AttachmentItem {
    fn new(file: &Attachment) -> Self {
        AttachmentItem {
            id: file.id.to_string(),
            name: file.name.as_str().to_string(),
            content_type: file.content_type.as_str().to_string(),
            size: file.size,
            key: file.key.clone(),
        }
    }

    fn decode(self) -> Result<Attachment, StoreError> {
        let bad = |what: &str, reason: String| {
            StoreError::Internal(format!("stored attachment {}: {what} {reason}", self.id))
        };
        Ok(Attachment {
            id: AttachmentId::parse(&self.id).map_err(|e| bad("id", e))?,
            name: FileName::parse(&self.name).map_err(|e| bad("name", e))?,
            content_type: ContentType::parse(&self.content_type)
                .map_err(|e| bad("content_type", e))?,
            size: self.size,
            key: self.key,
        })
    }
}

impl MessageItem {
    pub(super) fn new(conversation: &ConversationId, message: &NewMessage) -> Self {
        let sk = if message.internal {
            note_sk(&message.id)
        } else {
            message_sk(&message.id)
        };
        MessageItem {
            pk: conversation_pk(conversation),
            sk,
            id: message.id.as_str().to_string(),
            author: Some(message.author.as_str().to_string()),
            agent_id: message.agent.as_ref().map(|a| a.id.as_str().to_string()),
            agent_name: message.agent.as_ref().map(|a| a.name.as_str().to_string()),
            internal: message.internal,
            body: message.text.as_str().to_string(),
            image_url: message.image_url.as_ref().map(|u| u.as_str().to_string()),
            client_message_id: message
                .client_message_id
                .as_ref()
                .map(|c| c.as_str().to_string()),
            sent_at: message.sent_at,
            attachments: message
                .attachments
                .iter()
                .map(AttachmentItem::new)
                .collect(),
        }
    }

    pub(super) fn decode(item: Item) -> Result<StoredMessage, StoreError> {
        from_item::<MessageItem>(item)?.into_stored()
    }

    /// The message this item holds.
    pub(super) fn into_stored(self) -> Result<StoredMessage, StoreError> {
        Ok(StoredMessage {
            id: MessageId::parse(&self.id).map_err(StoreError::Internal)?,
            author: Author::from_stored(self.author.as_deref()).map_err(StoreError::Internal)?,
            text: self.body,
            image_url: self.image_url,
            client_message_id: self.client_message_id,
            sent_at: self.sent_at,
            agent: match (self.agent_id, self.agent_name) {
                (Some(id), name) => Some(Agent {
                    id: AgentId::parse(&id).map_err(StoreError::Internal)?,
                    name: DisplayName::parse(name.as_deref().unwrap_or(&id))
                        .map_err(StoreError::Internal)?,
                }),
                (None, _) => None,
            },
            internal: self.internal,
            attachments: self
                .attachments
                .into_iter()
                .map(AttachmentItem::decode)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl DynamoStore {
    /// The transaction a create sends: the owner (put if new, profile update if known),
    /// the conversation and its first message, each conditional, and the receipt. Built
    /// without I/O.
    pub fn create_actions(&self, new: &NewConversation) -> Result<Transaction, StoreError> {
        let now = new.first_message.sent_at;
        let conversation = ConversationItem::new(new, self.inbox_shards);
        let mut transaction = Transaction::default()
            .with(Part::Owner, self.owner_action(new, now)?)
            .with(Part::Conversation, self.put_new(to_item(&conversation)?)?)
            .with(
                Part::Message,
                self.put_new(to_item(&MessageItem::new(&new.id, &new.first_message))?)?,
            );
        if let Some(earlier) = &new.follow_up_of {
            let check = ConditionCheck::builder()
                .table_name(&*self.table)
                .set_key(Some(key(conversation_pk(earlier), META)))
                .condition_expression("#owner = :owner")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":owner", s(new.owner.user().as_str()))
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            transaction = transaction.with(
                Part::FollowUp,
                TransactWriteItem::builder().condition_check(check).build(),
            );
        }
        if let Some(due_at) = new.notice_at {
            transaction = transaction.with(
                Part::Notice,
                self.notice_action(Reader::Agents, &new.id, due_at)?,
            );
        }
        let transaction = self.claims(transaction, &new.first_message)?;
        let transaction = self.counted(transaction, new.owner.user(), now)?;
        let transaction = self.accounts_counted(transaction, new)?;
        self.with_receipt(transaction, new.receipt.as_ref())
    }

    /// The transaction an append sends: touch the conversation on condition that it is
    /// the owner's, of the right kind and not closed, reopening it (a customer's message
    /// to a pending or solved conversation needs an agent again); put the message (and
    /// the receipt; with `notice_at`, the agents' notice, unless one is pending). Built
    /// without I/O.
    ///
    /// The message becomes the conversation's activity and preview on condition that
    /// none newer is there. With `behind` (a first try found newer activity: a message
    /// stamped later committed first), it is only counted, and reopens the conversation
    /// if need be ([`Behind`]). SQLite keeps the newer the same way (`MAX`).
    pub fn append_actions(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
        behind: Option<Behind>,
    ) -> Result<Transaction, StoreError> {
        let preview = MessagePreview::of(message);
        let activity = match behind {
            Some(Behind::Reopen(newer)) => newer,
            _ => message.sent_at,
        };
        let index = IndexKeys::new(conversation, Status::Open, activity, self.inbox_shards);
        let mut attribute_values = vec![
            (":reopened", s(Status::Open.as_str())),
            (":owner", s(owner.as_str())),
            (":kind", s(conversation.kind())),
            (":open", AttributeValue::Bool(true)),
            (":one", n(1)),
        ];
        let (touch, activity_condition) = match behind {
            None => {
                attribute_values.extend([
                    (":now", n(message.sent_at)),
                    (
                        ":owner_activity",
                        s(owner_activity_key(message.sent_at, conversation)),
                    ),
                    (":message", s(preview.id.as_str())),
                    (":author", s(preview.author.as_str())),
                    (":preview", s(preview.text)),
                ]);
                attribute_values.extend(index.values());
                (
                    format!(
                        "SET last_activity_at = :now, gsi1sk = :owner_activity, \
                         last_message_id = :message, last_message_author = :author, \
                         last_message_preview = :preview, #status = :reopened, {} \
                         REMOVE snoozed_until, gsi4pk, gsi4sk ADD customer_messages :one",
                        IndexKeys::SET
                    ),
                    "last_activity_at <= :now",
                )
            }
            Some(Behind::Open) => {
                attribute_values.push((":now", n(message.sent_at)));
                (
                    "ADD customer_messages :one".to_string(),
                    "last_activity_at > :now AND (#status = :reopened OR attribute_not_exists(#status))",
                )
            }
            Some(Behind::Reopen(newer)) => {
                attribute_values.push((":newer", n(newer)));
                attribute_values.extend(index.values());
                (
                    format!(
                        "SET #status = :reopened, {} \
                         REMOVE snoozed_until, gsi4pk, gsi4sk ADD customer_messages :one",
                        IndexKeys::SET
                    ),
                    "last_activity_at = :newer",
                )
            }
        };
        let touch = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(conversation), META)))
            .update_expression(touch)
            .condition_expression(format!(
                "attribute_exists(pk) AND #owner = :owner AND #kind = :kind AND #open = :open \
                 AND {activity_condition}"
            ))
            .set_expression_attribute_names(Some(names(&[
                ("#owner", "owner"),
                ("#kind", "kind"),
                ("#open", "open"),
                ("#status", "status"),
            ])))
            .set_expression_attribute_values(Some(values(attribute_values)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut transaction = Transaction::default()
            .with(
                Part::Conversation,
                TransactWriteItem::builder().update(touch).build(),
            )
            .with(
                Part::Message,
                self.put_new(to_item(&MessageItem::new(conversation, message))?)?,
            );
        if let Some(due_at) = notice_at {
            transaction = transaction.with(
                Part::Notice,
                self.notice_action(Reader::Agents, conversation, due_at)?,
            );
        }
        let transaction = self.claims(transaction, message)?;
        let transaction = self.counted(transaction, owner, message.sent_at)?;
        self.with_receipt(transaction, receipt)
    }

    pub(super) fn with_receipt(
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
        // receipt whatever else changed. The message limit last: a request that would
        // fail anyway (a follow-up not theirs, a file not theirs) is told so, not to wait.
        Err(match &new.owner {
            _ if failed.failed(Part::Receipt) => StoreError::ReceiptExists,
            _ if failed.failed(Part::FollowUp) => StoreError::NotFound,
            Caller::New { .. } if failed.failed(Part::Owner) => StoreError::UserExists,
            Caller::Known(_) if failed.failed(Part::Owner) => {
                StoreError::Internal("authenticated user vanished".into())
            }
            _ if failed.failed(Part::Conversation) => {
                StoreError::Internal(format!("conversation {} already exists", new.id.key()))
            }
            _ => match failed_claim(&new.first_message, &failed) {
                Some(err) => err,
                None if failed.failed(Part::AddressRate) => {
                    self.accounts_limited(new.first_message.sent_at)
                }
                None if failed.failed(Part::Rate) => self.limited(new.first_message.sent_at),
                None => StoreError::Internal(format!("create cancelled: {failed:?}")),
            },
        })
    }
}

impl MessageAppender for DynamoStore {
    async fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let mut behind = None;
        let mut tries = 0;
        let failed = loop {
            let transaction =
                self.append_actions(conversation, owner, message, notice_at, receipt, behind)?;
            let failed = match self
                .transact("TransactWriteItems append", transaction)
                .await
            {
                Ok(()) => return Ok(()),
                Err(Cancelled::Store(err)) => return Err(err),
                Err(Cancelled::Conditions(failed)) => failed,
            };
            // Only the activity stood in the way: a newer message is there. Again,
            // behind it (up to three times if yet more come meanwhile).
            let next = as_it_was(&failed)
                .filter(|was| {
                    failed.failed(Part::Conversation)
                        && is_theirs(was, conversation, owner)
                        && was.status != Status::Closed
                        && was.last_activity_at > message.sent_at
                })
                .map(|was| match was.status {
                    Status::Open => Behind::Open,
                    _ => Behind::Reopen(was.last_activity_at),
                });
            match next {
                Some(next) if tries < 3 && behind != Some(next) => {
                    tries += 1;
                    behind = Some(next);
                }
                _ => break failed,
            }
        };
        if failed.failed(Part::Receipt) {
            return Err(StoreError::ReceiptExists);
        }
        // The message limit after everything that would fail anyway (closed, not theirs,
        // a file not theirs): only a message that could be stored is told to wait.
        if !failed.failed(Part::Conversation) {
            return Err(match failed_claim(message, &failed) {
                Some(err) => err,
                None if failed.failed(Part::Rate) => self.limited(message.sent_at),
                None => StoreError::Internal(format!("append cancelled: {failed:?}")),
            });
        }
        // Tell "closed" apart from "missing or not yours" with the item as it was; only
        // its owner learns that it is closed.
        Err(match as_it_was(&failed) {
            Some(was) if is_theirs(&was, conversation, owner) => match was.status {
                Status::Closed => StoreError::Closed,
                // Newer activity kept coming: rare enough to ask for a retry.
                _ => StoreError::Unavailable {
                    reason: "the conversation kept changing".into(),
                    retry_after: std::time::Duration::from_secs(1),
                },
            },
            _ => StoreError::NotFound,
        })
    }
}

/// How a message stamped before its conversation's newest activity (a message stamped
/// later committed first) touches the conversation: it is counted, but is neither its
/// activity nor its preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behind {
    /// Open: nothing else changes, on condition that it is still open and newer
    /// activity still there (it only grows, so a burst of messages cannot starve it).
    Open,
    /// Pending or solved: reopened, its inbox keys kept at this activity, on condition
    /// that its activity is still this.
    Reopen(i64),
}

/// The conversation as a failed condition on it returned it (`AllOld`), if it was there.
pub(super) fn as_it_was(failed: &FailedConditions) -> Option<StoredConversation> {
    ConversationItem::decode(failed.old_item(Part::Conversation)?.clone()).ok()
}

/// Whether `was` is `owner`'s and of `conversation`'s kind.
fn is_theirs(was: &StoredConversation, conversation: &ConversationId, owner: &UserId) -> bool {
    was.owner == *owner && was.id.kind() == conversation.kind()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stored_without_an_author_are_the_customers() {
        let id = MessageId::generate();
        let legacy: Item = [
            ("pk", s("CONV#TKT-001")),
            ("sk", s(message_sk(&id))),
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
