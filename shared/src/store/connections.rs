//! Production's open WebSocket connections, listed under whom they deliver to.

use super::StoreError;
use crate::domain::UserId;
use crate::events::Subscriber;
use std::future::Future;

/// How long a connection is listed: API Gateway closes every WebSocket connection after
/// two hours, so its item expires then (the table's time-to-live removes items whose
/// `$disconnect` never came).
pub const CONNECTION_LIFETIME_MS: i64 = 2 * 3600 * 1000;

/// How long after it connected a connection that answers 410 Gone stays listed. API
/// Gateway answers 410 to a post made before the handshake is over, and the `$connect`
/// route lists the connection before it returns, so a connection being opened can be
/// read and posted to in between: unlisting it then would cost its client every later
/// event. The authorizer and the route run at most 10 seconds each (`template.yaml`;
/// `tests/repository/template.rs` checks that the two fit in this), so a connection still
/// answering 410 after 30 seconds is gone.
pub const GONE_GRACE_MS: i64 = 30_000;

/// The `expires_at` (ms) a connection's item must be below for a 410 Gone at `now` (ms)
/// to unlist it: that of a connection made more than [`GONE_GRACE_MS`] before `now`
/// (items are listed until their connection's time plus [`CONNECTION_LIFETIME_MS`]).
pub fn gone_cutoff(now: i64) -> i64 {
    now + CONNECTION_LIFETIME_MS - GONE_GRACE_MS
}

/// Who an event's connections are looked up for: its customer, or all agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    Customer(UserId),
    Agents,
}

impl Subscriber {
    /// The audience whose connections this subscriber's connection is listed under.
    pub fn audience(&self) -> Audience {
        match self {
            Subscriber::Customer(user) => Audience::Customer(user.clone()),
            Subscriber::Agent(_) => Audience::Agents,
        }
    }
}

/// Production's open WebSocket connections: API Gateway holds the sockets, the table
/// holds whom each is for, listed under its [`Audience`] so fan-out is a query, never a
/// scan. Items expire with API Gateway's two-hour connection limit.
pub trait ConnectionWriter {
    /// Lists `connection_id` (API Gateway's id) for `subscriber` until `expires_at` (ms).
    fn put_connection(
        &self,
        connection_id: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes exactly this connection, whenever it was made (on `$disconnect`).
    fn remove_connection(
        &self,
        connection_id: &str,
        audience: &Audience,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// After a post to this connection answered 410 Gone at `now` (ms): removes it only
    /// if it was made more than [`GONE_GRACE_MS`] before, since one still
    /// being opened answers 410 too. `true` if it was removed; `false` if it was kept as
    /// too recent, or was not listed.
    fn remove_gone_connection(
        &self,
        connection_id: &str,
        audience: &Audience,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Reads the connections an event goes to.
pub trait ConnectionReader {
    /// The ids of the connections listed under `audience` and not expired at `now` (ms).
    fn connections(
        &self,
        audience: &Audience,
        now: i64,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}
