//! The agents' customer lookup: the user's profile columns (never the secret or pin) and
//! a page of their conversations, as the by-owner index gives DynamoDB's.

use crate::{SqliteStore, internal};
use rusqlite::OptionalExtension;
use supportzen_shared::domain::{Kind, UserId};
use supportzen_shared::store::{
    ActivityCursor, ConversationReader, CustomerProfile, CustomerReader, Page, StoreError,
    StoredConversation,
};

impl CustomerReader for SqliteStore {
    async fn customer_page(
        &self,
        customer: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> Result<(Option<CustomerProfile>, Page<StoredConversation>), StoreError> {
        let user = customer.clone();
        let profile = self
            .with_conn(move |conn| {
                conn.query_row(
                    "SELECT name, plan_id, account_created_at, created_at_ms FROM users
                     WHERE id = ?1",
                    [user.as_str()],
                    |row| {
                        Ok(CustomerProfile {
                            name: row.get(0)?,
                            plan_id: row.get(1)?,
                            account_created_at: row.get(2)?,
                            first_seen_at: row.get(3)?,
                        })
                    },
                )
                .optional()
                .map_err(internal)
            })
            .await?;
        let page = self.conversation_page(customer, kind, from, limit).await?;
        Ok((profile, page))
    }
}
