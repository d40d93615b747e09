//! The agents' customer lookup: the user item's profile attributes (never its secret or
//! pin) and a page of the customer's conversations from the by-owner index.

use super::DynamoStore;
use super::items::{PROFILE, s, user_pk};
use crate::domain::{Kind, UserId};
use crate::store::{
    ActivityCursor, ConversationReader, CustomerProfile, CustomerReader, Page, StoreError,
    StoredConversation,
};
use aws_sdk_dynamodb::types::{AttributeValue, Select};

/// The user item's attributes agents may read; `template.yaml` allows these (and the
/// table's keys) and no others, asked for by name.
pub const PROFILE_ATTRIBUTES: [&str; 4] = ["name", "plan_id", "account_created_at", "created_at"];

impl CustomerReader for DynamoStore {
    async fn customer_page(
        &self,
        customer: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> Result<(Option<CustomerProfile>, Page<StoredConversation>), StoreError> {
        // Both reads at once: one round trip.
        let (profile, page) = futures_util::future::try_join(
            self.customer_profile(customer),
            self.conversation_page(customer, kind, from, limit),
        )
        .await?;
        Ok((profile, page))
    }
}

impl DynamoStore {
    /// The user item's profile attributes, by a `Query` of its key that names them
    /// (`Select` `SPECIFIC_ATTRIBUTES`): the form of read IAM can limit to attributes.
    async fn customer_profile(&self, user: &UserId) -> Result<Option<CustomerProfile>, StoreError> {
        let mut query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND sk = :sk")
            .expression_attribute_values(":pk", s(user_pk(user)))
            .expression_attribute_values(":sk", s(PROFILE))
            .select(Select::SpecificAttributes)
            .consistent_read(true);
        let mut names = Vec::new();
        for (i, attribute) in PROFILE_ATTRIBUTES.iter().enumerate() {
            // `name` is one of DynamoDB's reserved words: every name goes by placeholder.
            query = query.expression_attribute_names(format!("#a{i}"), *attribute);
            names.push(format!("#a{i}"));
        }
        let page = self
            .query_page(
                query.projection_expression(names.join(", ")),
                None,
                "Query customer profile",
            )
            .await?;
        let Some(item) = page.items.into_iter().next() else {
            return Ok(None);
        };
        let number = |name: &str| -> Result<Option<i64>, StoreError> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::N(n)) => n
                    .parse()
                    .map(Some)
                    .map_err(|_| StoreError::Internal(format!("user {name} {n:?}"))),
                Some(other) => Err(StoreError::Internal(format!("user {name} {other:?}"))),
            }
        };
        let name = match item.get("name") {
            Some(AttributeValue::S(name)) => Some(name.clone()),
            _ => None,
        };
        Ok(Some(CustomerProfile {
            name,
            plan_id: number("plan_id")?,
            account_created_at: number("account_created_at")?,
            first_seen_at: number("created_at")?.unwrap_or_default(),
        }))
    }
}
