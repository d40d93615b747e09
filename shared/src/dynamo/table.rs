//! Table plumbing every aggregate shares: strongly consistent reads, conditional writes,
//! transactions whose actions are found again by what they write, and queries page by
//! page. Each is described with the SDK's builders and sent by [`wire`](super::wire).

use super::DynamoStore;
use super::errors::{cancelled_for_retryable_reason, unavailable};
use super::items::Item;
use super::wire::Written;
use crate::store::StoreError;
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Put, TransactWriteItem};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Attempts at a call that collides with others on the same item (e.g. many messages to
/// one chat at once) or is throttled, before the client is told to retry.
pub(super) const ATTEMPTS: u32 = 8;

/// What an action in a transaction writes. A transaction that fails on a condition is
/// asked about its actions by these names, never by their position in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The user: created on first use, or their profile refreshed.
    Owner,
    /// A conversation's `META` item.
    Conversation,
    /// A message item.
    Message,
    /// An idempotency receipt.
    Receipt,
    /// The check that a follow-up's earlier conversation is the owner's.
    FollowUp,
    /// The claim of a message's attachment, by its place in the message's list.
    Attachment(usize),
    /// A reply's unread-replies notice, or a customer message's agents' notice, set
    /// unless one is pending (never a condition).
    Notice,
    /// The customer's message count for the minute, on condition it is below the limit.
    Rate,
    /// The source address's count of accounts created by trust on first request this
    /// hour, on condition it is below the limit.
    AddressRate,
}

/// The actions of one `TransactWriteItems`, each named by the [`Part`] it writes.
#[derive(Clone, Debug, Default)]
pub struct Transaction {
    parts: Vec<Part>,
    actions: Vec<TransactWriteItem>,
}

impl Transaction {
    pub(super) fn with(mut self, part: Part, action: TransactWriteItem) -> Self {
        self.parts.push(part);
        self.actions.push(action);
        self
    }

    /// The parts, in the order DynamoDB gets them.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }
}

/// Why a transaction did not commit.
pub(super) enum Cancelled {
    /// A condition failed.
    Conditions(FailedConditions),
    Store(StoreError),
}

/// DynamoDB's cancellation reasons, one per action, read by part.
pub(super) struct FailedConditions {
    parts: Vec<Part>,
    reasons: Vec<CancellationReason>,
}

impl FailedConditions {
    fn reason(&self, part: Part) -> Option<&CancellationReason> {
        let index = self.parts.iter().position(|p| *p == part)?;
        self.reasons.get(index)
    }

    /// Whether the condition on `part` failed.
    pub(super) fn failed(&self, part: Part) -> bool {
        self.reason(part).and_then(CancellationReason::code) == Some("ConditionalCheckFailed")
    }

    /// The item `part` addressed, as it was, if its action asked for it on failure.
    pub(super) fn old_item(&self, part: Part) -> Option<&Item> {
        self.reason(part).and_then(|r| r.item())
    }
}

impl fmt::Debug for FailedConditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<_> = self
            .parts
            .iter()
            .zip(&self.reasons)
            .map(|(part, reason)| (part, reason.code()))
            .collect();
        write!(f, "{codes:?}")
    }
}

/// One page of a query's results as DynamoDB gives it, and where the next one starts
/// (`None` after the last).
pub(super) struct QueryPage {
    pub items: Vec<Item>,
    pub next: Option<Item>,
}

/// A [`QueryPage`] whose items were read straight into their aggregate's item struct,
/// and whether another page follows: the routes reading these pages start the next one
/// from their own cursor, not from DynamoDB's key.
pub(super) struct TypedPage<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl DynamoStore {
    /// A strongly consistent read of one item, or of the attributes in `projection`.
    pub(super) async fn get(
        &self,
        key: Item,
        projection: Option<&str>,
        operation: &str,
    ) -> Result<Option<Item>, StoreError> {
        self.wire
            .get_item(&self.table, &key, projection, operation)
            .await
    }

    /// Strongly consistent reads of several items (or of the attributes in `projection`)
    /// in one `BatchGetItem`. Keys come back unprocessed only when DynamoDB is throttling;
    /// those are asked for again.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        projection: Option<String>,
        operation: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut pending = keys;
        let mut found = Vec::new();
        for attempt in 1.. {
            let (got, rest) = self
                .wire
                .batch_get_item(&self.table, &pending, projection.as_deref(), operation)
                .await?;
            found.extend(got);
            if rest.is_empty() {
                break;
            }
            if attempt == ATTEMPTS {
                return Err(unavailable(format!(
                    "{operation}: keys unprocessed after {attempt} attempts"
                )));
            }
            pending = rest;
            tokio::time::sleep(backoff(attempt)).await;
        }
        Ok(found)
    }

    /// A put, as a transaction action, on `condition` with its `values`.
    pub(super) fn put(
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

    /// A put of a new item: only if no item has its key.
    pub(super) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        self.put(item, "attribute_not_exists(pk)", None)
    }

    /// Runs a transaction, retrying with jittered backoff while it only collides with
    /// other transactions or is throttled.
    ///
    /// Each attempt carries its own `ClientRequestToken`, which [`wire`](super::wire)'s
    /// retries of it keep: an attempt whose answer was lost after DynamoDB committed it is
    /// retried with the same token, and DynamoDB answers that retry with success (within
    /// 10 minutes) instead of failing it on its own conditions. A new attempt here gets a
    /// new token: it follows a cancellation, so the one before certainly did not commit.
    pub(super) async fn transact(
        &self,
        operation: &str,
        transaction: Transaction,
    ) -> Result<(), Cancelled> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = uuid::Uuid::now_v7().hyphenated().to_string();
            let reasons = match self
                .wire
                .transact_write_items(&transaction.actions, &token, operation)
                .await
            {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(reasons)) => reasons,
                Err(err) => return Err(Cancelled::Store(err)),
            };
            if !cancelled_for_retryable_reason(&reasons) {
                return Err(Cancelled::Conditions(FailedConditions {
                    parts: transaction.parts,
                    reasons,
                }));
            }
            if attempt == ATTEMPTS {
                return Err(Cancelled::Store(unavailable(format!(
                    "{operation}: still conflicting after {attempt} attempts"
                ))));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    /// Sends the `UpdateItem` `update` describes.
    pub(super) async fn send_update(
        &self,
        update: UpdateItemFluentBuilder,
        operation: &str,
    ) -> Result<Written, StoreError> {
        self.wire.update_item(update.as_input(), operation).await
    }

    /// Sends the `PutItem` `put` describes.
    pub(super) async fn send_put(
        &self,
        put: PutItemFluentBuilder,
        operation: &str,
    ) -> Result<Written, StoreError> {
        self.wire.put_item(put.as_input(), operation).await
    }

    /// Sends the `DeleteItem` `delete` describes.
    pub(super) async fn send_delete(
        &self,
        delete: DeleteItemFluentBuilder,
        operation: &str,
    ) -> Result<Written, StoreError> {
        self.wire.delete_item(delete.as_input(), operation).await
    }

    /// One page of `query`, starting after `start` (from the beginning if `None`). The
    /// caller sets the key condition, index, order and page size on the SDK's builder,
    /// which only describes the query: [`wire`](super::wire) sends it.
    pub(super) async fn query_page(
        &self,
        query: QueryFluentBuilder,
        start: Option<Item>,
        operation: &str,
    ) -> Result<QueryPage, StoreError> {
        self.wire
            .query(&self.table, query.as_input(), start.as_ref(), operation)
            .await
    }

    /// [`get`](Self::get) of a whole item, read as `T` (an aggregate's item struct)
    /// without building it as a map first.
    pub(super) async fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        key: Item,
        operation: &str,
    ) -> Result<Option<T>, StoreError> {
        self.wire.get_item_as(&self.table, &key, operation).await
    }

    /// [`query_page`](Self::query_page), each item read as `T` (an aggregate's item
    /// struct) without building it as a map first: for the pages the routes read.
    pub(super) async fn query_page_as<T: serde::de::DeserializeOwned>(
        &self,
        query: QueryFluentBuilder,
        start: Option<Item>,
        operation: &str,
    ) -> Result<TypedPage<T>, StoreError> {
        self.wire
            .query_as(&self.table, query.as_input(), start.as_ref(), operation)
            .await
    }

    /// Every item `query` matches, page by page.
    pub(super) async fn query_all(
        &self,
        query: QueryFluentBuilder,
        operation: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self.query_page(query.clone(), start, operation).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }
}

/// Full-jitter backoff: a random wait below a ceiling that doubles from 10 ms to 200 ms.
pub(super) fn backoff(attempt: u32) -> Duration {
    let ceiling = (5u64 << attempt.min(6)).min(200);
    Duration::from_millis(1 + random_below(ceiling))
}

/// A random number below `bound` (not 0), from the random bits of a UUIDv7 (no extra
/// dependency for a number): what the backoffs draw their waits with.
pub(super) fn random_below(bound: u64) -> u64 {
    uuid::Uuid::now_v7().as_u128() as u64 % bound
}

/// Expression attribute names from pairs.
pub(super) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Expression attribute values from pairs.
pub(super) fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
