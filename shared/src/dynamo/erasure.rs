//! Erasing a customer from the table (`store::CustomerEraser`): their conversations
//! (found on the by-owner index), each conversation's every item (its messages, notes and
//! due email) and its typing claims, the uploads their
//! messages carried, their receipts on every endpoint, their listed connections, and
//! their user item last. Deletes go out 25 at a time (`BatchWriteItem`), a
//! conversation's `META` item after its messages, so that an erasure that stops half way
//! still finds what is left through the index when it is run again.
//!
//! Two kinds of item name the customer but are on no index by them: the uploads they
//! declared and never attached (`UPLOAD#<id>`, whose `uploader` is their folder) and
//! their connect tickets (`TICKET#<digest>`, `subscriber_id` their email). One scan of
//! the table finds them ([`DynamoStore::erase_unindexed`]): a page of [`SCAN_PAGE`]
//! items at a time, one page after another, eventually consistent. It reads the whole
//! table once (half a read unit per 4 KB read, whatever the filter keeps), which is
//! acceptable for a rare operator command and not for a request path.

use super::DynamoStore;
use super::errors::classify;
use super::items::{
    Item, MESSAGE_PREFIX, META, NOTE_PREFIX, PROFILE, key, s, text, user_pk, watch_pk,
};
use super::rate_limits::rate_pk;
use super::schema;
use super::uploads::upload_pk;
use crate::domain::{AttachmentId, Uploader, UserId};
use crate::endpoint::Endpoint;
use crate::store::{Audience, CustomerEraser, Erased, StoreError};
use aws_sdk_dynamodb::types::{DeleteRequest, ReturnValue, WriteRequest};

/// Items one `BatchWriteItem` takes.
const BATCH: usize = 25;

/// Items one page of the erasure's scan reads at most.
const SCAN_PAGE: i32 = 1000;

impl CustomerEraser for DynamoStore {
    async fn erase_customer(&self, customer: &UserId) -> Result<Erased, StoreError> {
        let mut erased = Erased::default();
        let folder = Uploader::customer(customer);
        let owned = self
            .client
            .query()
            .index_name(schema::BY_OWNER.name)
            .key_condition_expression("gsi1pk = :owner")
            .expression_attribute_values(":owner", s(user_pk(customer)))
            .projection_expression("pk");
        for conversation in self
            .query_all(owned, "Query customer's conversations")
            .await?
        {
            let Some(pk) = text(&conversation, "pk").map(str::to_string) else {
                continue;
            };
            // Its typing throttle's claims (they expire within a minute, but name senders).
            let typing = pk.replacen("CONV#", "TYPING#", 1);
            erased.other += self.delete_partition(typing).await?;
            self.erase_conversation(pk, &folder, &mut erased).await?;
        }
        for endpoint in Endpoint::ALL {
            let pk = format!("IDEMPOTENCY#{}#{}", endpoint.name(), customer.as_str());
            erased.receipts += self.delete_partition(pk).await?;
        }
        erased.other += self
            .delete_partition(watch_pk(&Audience::Customer(customer.clone())))
            .await?;
        // Their message counts (TTL removes them within a day or two; they name them).
        erased.other += self.delete_partition(rate_pk(customer)).await?;
        self.erase_unindexed(customer, &mut erased).await?;
        let user = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key(user_pk(customer), PROFILE)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem user", e))?;
        erased.user = user.attributes.is_some_and(|old| !old.is_empty());
        Ok(erased)
    }
}

impl DynamoStore {
    /// The customer's items no index finds, by one scan of the table: the uploads they
    /// declared (and their files, for the caller to delete) and their connect tickets.
    async fn erase_unindexed(
        &self,
        customer: &UserId,
        erased: &mut Erased,
    ) -> Result<(), StoreError> {
        let folder = Uploader::customer(customer);
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&*self.table)
                .limit(SCAN_PAGE)
                .set_exclusive_start_key(start)
                .filter_expression(
                    "(sk = :upload AND uploader = :folder) OR \
                     (sk = :ticket AND subscriber_kind = :customer AND subscriber_id = :email)",
                )
                .expression_attribute_values(":upload", s(super::uploads::UPLOAD))
                .expression_attribute_values(":folder", s(folder.as_str()))
                .expression_attribute_values(":ticket", s("TICKET"))
                .expression_attribute_values(":customer", s("customer"))
                .expression_attribute_values(":email", s(customer.as_str()))
                .projection_expression("pk, sk, id")
                .send()
                .await
                .map_err(|e| classify("Scan for the customer's uploads and tickets", e))?;
            let mut keys = Vec::new();
            for item in page.items.unwrap_or_default() {
                let (Some(pk), Some(sk)) = (text(&item, "pk"), text(&item, "sk")) else {
                    continue;
                };
                if sk == super::uploads::UPLOAD {
                    erased.uploads += 1;
                    if let Some(id) = text(&item, "id").and_then(|id| AttachmentId::parse(id).ok())
                    {
                        erased.files.push(folder.key(&id));
                    }
                } else {
                    erased.other += 1;
                }
                keys.push(key(pk.to_string(), sk));
            }
            self.delete_keys(keys).await?;
            match page.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// One conversation's items, its messages' uploads, then its `META`. Of each file
    /// the caller deletes the kept copy and, for the customer's own (in `folder`), the
    /// upload it was copied from: its record goes here, before the scan for uploads
    /// could find it.
    async fn erase_conversation(
        &self,
        pk: String,
        folder: &Uploader,
        erased: &mut Erased,
    ) -> Result<(), StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk.clone()))
            .consistent_read(true);
        let items = self.query_all(query, "Query conversation items").await?;
        let (mut keys, mut uploads, mut meta) = (Vec::new(), Vec::new(), None);
        for item in items {
            let Some(sk) = text(&item, "sk").map(str::to_string) else {
                continue;
            };
            if sk == META {
                meta = Some(key(pk.clone(), META));
                continue;
            }
            if sk.starts_with(MESSAGE_PREFIX) || sk.starts_with(NOTE_PREFIX) {
                erased.messages += 1;
                let message = super::conversations::MessageItem::decode(item)?;
                for file in message.attachments {
                    uploads.push(key(upload_pk(&file.id), "UPLOAD"));
                    if Uploader::of_key(&file.key).as_ref() == Some(folder) {
                        erased.files.push(folder.key(&file.id));
                    }
                    erased.files.push(file.key);
                }
            } else {
                erased.other += 1;
            }
            keys.push(key(pk.clone(), &sk));
        }
        erased.uploads += uploads.len() as u64;
        keys.extend(uploads);
        self.delete_keys(keys).await?;
        if let Some(meta) = meta {
            self.delete_keys(vec![meta]).await?;
            erased.conversations += 1;
        }
        Ok(())
    }

    /// Deletes every item of partition `pk`; how many there were.
    async fn delete_partition(&self, pk: String) -> Result<u64, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk.clone()))
            .projection_expression("pk, sk")
            .consistent_read(true);
        let keys: Vec<Item> = self
            .query_all(query, "Query partition")
            .await?
            .into_iter()
            .filter_map(|item| Some(key(pk.clone(), text(&item, "sk")?)))
            .collect();
        let count = keys.len() as u64;
        self.delete_keys(keys).await?;
        Ok(count)
    }

    /// Deletes `keys`, [`BATCH`] at a time, until DynamoDB has processed every one.
    async fn delete_keys(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map_err(|e| StoreError::Internal(format!("delete request: {e}")))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, StoreError>>()?;
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&*self.table, requests)
                    .send()
                    .await
                    .map_err(|e| classify("BatchWriteItem delete", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&*self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 8 {
                    return Err(super::errors::unavailable(
                        "BatchWriteItem left items unprocessed after 8 retries".into(),
                    ));
                }
                tokio::time::sleep(super::table::backoff(attempt)).await;
            }
        }
        Ok(())
    }
}
