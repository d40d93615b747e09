//! Read marks: how far the customer, and the agents (one mark shared by the team), have
//! read a conversation, and the per-side counts that make unread numbers without a scan.
//!
//! The conversation keeps two counters, written in the same write as each message: the
//! customer's public messages and the agents' replies (notes count for nobody). A mark
//! keeps the message it is up to and how many of the other side's messages were at or
//! before it when it was written; unread is the counter less that number. The mark's
//! write counts the other side's messages after `up_to` and stores `counter - count`,
//! on condition that the counter is still the one it read, so a message stored in
//! between makes it count again: exact under concurrent sends (docs/data-model.md).

use super::{StoreError, StoredConversation};
use crate::domain::{Agent, MessageId, Reader};
use std::future::Future;

/// How far one side has read a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadMark {
    /// The newest message this side has read (for agents, maybe a note).
    pub up_to: MessageId,
    /// The counter of the messages this side reads, less those stored after `up_to`, as
    /// the mark's write found them. Below zero for a conversation whose messages predate
    /// the counters (they count from zero at the first message after them).
    pub read: i64,
    /// The agent who moved the agents' mark to `up_to`; `None` for the customer's.
    pub by: Option<Agent>,
}

/// A conversation's read state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The customer's public messages, counted by each write that stored one.
    pub customer_messages: i64,
    /// The agents' public replies (never notes), counted the same way.
    pub agent_replies: i64,
    /// The customer's mark, once they have marked.
    pub customer: Option<ReadMark>,
    /// The agents' mark, once an agent has marked.
    pub agents: Option<ReadMark>,
}

impl ReadState {
    /// `reader`'s mark, if any.
    pub fn mark(&self, reader: Reader) -> Option<&ReadMark> {
        match reader {
            Reader::Customer => self.customer.as_ref(),
            Reader::Agents => self.agents.as_ref(),
        }
    }

    /// How many messages `reader` reads have been stored: the counter its unread is of.
    pub fn written_for(&self, reader: Reader) -> i64 {
        match reader {
            Reader::Customer => self.agent_replies,
            Reader::Agents => self.customer_messages,
        }
    }

    /// The messages `reader` has not read: stored after their mark (all of them, without
    /// one). Never negative.
    pub fn unread(&self, reader: Reader) -> i64 {
        let read = self.mark(reader).map_or(0, |mark| mark.read);
        (self.written_for(reader) - read).max(0)
    }

    /// Whether a mark at `up_to` would move `reader`'s forward (message ids sort by time).
    pub fn moves_forward(&self, reader: Reader, up_to: &MessageId) -> bool {
        self.mark(reader)
            .is_none_or(|mark| up_to.as_str() > mark.up_to.as_str())
    }
}

/// What a mark did: the conversation as it is after it, and whether the mark moved
/// (`false`: `up_to` was not past the mark, which stays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkedRead {
    pub conversation: StoredConversation,
    pub moved: bool,
}

/// Moves read marks forward.
pub trait ReadMarker {
    /// Moves `reader`'s mark on `seen`'s conversation up to `up_to`, if that is past
    /// it, recounting the side's unread exactly; `by` is the agent marking for the
    /// agents. `seen` is the conversation as the caller read it (ownership already
    /// checked); the store reads again by itself when messages or marks come in
    /// meanwhile. [`StoreError::UnknownMessage`] if `up_to` is not a message of the
    /// conversation this side can see (for the customer, a note is not);
    /// [`StoreError::NotFound`] if the conversation is gone.
    fn mark_read(
        &self,
        seen: &StoredConversation,
        reader: Reader,
        up_to: &MessageId,
        by: Option<&Agent>,
    ) -> impl Future<Output = Result<MarkedRead, StoreError>> + Send;
}

/// Attempts a store makes at a mark whose counter keeps moving under it before it
/// answers [`StoreError::Unavailable`].
pub const MARK_ATTEMPTS: usize = 8;
