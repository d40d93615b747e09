//! `supportzen`: the SupportZen API on one machine. It serves the same handlers the
//! Lambda functions run, over an embedded SQLite store, and carries the operator
//! commands (provision users, sign tokens, invoke a function on a sample event).

pub mod function;
pub mod invoke;
pub mod server;
pub mod sqlite_store;
pub mod store_url;

use supportzen_shared::store::{ConversationCreator, MessageAppender, TicketNumbers, UserReader};

/// Everything the four handlers need from a store, for code that runs all of them.
pub trait Backend:
    UserReader + ConversationCreator + MessageAppender + TicketNumbers + Send + Sync + 'static
{
}

impl<T> Backend for T where
    T: UserReader + ConversationCreator + MessageAppender + TicketNumbers + Send + Sync + 'static
{
}
