//! Users: who authenticates how (secret with rotation, or a pin), and their profile.

use crate::receipts::find_receipt;
use crate::{SqliteStore, internal, is_constraint_violation};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::time::Duration;
use supportzen_shared::auth::{Caller, Credential, Secret, TokenDigest, UserRecord};
use supportzen_shared::domain::{UserId, now_millis};
use supportzen_shared::idempotency::{Receipt, ReceiptKey};
use supportzen_shared::store::{
    NewConversation, SecretChange, StoreError, StoredProfile, UserProvisioner, UserReader,
};

pub(crate) fn find_user(conn: &Connection, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    let row = conn
        .query_row(
            "SELECT secret, previous_secret, previous_until_ms, pinned_token_sha256
                     FROM users WHERE id = ?1",
            [id.as_str()],
            |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                    row.get::<_, Option<Vec<u8>>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(internal)?;
    let Some((secret, previous, previous_until, pin)) = row else {
        return Ok(None);
    };
    let pin = pin
        .map(|bytes| {
            TokenDigest::from_stored(&bytes)
                .ok_or_else(|| StoreError::Internal("stored pin is not 32 bytes".into()))
        })
        .transpose()?;
    let credential = Credential::from_stored(secret, previous.zip(previous_until), pin)
        .map_err(StoreError::Internal)?;
    Ok(Some(UserRecord { id, credential }))
}

impl UserReader for SqliteStore {
    async fn find_user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let id = id.clone();
        self.with_conn(move |conn| find_user(conn, id)).await
    }

    async fn find_user_and_receipt(
        &self,
        id: &UserId,
        receipt: &ReceiptKey,
    ) -> Result<(Option<UserRecord>, Option<Receipt>), StoreError> {
        let (id, receipt) = (id.clone(), receipt.clone());
        self.with_conn(move |conn| Ok((find_user(conn, id)?, find_receipt(conn, &receipt)?)))
            .await
    }
}

/// The user half of a create: insert a new (pinned) user, failing with
/// [`StoreError::UserExists`] if someone else did meanwhile, or refresh a known user's profile.
pub(crate) fn refresh_owner(tx: &Transaction<'_>, new: &NewConversation) -> Result<(), StoreError> {
    let now = new.first_message.sent_at;
    let profile = &new.profile;
    let name = profile.name.as_ref().map(|n| n.as_str());
    let created = profile.account_created_at.get();
    match &new.owner {
        Caller::New { user, pin } => {
            tx.execute(
                "INSERT INTO users (id, pinned_token_sha256, name, plan_id, account_created_at, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![user.as_str(), &pin.as_bytes()[..], name, profile.plan_id, created, now],
            )
            .map_err(|e| if is_constraint_violation(&e) { StoreError::UserExists } else { internal(e) })?;
        }
        Caller::Known(user) => {
            let updated = tx
                .execute(
                    "UPDATE users SET name = COALESCE(?2, name), plan_id = COALESCE(?3, plan_id),
                         account_created_at = ?4, updated_at_ms = ?5
                     WHERE id = ?1",
                    params![user.as_str(), name, profile.plan_id, created, now],
                )
                .map_err(internal)?;
            if updated != 1 {
                return Err(StoreError::Internal("authenticated user vanished".into()));
            }
        }
    }
    Ok(())
}

impl SqliteStore {
    /// The profile a user's last create request described.
    pub(crate) async fn stored_profile(
        &self,
        user: &UserId,
    ) -> Result<Option<StoredProfile>, StoreError> {
        let user = user.clone();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT name, plan_id, account_created_at FROM users WHERE id = ?1",
                [user.as_str()],
                |row| {
                    Ok(StoredProfile {
                        name: row.get(0)?,
                        plan_id: row.get(1)?,
                        account_created_at: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(internal)
        })
        .await
    }
}

impl UserProvisioner for SqliteStore {
    async fn put_secret(
        &self,
        user: &UserId,
        secret: &Secret,
        grace: Duration,
    ) -> Result<SecretChange, StoreError> {
        let (user, secret) = (user.clone(), secret.clone());
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(internal)?;
            let old: Option<String> = tx
                .query_row(
                    "SELECT secret FROM users WHERE id = ?1",
                    [user.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(internal)?
                .flatten();
            // Every right-hand side sees the row as it was before this update.
            tx.execute(
                "INSERT INTO users (id, secret, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (id) DO UPDATE SET
                     previous_secret = CASE
                         WHEN users.secret IS excluded.secret THEN users.previous_secret
                         WHEN ?4 > 0 THEN users.secret
                         ELSE NULL END,
                     previous_until_ms = CASE
                         WHEN users.secret IS excluded.secret THEN users.previous_until_ms
                         WHEN ?4 > 0 AND users.secret IS NOT NULL THEN ?3 + ?4
                         ELSE NULL END,
                     secret = excluded.secret,
                     pinned_token_sha256 = NULL,
                     updated_at_ms = excluded.updated_at_ms",
                params![user.as_str(), secret.expose(), now_millis(), grace_ms],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(match old {
                None => SecretChange::First,
                Some(old) if old == secret.expose() => SecretChange::Unchanged,
                Some(_) => SecretChange::Replaced,
            })
        })
        .await
    }
}
