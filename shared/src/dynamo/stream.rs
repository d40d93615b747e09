//! The table's change stream (DynamoDB Streams, `NEW_AND_OLD_IMAGES`) read as events:
//! production's source of the events the local server produces at commit
//! (`store::committed`, for `store::Publishing` and the SQLite store's event journal).
//! This decodes each record into the committed change it is (`events::changes::Change`),
//! and the one definition of which change yields which events makes them, as at commit:
//!
//! | record | change |
//! |---|---|
//! | `INSERT` of a `MSG#` or `NOTE#` item | a message or note added |
//! | `MODIFY` of a `META` item | the conversation's state before and after |
//!
//! Anything else (users, tickets, connections, receipts, a new conversation's `META`,
//! removals) is no event.
//!
//! Pure: no I/O. It lives with the store because it reads the store's own item layout.

use super::conversations::{ConversationItem, MessageItem};
use super::items::{Item, MESSAGE_PREFIX, META, NOTE_PREFIX, text};
use crate::domain::{ClientMessageId, ConversationId, ConversationKey, ImageUrl, MessageText};
use crate::domain::{NewMessage, UserId};
use crate::events::changes::{self, Change as Committed, ConversationState};
use crate::events::{Event, EventType};
use crate::store::StoredConversation;
use sha2::{Digest, Sha256};

/// What the stream says happened to an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Modify,
    Remove,
}

impl Operation {
    /// A record's `eventName`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "INSERT" => Ok(Operation::Insert),
            "MODIFY" => Ok(Operation::Modify),
            "REMOVE" => Ok(Operation::Remove),
            other => Err(format!(
                "eventName {other:?} is not INSERT, MODIFY or REMOVE"
            )),
        }
    }
}

/// One stream record, as far as events need it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The record's `eventID`: unique per record, and the same when Lambda hands a
    /// failed batch over again, so the events' ids are too.
    pub event_id: String,
    pub operation: Operation,
    /// When the change was written (`ApproximateCreationDateTime`), in milliseconds.
    pub at: i64,
    /// The item before and after the change (`OldImage`, `NewImage`), where there is one.
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// An event a change makes.
#[derive(Clone, Debug, PartialEq)]
pub enum Pending {
    /// Complete as it is (a conversation's `META` item names its owner).
    Event(Event),
    /// A message or note: complete once its conversation's owner is known.
    Message(AddedMessage),
}

/// A message item just written. Message items do not carry the conversation's owner,
/// whom the event is routed by; the consumer reads it from the conversation's `META`
/// item (one `GetItem` per conversation per batch) rather than every message item
/// carrying a copy of it: the owner never changes, so the read is always right; older
/// message items (and any written by a function version of before the stream) work
/// alike; and the item layout, the replay seeds and the data model stay as they are.
#[derive(Clone, Debug, PartialEq)]
pub struct AddedMessage {
    id: String,
    conversation: ConversationId,
    message: NewMessage,
}

impl AddedMessage {
    /// The conversation whose owner [`AddedMessage::into_event`] needs.
    pub fn conversation(&self) -> &ConversationId {
        &self.conversation
    }

    pub fn into_event(self, owner: &UserId) -> Event {
        // A message yields exactly one event, its own, named after the record.
        changes::message_event(self.id, &self.conversation, owner, &self.message)
    }
}

/// A change that is not what the table's items look like; retrying will not fix it.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("stream record {event_id}: {reason}")]
pub struct Malformed {
    pub event_id: String,
    pub reason: String,
}

/// The events of one change, in the order they happened; none for most changes.
pub fn events(change: &Change) -> Result<Vec<Pending>, Malformed> {
    let malformed = |reason: String| Malformed {
        event_id: change.event_id.clone(),
        reason,
    };
    let image = match (change.operation, &change.old, &change.new) {
        (Operation::Remove, _, _) => return Ok(Vec::new()),
        (_, _, Some(new)) => new,
        (_, _, None) => {
            return Err(malformed(
                "no NewImage (is the stream NEW_AND_OLD_IMAGES?)".into(),
            ));
        }
    };
    let (Some(pk), Some(sk)) = (text(image, "pk"), text(image, "sk")) else {
        return Err(malformed("an item without pk and sk".into()));
    };
    let Some(conversation) = pk.strip_prefix("CONV#") else {
        return Ok(Vec::new());
    };
    let is_message = sk.starts_with(MESSAGE_PREFIX) || sk.starts_with(NOTE_PREFIX);
    match change.operation {
        Operation::Insert if is_message => {
            let conversation = ConversationKey::parse(conversation)
                .ok()
                .and_then(|key| key.resolve_any())
                .ok_or_else(|| malformed(format!("pk {pk:?} names no conversation")))?;
            let message = message(image.clone()).map_err(malformed)?;
            Ok(vec![Pending::Message(AddedMessage {
                id: event_id(&change.event_id, EventType::MessageCreated),
                conversation,
                message,
            })])
        }
        Operation::Modify if sk == META => {
            let old = change
                .old
                .clone()
                .ok_or_else(|| malformed("a MODIFY without OldImage".into()))?;
            let decode =
                |item: Item| ConversationItem::decode(item).map_err(|e| malformed(e.to_string()));
            Ok(conversation_events(
                change,
                &decode(old)?,
                &decode(image.clone())?,
            ))
        }
        _ => Ok(Vec::new()),
    }
}

/// What an agent's write to a conversation's `META` item announces.
fn conversation_events(
    change: &Change,
    old: &StoredConversation,
    new: &StoredConversation,
) -> Vec<Pending> {
    let committed = Committed::ConversationChanged {
        before: &ConversationState::from(old),
        after: &ConversationState::from(new),
        at: change.at,
    };
    changes::events(committed, |kind| event_id(&change.event_id, kind))
        .into_iter()
        .map(Pending::Event)
        .collect()
}

/// A message item as the message it was written from. Its fields were parsed on the way
/// in; one that no longer parses is reported, not skipped silently.
fn message(item: Item) -> Result<NewMessage, String> {
    let stored = MessageItem::decode(item).map_err(|e| e.to_string())?;
    let field =
        |name: &str, reason: String| format!("message {}: {name} {reason}", stored.id.as_str());
    Ok(NewMessage {
        text: MessageText::parse(&stored.text).map_err(|e| field("body", e))?,
        image_url: stored
            .image_url
            .as_deref()
            .map(ImageUrl::parse)
            .transpose()
            .map_err(|e| field("image_url", e))?,
        client_message_id: stored
            .client_message_id
            .as_deref()
            .map(ClientMessageId::parse)
            .transpose()
            .map_err(|e| field("client_message_id", e))?,
        id: stored.id,
        author: stored.author,
        sent_at: stored.sent_at,
        agent: stored.agent,
        internal: stored.internal,
        attachments: stored.attachments,
    })
}

/// `evt_` and 128 bits of the SHA-256 of the record's id and the event's type: the same
/// for every delivery of the record (so a webhook's `webhook-id` survives a retried
/// batch), and distinct for the two events one record can make.
pub fn event_id(record: &str, kind: EventType) -> String {
    let digest = Sha256::digest(format!("{record}#{}", kind.as_str()).as_bytes());
    format!("evt_{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Caller;
    use crate::domain::{
        Agent, AgentId, Author, ChatId, DisplayName, Email, MessageId, Profile, Status, UnixSeconds,
    };
    use crate::dynamo::items::{InboxShards, to_item};
    use crate::events::Visibility;
    use crate::store::NewConversation;
    use aws_sdk_dynamodb::types::AttributeValue;

    const RECORD: &str = "c8e3f0a1b2d4e5f60718293a4b5c6d7e";
    const AT: i64 = 1_795_341_600_000;

    fn owner() -> UserId {
        Email::parse("ann@example.com").unwrap().user_id().clone()
    }

    fn new_message(author: Author, internal: bool) -> NewMessage {
        let mut message = NewMessage::now(
            author,
            MessageText::parse("my card was charged twice").unwrap(),
            Some(ImageUrl::parse("https://example.com/a.png").unwrap()),
            Some(ClientMessageId::parse("local-1").unwrap()),
        );
        if author == Author::Agent {
            message.agent = Some(Agent {
                id: AgentId::parse("agent-7").unwrap(),
                name: DisplayName::parse("Alex").unwrap(),
            });
        }
        message.internal = internal;
        message
    }

    /// The `META` and first message items a create writes for `message`.
    fn created(chat: &ConversationId, message: &NewMessage) -> (Item, Item) {
        let new = NewConversation {
            id: chat.clone(),
            owner: Caller::Known(owner()),
            profile: Profile {
                name: None,
                plan_id: None,
                account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
            },
            first_message: message.clone(),
            follow_up_of: None,
            receipt: None,
            source: None,
            notice_at: None,
        };
        (
            to_item(&ConversationItem::new(&new, InboxShards::ONE)).unwrap(),
            to_item(&MessageItem::new(chat, message)).unwrap(),
        )
    }

    fn change(operation: Operation, old: Option<Item>, new: Option<Item>) -> Change {
        Change {
            event_id: RECORD.into(),
            operation,
            at: AT,
            old,
            new,
        }
    }

    fn only_event(pending: Vec<Pending>) -> Event {
        match <[Pending; 1]>::try_from(pending) {
            Ok([Pending::Event(event)]) => event,
            other => panic!("expected one complete event, got {other:?}"),
        }
    }

    fn only_message(pending: Vec<Pending>) -> AddedMessage {
        match <[Pending; 1]>::try_from(pending) {
            Ok([Pending::Message(added)]) => added,
            other => panic!("expected one message, got {other:?}"),
        }
    }

    fn set(item: &Item, name: &str, value: AttributeValue) -> Item {
        let mut item = item.clone();
        item.insert(name.into(), value);
        item
    }

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    fn keys(pk: &str, sk: &str) -> Item {
        Item::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
    }

    #[test]
    fn an_inserted_message_is_the_event_the_commit_publishes() {
        let chat = ConversationId::Chat(ChatId::generate());
        let sent = new_message(Author::Agent, false);
        let (_, item) = created(&chat, &sent);
        let added = only_message(events(&change(Operation::Insert, None, Some(item))).unwrap());
        assert_eq!(added.conversation(), &chat);
        let id = event_id(RECORD, EventType::MessageCreated);
        assert_eq!(
            added.into_event(&owner()),
            Event::message_created(id, &chat, &owner(), &sent),
            "the event published at commit, with the record's id"
        );
    }

    #[test]
    fn a_note_is_for_agents_only() {
        let chat = ConversationId::Chat(ChatId::generate());
        let (_, item) = created(&chat, &new_message(Author::Agent, true));
        assert!(text(&item, "sk").unwrap().starts_with(NOTE_PREFIX));
        let added = only_message(events(&change(Operation::Insert, None, Some(item))).unwrap());
        let event = added.into_event(&owner());
        assert_eq!(event.visibility, Visibility::Agents);
        assert!(!event.visible_to_customer(&owner()));
    }

    #[test]
    fn an_agents_status_change_is_announced_with_the_newest_message() {
        let chat = ConversationId::Chat(ChatId::generate());
        let first = new_message(Author::Customer, false);
        let (meta, _) = created(&chat, &first);
        let snoozed = set(
            &set(&meta, "status", s("pending")),
            "snoozed_until",
            AttributeValue::N("1795345200000".into()),
        );
        let pending = events(&change(Operation::Modify, Some(meta), Some(snoozed))).unwrap();
        let expected = Event::status_changed(
            event_id(RECORD, EventType::StatusChanged),
            &chat,
            &owner(),
            Status::Pending,
            Some(1_795_345_200_000),
            Some(&first.id),
            AT,
        );
        assert_eq!(only_event(pending), expected);
    }

    #[test]
    fn a_message_that_reopens_a_conversation_is_no_status_change() {
        let chat = ConversationId::Chat(ChatId::generate());
        let (meta, _) = created(&chat, &new_message(Author::Customer, false));
        let solved = set(&meta, "status", s("solved"));
        let reopened = set(&meta, "last_message_id", s(MessageId::generate().as_str()));
        let pending = events(&change(Operation::Modify, Some(solved), Some(reopened))).unwrap();
        assert_eq!(pending, vec![]);
    }

    #[test]
    fn an_assignment_is_announced_to_agents() {
        let chat = ConversationId::Chat(ChatId::generate());
        let first = new_message(Author::Customer, false);
        let (meta, _) = created(&chat, &first);
        let assigned = set(&meta, "assignee", s("agent-7"));
        let change_to = |old: &Item, new: &Item| {
            only_event(
                events(&change(
                    Operation::Modify,
                    Some(old.clone()),
                    Some(new.clone()),
                ))
                .unwrap(),
            )
        };
        let event = change_to(&meta, &assigned);
        assert_eq!(event.id, event_id(RECORD, EventType::Assigned));
        assert_eq!(event.kind, EventType::Assigned);
        assert_eq!(event.data["assignee"]["id"], "agent-7");
        assert_eq!(event.message_id.as_ref(), Some(&first.id));
        assert_eq!(event.visibility, Visibility::Agents);
        assert!(change_to(&assigned, &meta).data["assignee"].is_null());
    }

    #[test]
    fn other_changes_make_no_event() {
        let chat = ConversationId::Chat(ChatId::generate());
        let (meta, message) = created(&chat, &new_message(Author::Customer, false));
        let user = keys("USER#ann@example.com", "PROFILE");
        for quiet in [
            change(Operation::Insert, None, Some(meta.clone())),
            change(Operation::Remove, Some(message), None),
            change(Operation::Modify, Some(meta.clone()), Some(meta)),
            change(Operation::Insert, None, Some(user.clone())),
            change(Operation::Modify, Some(user.clone()), Some(user)),
            change(
                Operation::Insert,
                None,
                Some(keys("WATCH#AGENTS", "CONN#abc=")),
            ),
        ] {
            assert_eq!(events(&quiet).unwrap(), vec![], "{quiet:?}");
        }
    }

    #[test]
    fn a_malformed_record_names_itself_and_what_is_wrong() {
        let chat = ConversationId::Chat(ChatId::generate());
        let (meta, message) = created(&chat, &new_message(Author::Customer, false));
        let blank = set(&message, "body", s("  "));
        let err = events(&change(Operation::Insert, None, Some(blank))).unwrap_err();
        assert_eq!(err.event_id, RECORD);
        assert!(err.reason.contains("body"), "{err}");
        let err = events(&change(Operation::Modify, None, Some(meta))).unwrap_err();
        assert!(err.reason.contains("OldImage"), "{err}");
        let err = events(&change(Operation::Insert, None, None)).unwrap_err();
        assert!(err.reason.contains("NewImage"), "{err}");
        let err = events(&change(
            Operation::Insert,
            None,
            Some(keys("CONV#", "MSG#x")),
        ))
        .unwrap_err();
        assert!(err.reason.contains("pk"), "{err}");
        assert!(Operation::parse("UPSERT").is_err());
    }

    #[test]
    fn event_ids_are_stable_per_record_and_type() {
        let one = event_id("r1", EventType::StatusChanged);
        assert_eq!(one, event_id("r1", EventType::StatusChanged));
        assert_ne!(one, event_id("r2", EventType::StatusChanged));
        assert_ne!(one, event_id("r1", EventType::Assigned));
        assert!(one.starts_with("evt_") && one.len() == 4 + 32, "{one}");
    }
}
