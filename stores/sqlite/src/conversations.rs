//! Conversations (chats and tickets) and their messages.

use crate::receipts::insert_receipt;
use crate::users::refresh_owner;
use crate::{SqliteStore, internal};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use supportzen_shared::domain::{Author, ConversationId, MessageId, NewMessage, UserId};
use supportzen_shared::idempotency::NewReceipt;
use supportzen_shared::store::{
    ConversationAdmin, ConversationCreator, MessageAppender, NewConversation, StoreError,
    StoredConversation, StoredMessage, StoredProfile,
};

const SELECT_CONVERSATION: &str =
    "SELECT id, kind, owner, open, created_at_ms, last_activity_ms FROM conversations";

/// Reads a row of [`SELECT_CONVERSATION`]; the outer error is SQLite's, the inner one ours.
fn read_conversation(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<StoredConversation, StoreError>> {
    let (id, kind, owner): (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
    let (open, created_at, last_activity_at) = (row.get(3)?, row.get(4)?, row.get(5)?);
    Ok(ConversationId::from_stored(&kind, &id)
        .map_err(StoreError::Internal)
        .map(|id| StoredConversation {
            id,
            owner: UserId::from_stored(owner),
            open,
            created_at,
            last_activity_at,
        }))
}

fn insert_message(
    tx: &rusqlite::Transaction<'_>,
    conversation: &str,
    message: &NewMessage,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO messages (conversation_id, id, author, body, image_url, sent_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            conversation,
            message.id.as_str(),
            message.author.as_str(),
            message.text.as_str(),
            message.image_url.as_ref().map(|u| u.as_str()),
            message.sent_at
        ],
    )
    .map_err(internal)?;
    Ok(())
}

impl ConversationCreator for SqliteStore {
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        let new = new.clone();
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            // First, as DynamoDB reports it first: a retry that lost the race is answered
            // from the winner's receipt whatever else changed.
            if let Some(receipt) = &new.receipt {
                insert_receipt(&tx, receipt)?;
            }
            refresh_owner(&tx, &new)?;
            let key = new.id.key();
            tx.execute(
                "INSERT INTO conversations (id, kind, owner, open, created_at_ms, last_activity_ms)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![
                    key,
                    new.id.kind(),
                    new.owner.user().as_str(),
                    new.first_message.sent_at
                ],
            )
            .map_err(internal)?;
            insert_message(&tx, &key, &new.first_message)?;
            tx.commit().map_err(internal)
        })
        .await
    }
}

impl MessageAppender for SqliteStore {
    async fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let (key, kind, owner, message, receipt) = (
            conversation.key(),
            conversation.kind(),
            owner.clone(),
            message.clone(),
            receipt.cloned(),
        );
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(internal)?;
            if let Some(receipt) = &receipt {
                insert_receipt(&tx, receipt)?;
            }
            let found: Option<(String, bool)> = tx
                .query_row(
                    "SELECT owner, open FROM conversations WHERE id = ?1 AND kind = ?2",
                    params![key, kind],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(internal)?;
            match found {
                Some((stored_owner, _)) if stored_owner != owner.as_str() => return Err(StoreError::NotFound),
                None => return Err(StoreError::NotFound),
                Some((_, false)) => return Err(StoreError::Closed),
                Some((_, true)) => {}
            }
            insert_message(&tx, &key, &message)?;
            tx.execute(
                "UPDATE conversations SET last_activity_ms = MAX(last_activity_ms, ?2) WHERE id = ?1",
                params![key, message.sent_at],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }
}

impl ConversationAdmin for SqliteStore {
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let key = id.key();
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("{SELECT_CONVERSATION} WHERE id = ?1"),
                [&key],
                read_conversation,
            )
            .optional()
            .map_err(internal)?
            .transpose()
        })
        .await
    }

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
                .prepare(
                    "SELECT id, author, body, image_url, sent_at_ms FROM messages
                     WHERE conversation_id = ?1 ORDER BY id",
                )
                .map_err(internal)?;
            let rows = statement
                .query_map([&key], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .map_err(internal)?;
            rows.map(|row| {
                let (id, author, text, image_url, sent_at) = row.map_err(internal)?;
                Ok(StoredMessage {
                    id: MessageId::parse(&id).map_err(StoreError::Internal)?,
                    author: Author::from_stored(Some(&author)).map_err(StoreError::Internal)?,
                    text,
                    image_url,
                    sent_at,
                })
            })
            .collect()
        })
        .await
    }

    async fn close(&self, id: &ConversationId) -> Result<bool, StoreError> {
        let key = id.key();
        self.with_conn(move |conn| {
            let changed = conn
                .execute("UPDATE conversations SET open = 0 WHERE id = ?1", [&key])
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>, StoreError> {
        self.stored_profile(user).await
    }
}
