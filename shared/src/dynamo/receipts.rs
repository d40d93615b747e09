//! Idempotency receipts: stored by a create or append in the same transaction as the
//! change they answer for, read with the user in one `BatchGetItem` (`users.rs`).
//! `crate::idempotency` decides what they mean; this only persists them.

use super::DynamoStore;
use super::items::{from_item, n, receipt_pk, to_item};
use super::table::values;
use crate::idempotency::{BodyDigest, NewReceipt, Receipt};
use crate::store::StoreError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

/// The answer to an idempotent request; `expires_at` is the table's TTL attribute.
#[derive(Serialize, Deserialize, Debug)]
pub struct ReceiptItem {
    pub pk: String,
    pub sk: String,
    pub body_sha256: String,
    /// The success response's `data`, as JSON text.
    pub response_data: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    pub written_at: i64,
}

/// The attributes [`ReceiptItem`] reads, for projections.
pub const RECEIPT_ATTRIBUTES: &str = "pk, sk, body_sha256, response_data, expires_at, written_at";

impl ReceiptItem {
    pub fn new(new: &NewReceipt) -> Self {
        ReceiptItem {
            pk: receipt_pk(&new.key),
            sk: new.key.key.as_str().to_string(),
            body_sha256: hex::encode(new.receipt.body.as_bytes()),
            response_data: new.receipt.data.clone(),
            expires_at: new.receipt.expires_at,
            written_at: new.written_at,
        }
    }

    /// Reads a stored receipt back.
    pub fn decode(item: super::items::Item) -> Result<Receipt, StoreError> {
        let stored: ReceiptItem = from_item(item)?;
        let body = hex::decode(&stored.body_sha256)
            .ok()
            .and_then(|bytes| BodyDigest::from_stored(&bytes))
            .ok_or_else(|| {
                StoreError::Internal("stored body digest is not 32 bytes of hex".into())
            })?;
        Ok(Receipt {
            body,
            data: stored.response_data,
            expires_at: stored.expires_at,
        })
    }
}

impl DynamoStore {
    /// The receipt's put: only if no receipt has the key, or the one that has it expired
    /// (DynamoDB's TTL deletes late).
    pub(super) fn put_receipt(&self, new: &NewReceipt) -> Result<TransactWriteItem, StoreError> {
        self.put(
            to_item(&ReceiptItem::new(new))?,
            "attribute_not_exists(pk) OR expires_at <= :now",
            Some(values(vec![(":now", n(new.written_at))])),
        )
    }
}
