//! Which committed change yields which events: the one definition both event sources
//! use. Locally, `store::committed` describes each write as a [`Change`] (for the store
//! decorator `store::Publishing` and the SQLite store's event journal alike); production's
//! stream consumer (`dynamo::stream`) decodes
//! each record of the table's change stream into one. Both then call [`events`], so the
//! two cannot drift apart (`tests/store/parity.rs` runs one scenario through both and
//! compares).
//!
//! | change | events |
//! |---|---|
//! | a message or note written (create, append, reply, note) | `message.created` (a note's for agents only) |
//! | a conversation's status or snooze changed while its newest message did not | `conversation.status_changed` |
//! | a conversation's assignee changed | `conversation.assigned` |
//! | the customer's or the agents' read mark moved | `conversation.read` |
//! | a conversation's rating given or changed | `conversation.rated` |
//!
//! A customer's message that reopens a conversation changes its status *and* its newest
//! message (or, written behind a newer one, its count of the customer's messages): that
//! is the message's event only.

use super::envelope::{Event, EventType};
use crate::domain::{
    Agent, AgentId, ConversationId, MessageId, NewMessage, Rating, Reader, Status, UserId,
};

/// A conversation as far as its events are concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationState {
    pub id: ConversationId,
    pub owner: UserId,
    pub status: Status,
    /// For a pending conversation, when the agent means to look again (milliseconds).
    pub snoozed_until: Option<i64>,
    pub assignee: Option<AgentId>,
    /// The newest message's id.
    pub newest: Option<MessageId>,
    /// How many public messages the customer has written. With `newest`, it tells the
    /// changes a customer's message made: one written behind a newer message (stamped
    /// before it, committed after it) moves only this.
    pub customer_messages: i64,
    /// The customer's read mark.
    pub customer_read: Option<MessageId>,
    /// The agents' read mark, and the agent who moved it there.
    pub agents_read: Option<MessageId>,
    pub agents_read_by: Option<Agent>,
    /// The customer's rating, once given.
    pub rating: Option<Rating>,
}

/// One committed change to a conversation.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// A message or an agents' note was written: a conversation's first, a customer's,
    /// an agent's reply or note.
    MessageAdded {
        conversation: &'a ConversationId,
        owner: &'a UserId,
        message: &'a NewMessage,
    },
    /// The conversation went from `before` to `after`, at `at` (milliseconds).
    ConversationChanged {
        before: &'a ConversationState,
        after: &'a ConversationState,
        at: i64,
    },
}

/// The events `change` yields, in the order they happened (none for most changes);
/// `id` names each by its type (fresh ids at commit, the stream record's in production).
/// The one event a written message yields (what [`events`] makes of
/// [`Change::MessageAdded`]), for a caller that has exactly one message and wants exactly
/// one event.
pub fn message_event(
    id: String,
    conversation: &ConversationId,
    owner: &UserId,
    message: &NewMessage,
) -> Event {
    Event::message_created(id, conversation, owner, message)
}

pub fn events(change: Change<'_>, mut id: impl FnMut(EventType) -> String) -> Vec<Event> {
    match change {
        Change::MessageAdded {
            conversation,
            owner,
            message,
        } => vec![message_event(
            id(EventType::MessageCreated),
            conversation,
            owner,
            message,
        )],
        Change::ConversationChanged { before, after, at } => {
            let newest = after.newest.as_ref();
            let mut events = Vec::new();
            let same_newest = before.newest.as_ref() == newest
                && before.customer_messages == after.customer_messages;
            let moved =
                (before.status, before.snoozed_until) != (after.status, after.snoozed_until);
            if same_newest && moved {
                events.push(Event::status_changed(
                    id(EventType::StatusChanged),
                    &after.id,
                    &after.owner,
                    after.status,
                    after.snoozed_until,
                    newest,
                    at,
                ));
            }
            if before.assignee != after.assignee {
                events.push(Event::assigned(
                    id(EventType::Assigned),
                    &after.id,
                    &after.owner,
                    after.assignee.as_ref(),
                    newest,
                    at,
                ));
            }
            for reader in Reader::ALL {
                let (was, is, by) = match reader {
                    Reader::Customer => (&before.customer_read, &after.customer_read, None),
                    Reader::Agents => (
                        &before.agents_read,
                        &after.agents_read,
                        after.agents_read_by.as_ref(),
                    ),
                };
                if let Some(up_to) = is
                    && was != is
                {
                    events.push(Event::read(
                        id(EventType::Read),
                        &after.id,
                        &after.owner,
                        reader,
                        up_to,
                        by,
                        newest,
                        at,
                    ));
                }
            }
            if let Some(rating) = &after.rating
                && before.rating.as_ref() != Some(rating)
            {
                events.push(Event::rated(
                    id(EventType::Rated),
                    &after.id,
                    &after.owner,
                    rating,
                    newest,
                ));
            }
            events
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Author, ChatId, Email, MessageText};

    fn state() -> ConversationState {
        ConversationState {
            id: ConversationId::Chat(ChatId::generate()),
            owner: Email::parse("ann@example.com").unwrap().user_id().clone(),
            status: Status::Open,
            snoozed_until: None,
            assignee: None,
            newest: Some(MessageId::generate()),
            customer_messages: 1,
            customer_read: None,
            agents_read: None,
            agents_read_by: None,
            rating: None,
        }
    }

    fn kinds(change: Change<'_>) -> Vec<EventType> {
        events(change, |_| Event::new_id())
            .iter()
            .map(|event| event.kind)
            .collect()
    }

    #[test]
    fn a_message_is_one_message_event_named_by_the_caller() {
        let before = state();
        let message = NewMessage::now(
            Author::Customer,
            MessageText::parse("hi").unwrap(),
            None,
            None,
        );
        let change = Change::MessageAdded {
            conversation: &before.id,
            owner: &before.owner,
            message: &message,
        };
        let made = events(change, |kind| format!("evt_{}", kind.as_str()));
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].id, "evt_message.created");
        assert_eq!(made[0].message_id.as_ref(), Some(&message.id));
    }

    #[test]
    fn status_and_assignee_changes_are_announced_but_a_reopening_message_is_not() {
        let before = state();
        let at = 1_795_341_600_000;
        let change = |after: &ConversationState| {
            kinds(Change::ConversationChanged {
                before: &before,
                after,
                at,
            })
        };
        let pending = ConversationState {
            status: Status::Pending,
            snoozed_until: Some(at + 1),
            ..before.clone()
        };
        assert_eq!(change(&pending), vec![EventType::StatusChanged]);
        let assigned = ConversationState {
            assignee: Some(AgentId::parse("agent-7").unwrap()),
            ..pending.clone()
        };
        assert_eq!(
            change(&assigned),
            vec![EventType::StatusChanged, EventType::Assigned]
        );
        let reopened_by_a_message = ConversationState {
            status: Status::Solved,
            newest: Some(MessageId::generate()),
            ..before.clone()
        };
        assert_eq!(change(&reopened_by_a_message), vec![]);
        // A customer's message written behind a newer one leaves the newest as it was.
        let reopened_from_behind = ConversationState {
            status: Status::Solved,
            customer_messages: before.customer_messages + 1,
            ..before.clone()
        };
        assert_eq!(change(&reopened_from_behind), vec![]);
        assert_eq!(change(&before), vec![]);
    }

    #[test]
    fn a_rating_given_or_changed_is_announced_once() {
        use crate::domain::{RatingComment, RatingScore};
        let solved = ConversationState {
            status: Status::Solved,
            ..state()
        };
        let rating = Rating {
            score: RatingScore::from_integer(4).unwrap(),
            comment: Some(RatingComment::parse("Quick and kind").unwrap()),
            rated_at: 1_795_341_600_000,
            first_rated_at: 1_795_341_600_000,
        };
        let rated = ConversationState {
            rating: Some(rating.clone()),
            ..solved.clone()
        };
        let made = events(
            Change::ConversationChanged {
                before: &solved,
                after: &rated,
                at: rating.rated_at,
            },
            |_| Event::new_id(),
        );
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].kind, EventType::Rated);
        assert_eq!(made[0].visibility, crate::events::Visibility::Public);
        assert_eq!(made[0].occurred_at, rating.rated_at);
        assert_eq!(
            made[0].data,
            serde_json::json!({"kind": "chat", "rating": 4, "comment": "Quick and kind", "ratedAt": rating.rated_at})
        );
        // The same rating again is no change; another one is.
        let again = Change::ConversationChanged {
            before: &rated,
            after: &rated,
            at: rating.rated_at,
        };
        assert_eq!(kinds(again), vec![]);
        let changed = ConversationState {
            rating: Some(Rating {
                score: RatingScore::from_integer(5).unwrap(),
                rated_at: rating.rated_at + 1,
                ..rating
            }),
            ..solved
        };
        let change = Change::ConversationChanged {
            before: &rated,
            after: &changed,
            at: 0,
        };
        assert_eq!(kinds(change), vec![EventType::Rated]);
    }
}
