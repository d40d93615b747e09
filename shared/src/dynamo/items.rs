//! The single table's layout: every item's keys, and the encoding of items. Each item's
//! attributes and its conversion to and from the domain live with its aggregate
//! (`users.rs`, `conversations.rs`, `receipts.rs`; the ticket counter in
//! `ticket_numbers.rs`; connect tickets and WebSocket connections in `connections.rs`,
//! webhook endpoints in `webhooks.rs`). A conversation's inbox and assignee index keys
//! are built in one place, [`IndexKeys`].
//!
//! | item | pk | sk | by-owner (gsi1) | open-by-activity (gsi2) | by-assignee (gsi3) |
//! |---|---|---|---|---|---|
//! | user | `USER#<email>` | `PROFILE` | | | |
//! | conversation | `CONV#<id>` | `META` | `USER#<owner>` / `<kind>#<last activity ms>#<id>` | `INBOX#<kind>#<shard>` / `<status>#<last activity ms>#<id>` | `AGENT#<agent>#<kind>#<shard>` or `UNASSIGNED#<kind>#<shard>` / as gsi2 |
//! | message | `CONV#<id>` | `MSG#<message id>` | | | |
//! | agents' note | `CONV#<id>` | `NOTE#<message id>` | | | |
//! | ticket counter | `COUNTER#ticket` | `COUNTER` | | | |
//! | idempotency receipt | `IDEMPOTENCY#<endpoint>#<email>` | `<key>` | | | |
//! | connect ticket | `TICKET#<sha256 of the ticket>` | `TICKET` | | | |
//! | webhook endpoint | `WEBHOOKS` | `WH#<id>` | | | |
//! | WebSocket connection | `WATCH#CUSTOMER#<email>` or `WATCH#AGENTS` | `CONN#<connection id>` | | | |
//! | typing throttle | `TYPING#<conversation id>` | `customer#<email>` or `agent#<id>` | | | |
//!
//! Times are milliseconds since the epoch, zero-padded to 13 digits in sort keys so
//! that string order is time order.
//!
//! The agents' inbox is one partition per kind, or [`InboxShards`] partitions per kind for
//! a desk whose messages would pass a partition's 1,000 writes a second (every message
//! rewrites its conversation's index entry; a conversation's shard is fixed by its id).
//! With more than one, a page queries every shard and merges them (`store::merge_pages`). Notes sort apart from messages, so a
//! customer's page is one query over `MSG#` that never meets a note.

use crate::domain::{AgentId, ConversationId, MessageId, Status, UserId};
use crate::idempotency::ReceiptKey;
use crate::store::{Audience, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub const PROFILE: &str = "PROFILE";
pub const META: &str = "META";
pub const MESSAGE_PREFIX: &str = "MSG#";
pub const NOTE_PREFIX: &str = "NOTE#";
/// A conversation's unread-replies notice: an item of its own in the conversation's
/// partition, in the due-work index while pending.
pub const NOTICE_SK: &str = "NOTICE#REPLIES";
/// A conversation's agents' notice (customer messages no agent has read), the same way.
pub const AGENTS_NOTICE_SK: &str = "NOTICE#MESSAGES";

/// The sort key of the notice for `reader`: the customer's (unread replies) or the
/// agents' (unread customer messages).
pub fn notice_sk(reader: crate::domain::Reader) -> &'static str {
    match reader {
        crate::domain::Reader::Customer => NOTICE_SK,
        crate::domain::Reader::Agents => AGENTS_NOTICE_SK,
    }
}

/// Partitions per kind of the agents' inbox (and of each agent's assigned conversations):
/// a deployment's choice, the stack's `InboxShards` (`INBOX_SHARDS`), sized by the
/// messages a second it must take, 1,000 per shard; docs/data-model.md gives the
/// arithmetic. One (the default) makes an inbox page one query; each shard more adds a
/// query to every page. Changing it moves conversations between partitions: `supportzen
/// ops backfill` with the new count files them again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxShards(u8);

impl InboxShards {
    pub const ONE: InboxShards = InboxShards(1);
    /// More would make every inbox page that many queries, for a desk of more than
    /// 16,000 messages a second.
    pub const MAX: u8 = 16;

    /// A count from configuration: 1 to [`InboxShards::MAX`].
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().parse::<u8>() {
            Ok(count) if (1..=Self::MAX).contains(&count) => Ok(InboxShards(count)),
            _ => Err(format!(
                "INBOX_SHARDS must be a whole number from 1 to {}, not {value:?}",
                Self::MAX
            )),
        }
    }

    /// `INBOX_SHARDS` as `lookup` finds it, one when it is unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        lookup("INBOX_SHARDS").map_or(Ok(Self::ONE), |value| Self::parse(&value))
    }

    pub fn count(self) -> u8 {
        self.0
    }

    /// A conversation's shard: the first byte of its id's SHA-256, modulo the count.
    /// Stable across releases and processes (no `Hash` randomness).
    pub fn of(self, id: &ConversationId) -> u8 {
        id_byte(id) % self.0
    }
}

impl Default for InboxShards {
    fn default() -> Self {
        Self::ONE
    }
}

/// Partitions of the due-work index. Each index partition takes 1,000 writes a second;
/// an item enters the index once and leaves it once per due time (a snooze set, then
/// woken or cleared), so four shards hold about 2,000 due times set a second, far
/// beyond a support desk's snoozes. A sweep queries every shard (four queries a minute).
pub const DUE_SHARDS: u8 = 4;

/// A conversation's due-work shard: from the first byte of its id's SHA-256, as the
/// inbox's (stable, evenly spread), and independent of the inbox's count.
pub fn due_shard(id: &ConversationId) -> u8 {
    id_byte(id) % DUE_SHARDS
}

/// A shard of the due-work index.
pub fn due_pk(shard: u8) -> String {
    format!("DUE#{shard}")
}

/// The due-work sort key: due time, then the conversation, so that "due by now" is the
/// key range below [`due_bound`].
pub fn due_sk(due_at: i64, id: &ConversationId) -> String {
    time_key(due_at, &id.key())
}

/// The first key past everything due at or before `now`.
pub fn due_bound(now: i64) -> String {
    format!("{:013}", now.saturating_add(1))
}

pub fn user_pk(user: &UserId) -> String {
    format!("USER#{}", user.as_str())
}

pub fn conversation_pk(id: &ConversationId) -> String {
    format!("CONV#{}", id.key())
}

/// One partition per endpoint and user, so that each function's IAM policy can let it
/// write its own endpoint's receipts and nothing else (`dynamodb:LeadingKeys`).
pub fn receipt_pk(key: &ReceiptKey) -> String {
    format!(
        "IDEMPOTENCY#{}#{}",
        key.endpoint.name(),
        key.requester.as_str()
    )
}

pub fn counter_pk(name: &str) -> String {
    format!("COUNTER#{name}")
}

/// A connect ticket's partition: the ticket's digest, so the table never holds a ticket.
pub fn ticket_pk(digest: &str) -> String {
    format!("TICKET#{digest}")
}

/// The sort key of a ticket item.
pub const TICKET: &str = "TICKET";

/// The one partition of webhook endpoints: there are few, and every event reads them all
/// in one query.
pub const WEBHOOKS_PK: &str = "WEBHOOKS";
pub const WEBHOOK_PREFIX: &str = "WH#";
/// The attributes of a webhook item that routing events reads (never `url` or
/// `secret`): `WebhookRegistry::subscriptions` projects to these, and template.yaml
/// limits events-stream's `Query` to them (tests/repository/template.rs holds the two together).
pub const SUBSCRIPTION_ATTRIBUTES: [&str; 4] = ["id", "events", "enabled", "created_at_ms"];

/// A webhook endpoint's sort key.
pub fn webhook_sk(id: &str) -> String {
    format!("{WEBHOOK_PREFIX}{id}")
}

/// The partition an audience's WebSocket connections are listed under, so that an
/// event's fan-out is one query of the partition, never a scan.
pub fn watch_pk(audience: &Audience) -> String {
    match audience {
        Audience::Customer(user) => format!("WATCH#CUSTOMER#{}", user.as_str()),
        Audience::Agents => "WATCH#AGENTS".to_string(),
    }
}

pub const CONNECTION_PREFIX: &str = "CONN#";

/// The typing throttle's partition of a conversation (`TypingGate`).
pub fn typing_pk(conversation: &ConversationId) -> String {
    format!("TYPING#{}", conversation.key())
}

/// A sender's item in it: `customer#<email>` or `agent#<id>`.
pub fn typing_sk(from: &crate::events::Subscriber) -> String {
    format!("{}#{}", from.kind(), from.id())
}

/// A connection's sort key: API Gateway's connection id.
pub fn connection_sk(connection_id: &str) -> String {
    format!("{CONNECTION_PREFIX}{connection_id}")
}

/// `(pk, sk)` as an item key.
pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

/// A time-ordered sort key: milliseconds, zero-padded, then the id.
pub fn time_key(millis: i64, id: &str) -> String {
    format!("{millis:013}#{id}")
}

/// The first byte of the SHA-256 of a conversation's id: what its shards are taken from.
fn id_byte(id: &ConversationId) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(id.key().as_bytes())[0]
}

/// A shard of the inbox of one kind: every conversation, by status and activity.
pub fn inbox_pk(kind: &str, shard: u8) -> String {
    format!("INBOX#{kind}#{shard}")
}

/// A shard of one agent's (or nobody's) conversations of one kind.
pub fn assignee_pk(assignee: Option<&AgentId>, kind: &str, shard: u8) -> String {
    match assignee {
        Some(agent) => format!("AGENT#{}#{kind}#{shard}", agent.as_str()),
        None => format!("UNASSIGNED#{kind}#{shard}"),
    }
}

/// A conversation's keys in the inbox (gsi2) and assignee (gsi3) indexes at one status and
/// activity time: what a create writes, and what every write that moves the status or the
/// activity (a customer's message, an agent's reply, a status change) rewrites. An
/// assignment moves only the assignee partition ([`IndexKeys::assignee_pk`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKeys {
    /// gsi2pk: the inbox shard of the conversation's kind.
    pub inbox_pk: String,
    /// gsi2sk and gsi3sk: status, then activity.
    pub sort_key: String,
    /// gsi3pk while nobody is assigned.
    pub unassigned_pk: String,
}

impl IndexKeys {
    /// The update clause that writes the keys from [`IndexKeys::values`]; an assigned
    /// conversation stays in its agent's partition.
    pub const SET: &'static str = "gsi2pk = :inbox, gsi2sk = :inbox_sk, \
         gsi3pk = if_not_exists(gsi3pk, :unassigned), gsi3sk = :inbox_sk";

    pub fn new(
        id: &ConversationId,
        status: Status,
        last_activity_at: i64,
        shards: InboxShards,
    ) -> Self {
        let shard = shards.of(id);
        IndexKeys {
            inbox_pk: inbox_pk(id.kind(), shard),
            sort_key: inbox_sk(status, last_activity_at, id),
            unassigned_pk: assignee_pk(None, id.kind(), shard),
        }
    }

    /// The gsi3 partition of `id` assigned to `assignee`, or to nobody.
    pub fn assignee_pk(
        id: &ConversationId,
        assignee: Option<&AgentId>,
        shards: InboxShards,
    ) -> String {
        assignee_pk(assignee, id.kind(), shards.of(id))
    }

    /// The expression values [`IndexKeys::SET`] names.
    pub fn values(self) -> [(&'static str, AttributeValue); 3] {
        [
            (":inbox", s(self.inbox_pk)),
            (":inbox_sk", s(self.sort_key)),
            (":unassigned", s(self.unassigned_pk)),
        ]
    }
}

/// The inbox sort key: status, then activity, so that one status is one key range.
pub fn inbox_sk(status: Status, millis: i64, id: &ConversationId) -> String {
    format!("{}#{}", status.as_str(), activity_key(millis, id))
}

/// The open-by-activity sort key.
pub fn activity_key(millis: i64, id: &ConversationId) -> String {
    time_key(millis, &id.key())
}

/// The by-owner sort key: a customer's conversations of one kind, by last activity.
/// (Conversations written before the read routes have `<created ms>#<id>` here until
/// their next message; docs/data-model.md.)
pub fn owner_activity_key(millis: i64, id: &ConversationId) -> String {
    format!("{}#{}", id.kind(), activity_key(millis, id))
}

/// A message's sort key.
pub fn message_sk(id: &MessageId) -> String {
    format!("{MESSAGE_PREFIX}{}", id.as_str())
}

/// An agents' note's sort key.
pub fn note_sk(id: &MessageId) -> String {
    format!("{NOTE_PREFIX}{}", id.as_str())
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(value)
        .map_err(|e| StoreError::Internal(format!("encoding item: {e}")))
}

pub fn from_item<'a, T: Deserialize<'a>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|e| StoreError::Internal(format!("decoding item: {e}")))
}

/// A string attribute of an item, if it has one (`None` for an absent or other-typed one).
pub fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_shard_count_is_one_to_sixteen_and_one_when_unset() {
        assert_eq!(InboxShards::from_env(|_| None), Ok(InboxShards::ONE));
        let four = InboxShards::from_env(|name| (name == "INBOX_SHARDS").then(|| "4".into()));
        assert_eq!(four.map(InboxShards::count), Ok(4));
        for bad in ["0", "17", "-1", "two", ""] {
            let err = InboxShards::parse(bad).unwrap_err();
            assert!(err.starts_with("INBOX_SHARDS must be"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_conversation_keeps_its_due_shard_whatever_the_inbox_count() {
        let id = ConversationId::Chat(crate::domain::ChatId::generate());
        let one = IndexKeys::new(&id, Status::Open, 1, InboxShards::ONE);
        assert_eq!(one.inbox_pk, "INBOX#chat#0");
        let four = InboxShards::parse("4").unwrap();
        assert_eq!(
            IndexKeys::new(&id, Status::Open, 1, four).inbox_pk,
            format!("INBOX#chat#{}", four.of(&id))
        );
        // The due-work index's partitions did not move when the inbox's count became a
        // setting: the shard four inbox partitions gave, modulo DUE_SHARDS.
        assert_eq!(due_shard(&id), four.of(&id) % DUE_SHARDS);
    }
}
