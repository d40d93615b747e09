//! Idempotency receipts, written in the transaction of the change they answer for.
//! `supportzen_shared::idempotency` decides what they mean; this only persists them.

use crate::internal;
use rusqlite::{Connection, OptionalExtension, params};
use supportzen_shared::idempotency::{BodyDigest, NewReceipt, Receipt, ReceiptKey};
use supportzen_shared::store::StoreError;

/// Expired receipts deleted per write that adds one, so that cleaning up never makes one
/// request slow.
const RECEIPTS_PURGED_PER_WRITE: i64 = 100;

/// Writes the receipt unless a live one has its key ([`StoreError::ReceiptExists`]), and
/// deletes a few expired ones.
pub(crate) fn insert_receipt(
    tx: &rusqlite::Transaction<'_>,
    new: &NewReceipt,
) -> Result<(), StoreError> {
    let written = tx
        .execute(
            "INSERT INTO receipts (user_id, endpoint, key, body_sha256, response_data, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_id, endpoint, key) DO UPDATE SET
                 body_sha256 = excluded.body_sha256,
                 response_data = excluded.response_data,
                 expires_at = excluded.expires_at
             WHERE receipts.expires_at <= ?7",
            params![
                new.key.requester.as_str(),
                new.key.endpoint.name(),
                new.key.key.as_str(),
                &new.receipt.body.as_bytes()[..],
                new.receipt.data,
                new.receipt.expires_at,
                new.written_at
            ],
        )
        .map_err(internal)?;
    if written != 1 {
        return Err(StoreError::ReceiptExists);
    }
    tx.execute(
        "DELETE FROM receipts WHERE (user_id, endpoint, key) IN
             (SELECT user_id, endpoint, key FROM receipts WHERE expires_at <= ?1 LIMIT ?2)",
        params![new.written_at, RECEIPTS_PURGED_PER_WRITE],
    )
    .map_err(internal)?;
    Ok(())
}

pub(crate) fn find_receipt(
    conn: &Connection,
    key: &ReceiptKey,
) -> Result<Option<Receipt>, StoreError> {
    let row = conn
        .query_row(
            "SELECT body_sha256, response_data, expires_at FROM receipts
             WHERE user_id = ?1 AND endpoint = ?2 AND key = ?3",
            params![
                key.requester.as_str(),
                key.endpoint.name(),
                key.key.as_str()
            ],
            |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(internal)?;
    row.map(|(body, data, expires_at)| {
        Ok(Receipt {
            body: BodyDigest::from_stored(&body)
                .ok_or_else(|| StoreError::Internal("stored body digest is not 32 bytes".into()))?,
            data,
            expires_at,
        })
    })
    .transpose()
}
