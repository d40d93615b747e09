//! Which write is which [`Change`], for the events the local server produces at commit:
//! one function per kind of write, called by both places that do so. [`super::Publishing`]
//! calls them after the store's write returned (DynamoDB Local); the SQLite store calls
//! them inside the write's own transaction and journals what they return (its event
//! journal, relayed by `supportzen serve`). Either way the events come from
//! [`changes::events`], the definition production's stream consumer uses too, under
//! fresh ids.

use super::{MarkedRead, Reader, StoredConversation};
use crate::domain::{AgentId, ConversationId, NewMessage, Rating, Status, UserId};
use crate::events::Event;
use crate::events::changes::{self, Change, ConversationState};

/// The events of `change`, each under a fresh id.
fn fresh(change: Change<'_>) -> Vec<Event> {
    changes::events(change, |_| Event::new_id())
}

/// A message or note written: a conversation's first, a customer's, an agent's.
pub fn message_added(
    conversation: &ConversationId,
    owner: &UserId,
    message: &NewMessage,
) -> Vec<Event> {
    fresh(Change::MessageAdded {
        conversation,
        owner,
        message,
    })
}

/// An agent set `seen`'s status (and snooze) at `at`.
pub fn status_set(
    seen: &StoredConversation,
    status: Status,
    snoozed_until: Option<i64>,
    at: i64,
) -> Vec<Event> {
    let before = ConversationState::from(seen);
    let after = ConversationState {
        status,
        snoozed_until,
        ..before.clone()
    };
    conversation_changed(&before, &after, at)
}

/// `assigned` is the conversation as the assignment left it, `before` its assignee until
/// then. The assignment alone is the change: one that changes nothing yields no event, as
/// DynamoDB writes no stream record for an update that changes nothing.
pub fn assigned(before: Option<AgentId>, assigned: &StoredConversation, at: i64) -> Vec<Event> {
    let after = ConversationState::from(assigned);
    let before = ConversationState {
        assignee: before,
        ..after.clone()
    };
    conversation_changed(&before, &after, at)
}

/// A snoozed conversation woke at `at`: its status changed while its newest message did
/// not.
pub fn woken(snoozed: &StoredConversation, at: i64) -> Vec<Event> {
    let before = ConversationState::from(snoozed);
    let after = ConversationState {
        status: Status::Open,
        snoozed_until: None,
        ..before.clone()
    };
    conversation_changed(&before, &after, at)
}

/// `reader`'s mark on `seen`, as `marked` left it at `at`: a mark that moved is the
/// change (`conversation.read`); one that did not yields nothing.
pub fn marked_read(
    seen: &StoredConversation,
    reader: Reader,
    marked: &MarkedRead,
    at: i64,
) -> Vec<Event> {
    if !marked.moved {
        return Vec::new();
    }
    let after = ConversationState::from(&marked.conversation);
    let before = match reader {
        Reader::Customer => ConversationState {
            customer_read: seen.reads.customer.as_ref().map(|m| m.up_to.clone()),
            ..after.clone()
        },
        Reader::Agents => ConversationState {
            agents_read: seen.reads.agents.as_ref().map(|m| m.up_to.clone()),
            ..after.clone()
        },
    };
    conversation_changed(&before, &after, at)
}

/// The customer rated `seen` (or changed their rating), at the rating's time.
pub fn rated(seen: &StoredConversation, rating: &Rating) -> Vec<Event> {
    let before = ConversationState::from(seen);
    let after = ConversationState {
        rating: Some(rating.clone()),
        ..before.clone()
    };
    conversation_changed(&before, &after, rating.rated_at)
}

fn conversation_changed(
    before: &ConversationState,
    after: &ConversationState,
    at: i64,
) -> Vec<Event> {
    fresh(Change::ConversationChanged { before, after, at })
}
