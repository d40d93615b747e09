//! Reading conversations and messages: the customer read routes' pages (one query each)
//! and the operators' whole listings.

use super::DynamoStore;
use super::conversations::{ConversationItem, MessageItem};
use super::items::{
    Item, MESSAGE_PREFIX, META, PROFILE, conversation_pk, key, owner_activity_key, s, user_pk,
};
use super::schema;
use super::users::user_record;
use crate::auth::UserRecord;
use crate::domain::{ConversationId, Kind, UserId};
use crate::store::{
    ActivityCursor, ConversationAdmin, ConversationReader, MessageWindow, Page, StoreError,
    StoredConversation, StoredMessage, StoredProfile,
};
use aws_sdk_dynamodb::types::AttributeValue;

/// A page size as DynamoDB's `Limit`, asking for one more item to learn whether more follow.
pub(super) fn one_more(limit: usize) -> i32 {
    i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX)
}

impl ConversationReader for DynamoStore {
    async fn find_user_and_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(Option<UserRecord>, Option<StoredConversation>), StoreError> {
        let user_partition = user_pk(user);
        let items = self
            .batch_get(
                vec![
                    key(user_partition.clone(), PROFILE),
                    key(conversation_pk(conversation), META),
                ],
                None,
                "BatchGetItem user and conversation",
            )
            .await?;
        let (mut found_user, mut found_conversation) = (None, None);
        for item in items {
            if matches!(item.get("pk"), Some(AttributeValue::S(pk)) if *pk == user_partition) {
                found_user = Some(user_record(user, &item)?);
            } else {
                found_conversation = Some(ConversationItem::decode(item)?);
            }
        }
        Ok((found_user, found_conversation))
    }

    async fn conversation_page(
        &self,
        owner: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> Result<Page<StoredConversation>, StoreError> {
        let index = schema::BY_OWNER;
        let owner_partition = user_pk(owner);
        let query = self
            .client
            .query()
            .index_name(index.name)
            .key_condition_expression("#pk = :owner AND begins_with(#sk, :kind)")
            .expression_attribute_names("#pk", index.partition_key)
            .expression_attribute_names("#sk", index.sort_key)
            .expression_attribute_values(":owner", s(owner_partition.clone()))
            .expression_attribute_values(":kind", s(format!("{}#", kind.as_str())))
            .scan_index_forward(false)
            .limit(one_more(limit));
        // An index query resumes from the index key and the table key of the item before.
        let start = from.map(|cursor| {
            let mut start: Item = key(conversation_pk(&cursor.conversation), META);
            start.insert(index.partition_key.to_string(), s(owner_partition.clone()));
            start.insert(
                index.sort_key.to_string(),
                s(owner_activity_key(
                    cursor.last_activity_at,
                    &cursor.conversation,
                )),
            );
            start
        });
        let page = self
            .query_page_as::<ConversationItem>(query, start, "Query by-owner page")
            .await?;
        let cut_short = page.more;
        let items = page
            .items
            .into_iter()
            .map(ConversationItem::into_stored)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_one_more(items, limit, cut_short))
    }

    async fn message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> Result<Page<StoredMessage>, StoreError> {
        let (items, more) = self
            .message_range(conversation, MESSAGE_PREFIX, window, limit)
            .await?;
        Ok(in_time_order(
            Page::from_one_more(items, limit, more),
            window,
        ))
    }
}

/// Whether `window` is read from the newest message back.
pub(super) fn backwards(window: &MessageWindow) -> bool {
    !matches!(window, MessageWindow::After(_))
}

/// A page read in `window`'s direction, oldest first.
pub(super) fn in_time_order(
    mut page: Page<StoredMessage>,
    window: &MessageWindow,
) -> Page<StoredMessage> {
    if backwards(window) {
        page.items.reverse();
    }
    page
}

impl DynamoStore {
    /// Up to `limit + 1` items of the conversation whose sort keys start with `prefix`
    /// (messages or notes), in `window`'s direction, and whether more may follow.
    pub(super) async fn message_range(
        &self,
        conversation: &ConversationId,
        prefix: &str,
        window: &MessageWindow,
        limit: usize,
    ) -> Result<(Vec<StoredMessage>, bool), StoreError> {
        let partition = conversation_pk(conversation);
        let from = match window {
            MessageWindow::Latest => None,
            MessageWindow::After(id) | MessageWindow::Before(id) => Some(id),
        };
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(partition.clone()))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .scan_index_forward(!backwards(window))
            .limit(one_more(limit));
        // A start key need not name a stored item: the query resumes from its position.
        let start = from.map(|id| key(partition, &format!("{prefix}{}", id.as_str())));
        let page = self
            .query_page_as::<MessageItem>(query, start, "Query messages page")
            .await?;
        let more = page.more;
        let items = page
            .items
            .into_iter()
            .map(MessageItem::into_stored)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, more))
    }
}

impl ConversationAdmin for DynamoStore {
    async fn messages(&self, id: &ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(conversation_pk(id)))
            .expression_attribute_values(":prefix", s(MESSAGE_PREFIX))
            .consistent_read(true);
        self.query_all(query, "Query messages")
            .await?
            .into_iter()
            .map(MessageItem::decode)
            .collect()
    }

    async fn conversations_of(&self, user: &UserId) -> Result<Vec<StoredConversation>, StoreError> {
        let index = schema::BY_OWNER;
        let query = self
            .client
            .query()
            .index_name(index.name)
            .key_condition_expression("#pk = :owner")
            .expression_attribute_names("#pk", index.partition_key)
            .expression_attribute_values(":owner", s(user_pk(user)))
            .scan_index_forward(false);
        let mut found: Vec<StoredConversation> = self
            .query_all(query, "Query by-owner")
            .await?
            .into_iter()
            .map(ConversationItem::decode)
            .collect::<Result<_, _>>()?;
        // The index sorts by kind, then activity; operators and tests want creation order.
        found.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id.key())));
        Ok(found)
    }

    async fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>, StoreError> {
        self.stored_profile(user).await
    }
}
