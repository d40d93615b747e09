//! Users: who authenticates how (secret with rotation, or a pin), and their profile.

use super::DynamoStore;
use super::errors::unavailable;
use super::items::{Item, PROFILE, from_item, key, n, receipt_pk, s, to_item, user_pk};
use super::receipts::{RECEIPT_ATTRIBUTES, ReceiptItem};
use super::table::{ATTEMPTS, values};
use crate::auth::{Caller, Credential, Secret, TokenDigest, UserRecord};
use crate::domain::{UserId, now_millis};
use crate::idempotency::{Receipt, ReceiptKey};
use crate::store::{
    NewConversation, SecretChange, StoreError, StoredProfile, UserProvisioner, UserReader,
};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// A user created by trust-on-first-use. Provisioned users get `secret` by update.
#[derive(Serialize, Deserialize, Debug)]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Hex SHA-256 of the pinned token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_created_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The user attributes authentication reads.
const USER_ATTRIBUTES: &str = "secret, previous_secret, previous_until, pin";

/// A user item (or its [`USER_ATTRIBUTES`]) as authentication needs it.
pub(super) fn user_record(id: &UserId, item: &Item) -> Result<UserRecord, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let previous_until = match item.get("previous_until") {
        Some(AttributeValue::N(value)) => value.parse::<i64>().ok(),
        _ => None,
    };
    let pin = text("pin")
        .map(|pin| {
            hex::decode(pin)
                .ok()
                .and_then(|bytes| TokenDigest::from_stored(&bytes))
                .ok_or_else(|| StoreError::Internal("stored pin is not 32 bytes of hex".into()))
        })
        .transpose()?;
    let credential = Credential::from_stored(
        text("secret"),
        text("previous_secret").zip(previous_until),
        pin,
    )
    .map_err(StoreError::Internal)?;
    Ok(UserRecord {
        id: id.clone(),
        credential,
    })
}

impl UserReader for DynamoStore {
    async fn find_user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.get(
            key(user_pk(id), PROFILE),
            Some(USER_ATTRIBUTES),
            "GetItem user",
        )
        .await?
        .map(|item| user_record(id, &item))
        .transpose()
    }

    async fn find_user_and_receipt(
        &self,
        id: &UserId,
        receipt: &ReceiptKey,
    ) -> Result<(Option<UserRecord>, Option<Receipt>), StoreError> {
        let user_partition = user_pk(id);
        let found = self
            .batch_get(
                vec![
                    key(user_partition.clone(), PROFILE),
                    key(receipt_pk(receipt), receipt.key.as_str()),
                ],
                Some(format!("{USER_ATTRIBUTES}, {RECEIPT_ATTRIBUTES}")),
                "BatchGetItem user and receipt",
            )
            .await?;
        let (mut user, mut stored_receipt) = (None, None);
        for item in found {
            if matches!(item.get("pk"), Some(AttributeValue::S(pk)) if *pk == user_partition) {
                user = Some(user_record(id, &item)?);
            } else {
                stored_receipt = Some(ReceiptItem::decode(item)?);
            }
        }
        Ok((user, stored_receipt))
    }
}

impl DynamoStore {
    /// The user half of a create: put a new (pinned) user if nobody has, or refresh a
    /// known user's profile if they still exist.
    pub(super) fn owner_action(
        &self,
        new: &NewConversation,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let profile = &new.profile;
        let name = profile.name.as_ref().map(|n| n.as_str().to_string());
        match &new.owner {
            Caller::New { user, pin } => self.put_new(to_item(&UserItem {
                pk: user_pk(user),
                sk: PROFILE.to_string(),
                secret: None,
                pin: Some(hex::encode(pin.as_bytes())),
                name,
                plan_id: profile.plan_id,
                account_created_at: Some(profile.account_created_at.get()),
                created_at: now,
                updated_at: now,
            })?),
            Caller::Known(user) => {
                let mut set = vec!["account_created_at = :created", "updated_at = :now"];
                let mut vals = vec![
                    (":created", n(profile.account_created_at.get())),
                    (":now", n(now)),
                ];
                let mut attribute_names = HashMap::new();
                if let Some(name) = name {
                    set.push("#name = :name");
                    vals.push((":name", s(name)));
                    attribute_names.insert("#name".to_string(), "name".to_string());
                }
                if let Some(plan_id) = profile.plan_id {
                    set.push("plan_id = :plan");
                    vals.push((":plan", n(plan_id)));
                }
                let update = Update::builder()
                    .table_name(&*self.table)
                    .set_key(Some(key(user_pk(user), PROFILE)))
                    .update_expression(format!("SET {}", set.join(", ")))
                    .condition_expression("attribute_exists(pk)")
                    .set_expression_attribute_names(
                        (!attribute_names.is_empty()).then_some(attribute_names),
                    )
                    .set_expression_attribute_values(Some(values(vals)))
                    .build()
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                Ok(TransactWriteItem::builder().update(update).build())
            }
        }
    }

    /// The profile a user's last create request described.
    pub(super) async fn stored_profile(
        &self,
        user: &UserId,
    ) -> Result<Option<StoredProfile>, StoreError> {
        self.get(key(user_pk(user), PROFILE), None, "GetItem profile")
            .await?
            .map(|item| {
                let user: UserItem = from_item(item)?;
                Ok(StoredProfile {
                    name: user.name,
                    plan_id: user.plan_id,
                    account_created_at: user.account_created_at,
                })
            })
            .transpose()
    }
}

impl UserProvisioner for DynamoStore {
    async fn put_secret(
        &self,
        user: &UserId,
        secret: &Secret,
        grace: Duration,
    ) -> Result<SecretChange, StoreError> {
        let user_key = key(user_pk(user), PROFILE);
        // Read the current secret, then write on condition that it is still the same: a
        // concurrent rotation makes the write fail and this one start over.
        for _ in 0..ATTEMPTS {
            let now = now_millis();
            let old = self
                .get(user_key.clone(), Some("secret"), "GetItem user secret")
                .await?
                .and_then(|item| match item.get("secret") {
                    Some(AttributeValue::S(old)) => Some(old.clone()),
                    _ => None,
                });
            let mut set = vec![
                "secret = :secret",
                "updated_at = :now",
                "created_at = if_not_exists(created_at, :now)",
            ];
            let mut remove = vec!["pin"];
            let mut vals = vec![(":secret", s(secret.expose())), (":now", n(now))];
            match &old {
                // The same secret again: leave any rotation under way as it is.
                Some(old) if old == secret.expose() => {}
                Some(old) if !grace.is_zero() => {
                    set.extend(["previous_secret = :old", "previous_until = :until"]);
                    let until =
                        now.saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
                    vals.extend([(":old", s(old.as_str())), (":until", n(until))]);
                }
                _ => remove.extend(["previous_secret", "previous_until"]),
            }
            let condition = match &old {
                Some(old) => {
                    vals.push((":expected", s(old.as_str())));
                    "secret = :expected"
                }
                None => "attribute_not_exists(secret)",
            };
            let update = self
                .client
                .update_item()
                .table_name(&*self.table)
                .set_key(Some(user_key.clone()))
                .update_expression(format!(
                    "SET {} REMOVE {}",
                    set.join(", "),
                    remove.join(", ")
                ))
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values(vals)));
            if self
                .send_update(update, "UpdateItem user secret")
                .await?
                .is_done()
            {
                return Ok(match old {
                    None => SecretChange::First,
                    Some(old) if old == secret.expose() => SecretChange::Unchanged,
                    Some(_) => SecretChange::Replaced,
                });
            }
        }
        Err(unavailable(
            "UpdateItem user secret: the secret kept changing".into(),
        ))
    }
}
