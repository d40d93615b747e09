//! Connect tickets (`events::connect_ticket`), kept by digest until redeemed or expired:
//! a function that only issues tickets can only write tickets.

use super::StoreError;
use crate::events::Subscriber;
use std::future::Future;

/// Keeps connect tickets, by digest, until they expire or are redeemed.
pub trait ConnectTicketIssuer {
    /// Stores a ticket (its digest) for `subscriber`, redeemable until `expires_at` (ms).
    fn put_ticket(
        &self,
        digest: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Redeems connect tickets, each once.
pub trait ConnectTicketRedeemer {
    /// Deletes the ticket and returns whom it was for, if it existed and had not expired
    /// at `now` (ms). Of two redemptions racing for one ticket, one gets it.
    fn take_ticket(
        &self,
        digest: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Subscriber>, StoreError>> + Send;
}
