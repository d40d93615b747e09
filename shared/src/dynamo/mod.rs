//! The production store: one DynamoDB table, single-table design (see
//! `docs/data-model.md` and [`items`]).
//!
//! Every write that depends on state is conditional and every multi-item write is one
//! `TransactWriteItems`, so concurrent Lambdas never read-then-write:
//! - create: user (put if absent, or update if present) + conversation + first message;
//! - append: update the conversation *on condition* that it exists, is the caller's and is
//!   open, + put the message;
//! - ticket numbers: `UpdateItem ADD` on one counter item.
//!
//! A request with an idempotency key adds its receipt to the same transaction (put on
//! condition that no live receipt has the key), and reads the receipt with the user in
//! one `BatchGetItem` instead of the `GetItem`.
//!
//! Round trips per request: live-create 2, live-chat 2, ticket-create 3, ticket-append 2
//! (one read for authentication, plus the above), with or without an idempotency key.

pub mod client;
pub mod errors;
pub mod items;
pub mod schema;

use crate::auth::{Caller, Credential, Secret, TokenDigest};
use crate::domain::{ConversationId, NewMessage, UserId, now_millis};
use crate::store::{
    ConversationAdmin, ConversationCreator, MessageAppender, NewConversation, NewReceipt, Receipt,
    ReceiptKey, StoreError, StoredConversation, StoredMessage, StoredProfile, TicketNumbers,
    UserProvisioner, UserReader, UserRecord,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use errors::{cancelled_for_retryable_reason, classify, condition_failed, unavailable};
use items::{
    ConversationItem, Item, MessageItem, ReceiptItem, UserItem, from_item, key, n, s, to_item,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Attempts at a transaction that collides with another on the same item (e.g. many
/// messages to one chat at once) before the client is told to retry.
const TRANSACTION_ATTEMPTS: u32 = 8;

/// A DynamoDB-backed store. Cloning is cheap: the SDK client is shared.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// A Lambda function's store: the client from Lambda's environment
    /// ([`client::lambda_config`]) and the table named by `TABLE_NAME`.
    pub fn from_lambda_env() -> Result<Self, String> {
        let lookup = |name: &str| std::env::var(name).ok();
        let table = lookup("TABLE_NAME").ok_or_else(|| "TABLE_NAME is not set".to_string())?;
        let config = client::lambda_config(lookup)?.build();
        Ok(Self::new(Client::from_conf(config), table))
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A strongly consistent read of one item, or of the attributes in `projection`.
    async fn get(
        &self,
        key: Item,
        projection: Option<&str>,
        operation: &str,
    ) -> Result<Option<Item>, StoreError> {
        self.client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .set_projection_expression(projection.map(str::to_string))
            .send()
            .await
            .map(|output| output.item)
            .map_err(|e| classify(operation, e))
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        self.put_if(item, condition, None)
    }

    fn put_if(
        &self,
        item: Item,
        condition: &str,
        condition_values: Option<HashMap<String, AttributeValue>>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(condition_values)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The receipt's put: only if no receipt has the key, or the one that has it expired.
    fn put_receipt(&self, new: &NewReceipt) -> Result<TransactWriteItem, StoreError> {
        self.put_if(
            to_item(&ReceiptItem::new(new))?,
            "attribute_not_exists(pk) OR expires_at <= :now",
            Some(values(vec![(":now", n(new.written_at))])),
        )
    }

    /// Runs a transaction, retrying with jittered backoff while it only collides with
    /// other transactions. Returns the cancellation reasons if a condition failed.
    async fn transact(
        &self,
        operation: &str,
        actions: Vec<TransactWriteItem>,
    ) -> Result<(), Cancelled> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                err.as_service_error()
            {
                let reasons = cancelled.cancellation_reasons();
                if !cancelled_for_retryable_reason(reasons) {
                    return Err(Cancelled::Reasons(reasons.to_vec()));
                }
                if attempt < TRANSACTION_ATTEMPTS {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                return Err(Cancelled::Store(unavailable(format!(
                    "{operation}: still conflicting after {attempt} attempts"
                ))));
            }
            return Err(Cancelled::Store(classify(operation, err)));
        }
    }
}

/// Why a transaction did not commit.
enum Cancelled {
    /// A condition failed: one reason per action, in order.
    Reasons(Vec<CancellationReason>),
    Store(StoreError),
}

/// Full-jitter backoff: a random wait below a ceiling that doubles from 10 ms to 200 ms.
/// The randomness is the random bits of a UUIDv7 (no extra dependency for a number).
fn backoff(attempt: u32) -> Duration {
    let ceiling = (5u64 << attempt.min(6)).min(200);
    let random = uuid::Uuid::now_v7().as_u128() as u64;
    Duration::from_millis(1 + random % ceiling)
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The user attributes authentication reads.
const USER_ATTRIBUTES: &str = "secret, previous_secret, previous_until, pin";

/// A user item (or its [`USER_ATTRIBUTES`]) as authentication needs it.
fn user_record(id: &UserId, item: &Item) -> Result<UserRecord, StoreError> {
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
            key(items::user_pk(id), items::PROFILE),
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
        let user_pk = items::user_pk(id);
        let mut pending = KeysAndAttributes::builder()
            .keys(key(user_pk.clone(), items::PROFILE))
            .keys(key(items::receipt_pk(receipt), receipt.key.as_str()))
            .consistent_read(true)
            .projection_expression(format!("{USER_ATTRIBUTES}, {}", items::RECEIPT_ATTRIBUTES))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut found = Vec::new();
        // Keys come back unprocessed only when DynamoDB is throttling; ask again for those.
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let mut output = self
                .client
                .batch_get_item()
                .request_items(&*self.table, pending)
                .send()
                .await
                .map_err(|e| classify("BatchGetItem user and receipt", e))?;
            found.extend(
                output
                    .responses
                    .as_mut()
                    .and_then(|tables| tables.remove(&*self.table))
                    .unwrap_or_default(),
            );
            match output
                .unprocessed_keys
                .as_mut()
                .and_then(|tables| tables.remove(&*self.table))
            {
                Some(rest) if !rest.keys().is_empty() && attempt < TRANSACTION_ATTEMPTS => {
                    pending = rest;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Some(rest) if !rest.keys().is_empty() => {
                    return Err(unavailable(format!(
                        "BatchGetItem user and receipt: keys unprocessed after {attempt} attempts"
                    )));
                }
                _ => break,
            }
        }
        let (mut user, mut stored_receipt) = (None, None);
        for item in found {
            if matches!(item.get("pk"), Some(AttributeValue::S(pk)) if *pk == user_pk) {
                user = Some(user_record(id, &item)?);
            } else {
                stored_receipt = Some(from_item::<ReceiptItem>(item)?.into_receipt()?);
            }
        }
        Ok((user, stored_receipt))
    }
}

impl DynamoStore {
    /// The transaction a create sends: the owner (put if new, profile update if known),
    /// the conversation and its first message, each conditional. Built without I/O.
    pub fn create_actions(
        &self,
        new: &NewConversation,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let now = new.first_message.sent_at;
        let mut actions = vec![
            self.owner_action(new, now)?,
            self.put(
                to_item(&ConversationItem::new(&new.id, new.owner.user(), now))?,
                "attribute_not_exists(pk)",
            )?,
            self.put(
                to_item(&MessageItem::new(&new.id, &new.first_message))?,
                "attribute_not_exists(pk)",
            )?,
        ];
        if let Some(receipt) = &new.receipt {
            actions.push(self.put_receipt(receipt)?);
        }
        Ok(actions)
    }

    /// The transaction an append sends: touch the conversation on condition that it is
    /// the owner's, of the right kind and open; put the message (and the receipt). Built
    /// without I/O.
    pub fn append_actions(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        receipt: Option<&NewReceipt>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let touch = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(key(items::conversation_pk(conversation), items::META)))
            .update_expression("SET last_activity_at = :now, gsi2sk = :activity")
            .condition_expression(
                "attribute_exists(pk) AND #owner = :owner AND #kind = :kind AND #open = :open",
            )
            .set_expression_attribute_names(Some(names(&[
                ("#owner", "owner"),
                ("#kind", "kind"),
                ("#open", "open"),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":now", n(message.sent_at)),
                (
                    ":activity",
                    s(items::activity_key(message.sent_at, conversation)),
                ),
                (":owner", s(owner.as_str())),
                (":kind", s(conversation.kind())),
                (":open", AttributeValue::Bool(true)),
            ])))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut actions = vec![
            TransactWriteItem::builder().update(touch).build(),
            self.put(
                to_item(&MessageItem::new(conversation, message))?,
                "attribute_not_exists(pk)",
            )?,
        ];
        if let Some(receipt) = receipt {
            actions.push(self.put_receipt(receipt)?);
        }
        Ok(actions)
    }

    /// The user half of a create: put a new (pinned) user if nobody has, or refresh a
    /// known user's profile if they still exist.
    fn owner_action(
        &self,
        new: &NewConversation,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let profile = &new.profile;
        let name = profile.name.as_ref().map(|n| n.as_str().to_string());
        match &new.owner {
            Caller::New { user, pin } => self.put(
                to_item(&UserItem {
                    pk: items::user_pk(user),
                    sk: items::PROFILE.to_string(),
                    secret: None,
                    pin: Some(hex::encode(pin.as_bytes())),
                    name,
                    plan_id: profile.plan_id,
                    account_created_at: Some(profile.account_created_at.get()),
                    created_at: now,
                    updated_at: now,
                })?,
                "attribute_not_exists(pk)",
            ),
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
                    .set_key(Some(key(items::user_pk(user), items::PROFILE)))
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
}

/// Where the receipt's put is in [`DynamoStore::create_actions`]'s transaction.
const CREATE_RECEIPT: usize = 3;
/// Where the receipt's put is in [`DynamoStore::append_actions`]'s transaction.
const APPEND_RECEIPT: usize = 2;

impl ConversationCreator for DynamoStore {
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        let actions = self.create_actions(new)?;
        match self.transact("TransactWriteItems create", actions).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Store(err)) => Err(err),
            Err(Cancelled::Reasons(reasons)) => Err(match &new.owner {
                _ if condition_failed(reasons.get(CREATE_RECEIPT)) => StoreError::ReceiptExists,
                Caller::New { .. } if condition_failed(reasons.first()) => StoreError::UserExists,
                Caller::Known(_) if condition_failed(reasons.first()) => {
                    StoreError::Internal("authenticated user vanished".into())
                }
                _ if condition_failed(reasons.get(1)) => {
                    StoreError::Internal(format!("conversation {} already exists", new.id.key()))
                }
                _ => StoreError::Internal(format!("create cancelled: {reasons:?}")),
            }),
        }
    }
}

impl MessageAppender for DynamoStore {
    async fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        let actions = self.append_actions(conversation, owner, message, receipt)?;
        match self.transact("TransactWriteItems append", actions).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Store(err)) => Err(err),
            Err(Cancelled::Reasons(reasons)) if condition_failed(reasons.get(APPEND_RECEIPT)) => {
                Err(StoreError::ReceiptExists)
            }
            Err(Cancelled::Reasons(reasons)) if condition_failed(reasons.first()) => {
                // Tell "closed" apart from "missing or not yours" with the item as it was;
                // only its owner learns that it is closed.
                let old = reasons.first().and_then(|r| r.item());
                let is = |name: &str, value: &AttributeValue| {
                    old.and_then(|item| item.get(name)) == Some(value)
                };
                let theirs = is("owner", &s(owner.as_str())) && is("kind", &s(conversation.kind()));
                Err(if theirs && is("open", &AttributeValue::Bool(false)) {
                    StoreError::Closed
                } else {
                    StoreError::NotFound
                })
            }
            Err(Cancelled::Reasons(reasons)) => Err(StoreError::Internal(format!(
                "append cancelled: {reasons:?}"
            ))),
        }
    }
}

impl TicketNumbers for DynamoStore {
    async fn next_ticket_number(&self) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(items::counter_pk("ticket"), "COUNTER")))
            .update_expression("ADD #value :one")
            .expression_attribute_names("#value", "value")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem ticket counter", e))?;
        match output.attributes.as_ref().and_then(|a| a.get("value")) {
            Some(AttributeValue::N(value)) => value
                .parse()
                .map_err(|_| StoreError::Internal(format!("ticket counter is {value:?}"))),
            other => Err(StoreError::Internal(format!(
                "ticket counter returned {other:?}"
            ))),
        }
    }
}

impl UserProvisioner for DynamoStore {
    async fn put_secret(
        &self,
        user: &UserId,
        secret: &Secret,
        grace: Duration,
    ) -> Result<(), StoreError> {
        let user_key = key(items::user_pk(user), items::PROFILE);
        // Read the current secret, then write on condition that it is still the same: a
        // concurrent rotation makes the write fail and this one start over.
        for _ in 0..TRANSACTION_ATTEMPTS {
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
            let result = self
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
                .set_expression_attribute_values(Some(values(vals)))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    continue;
                }
                Err(err) => return Err(classify("UpdateItem user secret", err)),
            }
        }
        Err(unavailable(
            "UpdateItem user secret: the secret kept changing".into(),
        ))
    }
}

impl ConversationAdmin for DynamoStore {
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        self.get(
            key(items::conversation_pk(id), items::META),
            None,
            "GetItem conversation",
        )
        .await?
        .map(|item| from_item::<ConversationItem>(item)?.into_stored())
        .transpose()
    }

    async fn messages(&self, id: &ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        let pages = self
            .client
            .query()
            .table_name(&*self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(items::conversation_pk(id)))
            .expression_attribute_values(":prefix", s(items::MESSAGE_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("Query messages", e))?;
        pages
            .into_iter()
            .map(|item| from_item::<MessageItem>(item)?.into_stored())
            .collect()
    }

    async fn conversations_of(&self, user: &UserId) -> Result<Vec<StoredConversation>, StoreError> {
        let index = schema::BY_OWNER;
        let found = self
            .client
            .query()
            .table_name(&*self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :owner")
            .expression_attribute_names("#pk", index.partition_key)
            .expression_attribute_values(":owner", s(items::user_pk(user)))
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("Query by-owner", e))?;
        found
            .into_iter()
            .map(|item| from_item::<ConversationItem>(item)?.into_stored())
            .collect()
    }

    async fn close(&self, id: &ConversationId) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(items::conversation_pk(id), items::META)))
            .update_expression("SET #open = :closed REMOVE gsi2pk, gsi2sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#open", "open")
            .expression_attribute_values(":closed", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(classify("UpdateItem close", err)),
        }
    }

    async fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>, StoreError> {
        self.get(
            key(items::user_pk(user), items::PROFILE),
            None,
            "GetItem profile",
        )
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
