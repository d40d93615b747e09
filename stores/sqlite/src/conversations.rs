//! Conversations (chats and tickets) and their messages, written together in
//! transactions. Reading them is `conversation_reads.rs`.

use crate::rate_limits::{count_account, count_message};
use crate::receipts::insert_receipt;
use crate::uploads::claim_uploads;
use crate::users::refresh_owner;
use crate::{SqliteStore, internal};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use supportzen_shared::domain::{Author, ConversationId, NewMessage, Reader, Status, UserId};
use supportzen_shared::idempotency::NewReceipt;
use supportzen_shared::store::{
    ConversationCreator, MessageAppender, MessagePreview, NewConversation, StoreError, committed,
};

pub(crate) fn insert_message(
    tx: &rusqlite::Transaction<'_>,
    conversation: &str,
    message: &NewMessage,
) -> Result<(), StoreError> {
    claim_uploads(tx, message)?;
    tx.execute(
        "INSERT INTO messages (conversation_id, id, author, body, image_url, client_message_id,
             sent_at_ms, agent_id, agent_name, internal, attachments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            conversation,
            message.id.as_str(),
            message.author.as_str(),
            message.text.as_str(),
            message.image_url.as_ref().map(|u| u.as_str()),
            message.client_message_id.as_ref().map(|c| c.as_str()),
            message.sent_at,
            message.agent.as_ref().map(|a| a.id.as_str()),
            message.agent.as_ref().map(|a| a.name.as_str()),
            message.internal,
            crate::uploads::encode_attachments(&message.attachments)
        ],
    )
    .map_err(internal)?;
    // The side's counter, in the same transaction (read marks; notes count for nobody).
    let counter = match (message.author, message.internal) {
        (_, true) => None,
        (Author::Customer, false) => Some("customer_messages"),
        (Author::Agent, false) => Some("agent_replies"),
        (Author::System, false) => None,
    };
    if let Some(counter) = counter {
        tx.execute(
            &format!("UPDATE conversations SET {counter} = {counter} + 1 WHERE id = ?1"),
            [conversation],
        )
        .map_err(internal)?;
    }
    Ok(())
}

/// Makes `message` the conversation's newest activity and preview, unless a newer
/// message got there first; each right-hand side sees the row as it was before.
pub(crate) fn record_activity(
    tx: &rusqlite::Transaction<'_>,
    conversation: &str,
    message: &NewMessage,
) -> Result<(), StoreError> {
    let preview = MessagePreview::of(message);
    tx.execute(
        "UPDATE conversations SET
             last_message_id = CASE WHEN ?2 >= last_activity_ms THEN ?3 ELSE last_message_id END,
             last_message_author = CASE WHEN ?2 >= last_activity_ms THEN ?4 ELSE last_message_author END,
             last_message_preview = CASE WHEN ?2 >= last_activity_ms THEN ?5 ELSE last_message_preview END,
             last_activity_ms = MAX(last_activity_ms, ?2)
         WHERE id = ?1",
        params![
            conversation,
            message.sent_at,
            preview.id.as_str(),
            preview.author.as_str(),
            preview.text
        ],
    )
    .map_err(internal)?;
    Ok(())
}

impl ConversationCreator for SqliteStore {
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        let (new, limit, accounts) = (new.clone(), self.message_limit, self.account_limit);
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            // First, as DynamoDB reports it first: a retry that lost the race is answered
            // from the winner's receipt whatever else changed.
            if let Some(receipt) = &new.receipt {
                insert_receipt(&tx, receipt)?;
            }
            refresh_owner(&tx, &new)?;
            if let Some(earlier) = &new.follow_up_of {
                let theirs: bool = tx
                    .query_row(
                        "SELECT count(*) = 1 FROM conversations WHERE id = ?1 AND owner = ?2",
                        params![earlier.key(), new.owner.user().as_str()],
                        |row| row.get(0),
                    )
                    .map_err(internal)?;
                if !theirs {
                    return Err(StoreError::NotFound);
                }
            }
            let key = new.id.key();
            let preview = MessagePreview::of(&new.first_message);
            tx.execute(
                "INSERT INTO conversations (id, kind, owner, status, created_at_ms, last_activity_ms,
                     last_message_id, last_message_author, last_message_preview, follow_up_of)
                 VALUES (?1, ?2, ?3, 'open', ?4, ?4, ?5, ?6, ?7, ?8)",
                params![
                    key,
                    new.id.kind(),
                    new.owner.user().as_str(),
                    new.first_message.sent_at,
                    preview.id.as_str(),
                    preview.author.as_str(),
                    preview.text,
                    new.follow_up_of.as_ref().map(|c| c.key())
                ],
            )
            .map_err(internal)?;
            insert_message(&tx, &key, &new.first_message)?;
            // Last, as DynamoDB reports it: a request that fails anyway is told so.
            count_account(&tx, accounts, &new)?;
            count_message(&tx, limit, new.owner.user(), new.first_message.sent_at)?;
            if let Some(due_at) = new.notice_at {
                crate::due_work::set_notice(&tx, Reader::Agents, &key, due_at)?;
            }
            journal.write(&tx, || {
                committed::message_added(&new.id, new.owner.user(), &new.first_message)
            })?;
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
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let (conversation, owner, message, receipt) = (
            conversation.clone(),
            owner.clone(),
            message.clone(),
            receipt.cloned(),
        );
        let (key, kind) = (conversation.key(), conversation.kind());
        let limit = self.message_limit;
        self.write(move |conn, journal| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            if let Some(receipt) = &receipt {
                insert_receipt(&tx, receipt)?;
            }
            let found: Option<(String, String)> = tx
                .query_row(
                    "SELECT owner, status FROM conversations WHERE id = ?1 AND kind = ?2",
                    params![key, kind],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(internal)?;
            match found {
                Some((stored_owner, _)) if stored_owner != owner.as_str() => {
                    return Err(StoreError::NotFound);
                }
                None => return Err(StoreError::NotFound),
                Some((_, status)) if status == Status::Closed.as_str() => {
                    return Err(StoreError::Closed);
                }
                Some(_) => {}
            }
            insert_message(&tx, &key, &message)?;
            // A customer's message reopens a pending or solved conversation.
            tx.execute(
                "UPDATE conversations SET status = 'open', snoozed_until_ms = NULL WHERE id = ?1",
                [&key],
            )
            .map_err(internal)?;
            record_activity(&tx, &key, &message)?;
            count_message(&tx, limit, &owner, message.sent_at)?;
            if let Some(due_at) = notice_at {
                crate::due_work::set_notice(&tx, Reader::Agents, &key, due_at)?;
            }
            journal.write(&tx, || {
                committed::message_added(&conversation, &owner, &message)
            })?;
            tx.commit().map_err(internal)
        })
        .await
    }
}
