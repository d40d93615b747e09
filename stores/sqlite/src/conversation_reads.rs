//! Reading conversations and messages: the customer read routes' pages (one query each)
//! and the operators' whole listings.

use crate::users::find_user;
use crate::{SqliteStore, internal};
use rusqlite::{OptionalExtension, params};
use supportzen_shared::auth::UserRecord;
use supportzen_shared::domain::{
    Agent, AgentId, Author, ConversationId, ConversationKey, DisplayName, Kind, MessageId, Rating,
    Status, UserId,
};
use supportzen_shared::store::{
    ActivityCursor, ConversationAdmin, ConversationReader, MessagePreview, MessageWindow, Page,
    ReadMark, ReadState, StoreError, StoredConversation, StoredMessage, StoredProfile,
};

pub(crate) const SELECT_CONVERSATION: &str = "SELECT id, kind, owner, status, created_at_ms,
     last_activity_ms, last_message_id, last_message_author, last_message_preview, assignee,
     snoozed_until_ms, follow_up_of, customer_messages, agent_replies, customer_read_up_to,
     customer_read, agents_read_up_to, agents_read, agents_read_by_id, agents_read_by_name,
     rating, rating_comment, rated_at_ms, rating_first_at_ms
     FROM conversations";

/// A stored read mark, or none when its message id is absent.
fn read_mark(
    up_to: Option<String>,
    read: Option<i64>,
    by: Option<(String, Option<String>)>,
) -> Result<Option<ReadMark>, StoreError> {
    let Some(up_to) = up_to else {
        return Ok(None);
    };
    let by = match by {
        Some((id, name)) => Some(Agent {
            id: AgentId::parse(&id).map_err(StoreError::Internal)?,
            name: DisplayName::parse(name.as_deref().unwrap_or(&id))
                .map_err(StoreError::Internal)?,
        }),
        None => None,
    };
    Ok(Some(ReadMark {
        up_to: MessageId::parse(&up_to).map_err(StoreError::Internal)?,
        read: read.unwrap_or(0),
        by,
    }))
}

/// Reads a row of [`SELECT_CONVERSATION`]; the outer error is SQLite's, the inner one ours.
pub(crate) fn read_conversation(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<StoredConversation, StoreError>> {
    let (id, kind, owner): (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
    let status: String = row.get(3)?;
    let (created_at, last_activity_at) = (row.get(4)?, row.get(5)?);
    let last: (Option<String>, Option<String>, Option<String>) =
        (row.get(6)?, row.get(7)?, row.get(8)?);
    let assignee: Option<String> = row.get(9)?;
    let snoozed_until: Option<i64> = row.get(10)?;
    let follow_up_of: Option<String> = row.get(11)?;
    let (customer_messages, agent_replies): (i64, i64) = (row.get(12)?, row.get(13)?);
    let customer_mark: (Option<String>, Option<i64>) = (row.get(14)?, row.get(15)?);
    let agents_mark: (Option<String>, Option<i64>) = (row.get(16)?, row.get(17)?);
    let agents_by: (Option<String>, Option<String>) = (row.get(18)?, row.get(19)?);
    let rating: (Option<i64>, Option<String>, Option<i64>, Option<i64>) =
        (row.get(20)?, row.get(21)?, row.get(22)?, row.get(23)?);
    Ok((|| {
        let reads = ReadState {
            customer_messages,
            agent_replies,
            customer: read_mark(customer_mark.0, customer_mark.1, None)?,
            agents: read_mark(
                agents_mark.0,
                agents_mark.1,
                agents_by.0.map(|id| (id, agents_by.1)),
            )?,
        };
        let last_message = match last {
            (Some(message), author, Some(text)) => Some(MessagePreview {
                id: MessageId::parse(&message).map_err(StoreError::Internal)?,
                author: Author::from_stored(author.as_deref()).map_err(StoreError::Internal)?,
                text,
                sent_at: last_activity_at,
            }),
            _ => None,
        };
        Ok(StoredConversation {
            id: ConversationId::from_stored(&kind, &id).map_err(StoreError::Internal)?,
            owner: UserId::from_stored(owner),
            status: Status::parse(&status).map_err(StoreError::Internal)?,
            assignee: assignee
                .map(|a| AgentId::parse(&a))
                .transpose()
                .map_err(StoreError::Internal)?,
            snoozed_until,
            follow_up_of: follow_up_of
                .map(|key| {
                    ConversationKey::parse(&key)
                        .ok()
                        .and_then(|k| k.resolve_any())
                        .ok_or_else(|| StoreError::Internal(format!("stored follow_up_of {key:?}")))
                })
                .transpose()?,
            created_at,
            last_activity_at,
            last_message,
            reads,
            rating: Rating::from_stored(rating.0, rating.1, rating.2, rating.3)
                .map_err(StoreError::Internal)?,
        })
    })())
}

/// The conversation whose key is `key`, if any (a transaction derefs to a connection).
pub(crate) fn conversation_by_id(
    conn: &rusqlite::Connection,
    key: &str,
) -> Result<Option<StoredConversation>, StoreError> {
    conn.query_row(
        &format!("{SELECT_CONVERSATION} WHERE id = ?1"),
        [key],
        read_conversation,
    )
    .optional()
    .map_err(internal)?
    .transpose()
}

pub(crate) const SELECT_MESSAGE: &str = "SELECT id, author, body, image_url, client_message_id,
     sent_at_ms, agent_id, agent_name, internal, attachments FROM messages";

/// Reads a row of [`SELECT_MESSAGE`]; the outer error is SQLite's, the inner one ours.
pub(crate) fn read_message(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<StoredMessage, StoreError>> {
    let (id, author): (String, String) = (row.get(0)?, row.get(1)?);
    let (text, image_url, client_message_id, sent_at) =
        (row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?);
    let (agent_id, agent_name): (Option<String>, Option<String>) = (row.get(6)?, row.get(7)?);
    let internal: bool = row.get(8)?;
    let attachments: Option<String> = row.get(9)?;
    Ok((|| {
        Ok(StoredMessage {
            id: MessageId::parse(&id).map_err(StoreError::Internal)?,
            author: Author::from_stored(Some(&author)).map_err(StoreError::Internal)?,
            text,
            image_url,
            client_message_id,
            sent_at,
            agent: match agent_id {
                Some(id) => Some(Agent {
                    id: AgentId::parse(&id).map_err(StoreError::Internal)?,
                    name: DisplayName::parse(agent_name.as_deref().unwrap_or(&id))
                        .map_err(StoreError::Internal)?,
                }),
                None => None,
            },
            internal,
            attachments: crate::uploads::decode_attachments(attachments.as_deref())?,
        })
    })())
}

/// A page size as SQLite's `LIMIT`, asking for one more row to learn whether more follow.
pub(crate) fn one_more(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

impl ConversationReader for SqliteStore {
    async fn find_user_and_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(Option<UserRecord>, Option<StoredConversation>), StoreError> {
        let (user, key) = (user.clone(), conversation.key());
        self.with_conn(move |conn| {
            let found = conversation_by_id(conn, &key)?;
            Ok((find_user(conn, user)?, found))
        })
        .await
    }

    async fn conversation_page(
        &self,
        owner: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> Result<Page<StoredConversation>, StoreError> {
        let owner = owner.clone();
        // Past the cursor in (last activity, id) order, newest first; without one, from the top.
        let (at, key) = match from {
            Some(cursor) => (cursor.last_activity_at, cursor.conversation.key()),
            None => (i64::MAX, String::new()),
        };
        let strict = from.is_some();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_CONVERSATION} WHERE owner = ?1 AND kind = ?2
                       AND (?3 = 0 OR (last_activity_ms, id) < (?4, ?5))
                     ORDER BY last_activity_ms DESC, id DESC LIMIT ?6"
                ))
                .map_err(internal)?;
            let rows = statement
                .query_map(
                    params![
                        owner.as_str(),
                        kind.as_str(),
                        strict,
                        at,
                        key,
                        one_more(limit)
                    ],
                    read_conversation,
                )
                .map_err(internal)?;
            let items = rows
                .map(|row| row.map_err(internal)?)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_one_more(items, limit, false))
        })
        .await
    }

    async fn message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> Result<Page<StoredMessage>, StoreError> {
        self.message_range(conversation, window, limit, false).await
    }
}

impl SqliteStore {
    /// A page of the conversation's messages (with the agents' notes if `with_notes`),
    /// oldest first: one query, notes filtered out in it.
    pub(crate) async fn message_range(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
        with_notes: bool,
    ) -> Result<Page<StoredMessage>, StoreError> {
        let key = conversation.key();
        let (condition, order, from) = match window {
            MessageWindow::Latest => ("", "DESC", None),
            MessageWindow::After(id) => ("AND id > ?2", "ASC", Some(id.as_str().to_string())),
            MessageWindow::Before(id) => ("AND id < ?2", "DESC", Some(id.as_str().to_string())),
        };
        let notes = if with_notes { "" } else { "AND internal = 0" };
        let newest_first = order == "DESC";
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_MESSAGE} WHERE conversation_id = ?1 {condition} {notes}
                     ORDER BY id {order} LIMIT ?3"
                ))
                .map_err(internal)?;
            let rows = statement
                .query_map(
                    params![key, from.unwrap_or_default(), one_more(limit)],
                    read_message,
                )
                .map_err(internal)?;
            let items = rows
                .map(|row| row.map_err(internal)?)
                .collect::<Result<Vec<_>, _>>()?;
            let mut page = Page::from_one_more(items, limit, false);
            if newest_first {
                page.items.reverse();
            }
            Ok(page)
        })
        .await
    }
}

impl ConversationAdmin for SqliteStore {
    async fn conversations_of(&self, user: &UserId) -> Result<Vec<StoredConversation>, StoreError> {
        let user = user.clone();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_CONVERSATION} WHERE owner = ?1 ORDER BY created_at_ms DESC, id DESC"
                ))
                .map_err(internal)?;
            let rows = statement
                .query_map([user.as_str()], read_conversation)
                .map_err(internal)?;
            rows.map(|row| row.map_err(internal)?).collect()
        })
        .await
    }

    async fn messages(&self, id: &ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        let key = id.key();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "{SELECT_MESSAGE} WHERE conversation_id = ?1 AND internal = 0 ORDER BY id"
                ))
                .map_err(internal)?;
            let rows = statement
                .query_map([&key], read_message)
                .map_err(internal)?;
            rows.map(|row| row.map_err(internal)?).collect()
        })
        .await
    }

    async fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>, StoreError> {
        self.stored_profile(user).await
    }
}
