//! What the agents' customer lookup reads: a customer's profile and their conversations.

use super::{ActivityCursor, Page, StoreError, StoredConversation};
use crate::domain::{Kind, UserId};
use std::future::Future;

/// What a customer's user record tells agents: the profile their host product's last
/// create request described, and when SupportZen first saw them. Never their secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerProfile {
    pub name: Option<String>,
    pub plan_id: Option<i64>,
    /// When the account was created in the host product (Unix seconds, as sent).
    pub account_created_at: Option<i64>,
    /// When SupportZen wrote the user first (milliseconds since the Unix epoch).
    pub first_seen_at: i64,
}

/// Finding a customer by email: their profile and a page of their conversations, over
/// the by-owner index (one query per page).
pub trait CustomerReader {
    /// The customer's profile (`None` if there is no such user) and up to `limit` of
    /// their conversations of `kind`, newest activity first, from after `from`. The two
    /// reads are independent and may run at once.
    fn customer_page(
        &self,
        customer: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> impl Future<
        Output = Result<(Option<CustomerProfile>, Page<StoredConversation>), StoreError>,
    > + Send;
}
