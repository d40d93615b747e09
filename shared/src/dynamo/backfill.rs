//! Bringing conversations written by older releases up to today's item shape, in place:
//! `supportzen ops backfill`. Items written before the read routes have an old by-owner
//! sort key and no preview, so the list route does not find them; items written before
//! the agent routes have no inbox or assignee keys (or the old `OPEN#<kind>` one), so no
//! inbox does; and changing the inbox's [`InboxShards`](super::items::InboxShards) moves
//! conversations to other inbox partitions. A conversation's next write would fix it; a
//! closed one never gets one. docs/data-model.md, "Backfill".
//!
//! One [`DynamoStore::backfill_page`] reads one page of the table (a `Scan`) and rewrites
//! each stale conversation with one conditional `UpdateItem`: the keys and preview are
//! computed from the item's own fields, on condition that its activity, status and
//! assignee are still those read. A conversation that changed meanwhile was rewritten
//! whole by that change (or, for an assignment, is counted so that a second run takes
//! it). Running it again finds nothing to do.

use super::DynamoStore;
use super::conversations::{ConversationItem, MessageItem};
use super::errors::{classify, unless_condition_failed};
use super::items::{Item, MESSAGE_PREFIX, META, s, text};
use crate::store::{MessagePreview, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::time::Duration;

/// Items one `Scan` page reads (before its filter): a page of small items, about 100 KB.
pub const BACKFILL_PAGE_ITEMS: i32 = 200;

/// What one page found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BackfillPage {
    /// Items the page read, of every kind (what a progress bar counts).
    pub items_read: u64,
    /// Conversations read.
    pub conversations: u64,
    /// Of those, how many needed a rewrite.
    pub stale: u64,
    /// Rewritten now (0 in a dry run).
    pub rewritten: u64,
    /// Changed between the read and the rewrite, and left alone: run again for them.
    pub changed_meanwhile: u64,
    /// Items under a conversation's key this release cannot read: left as they are.
    pub undecodable: u64,
    /// Where the next page starts; `None` once the whole table was read.
    pub next: Option<ResumeKey>,
}

/// Where a scan stopped: the last key it read, to start the next page from (or to
/// resume an interrupted run with `--from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeKey {
    pub pk: String,
    pub sk: String,
}

impl ResumeKey {
    /// One token to print and paste back into a shell: hex of `pk`, a tab, `sk`.
    pub fn token(&self) -> String {
        hex::encode(format!("{}\t{}", self.pk, self.sk))
    }

    pub fn parse(token: &str) -> Result<Self, String> {
        const NOT_A_TOKEN: &str = "must be the token a backfill printed";
        let text = hex::decode(token.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(NOT_A_TOKEN)?;
        match text.split_once('\t') {
            Some((pk, sk)) if !pk.is_empty() && !sk.is_empty() => Ok(ResumeKey {
                pk: pk.to_string(),
                sk: sk.to_string(),
            }),
            _ => Err(NOT_A_TOKEN.into()),
        }
    }

    fn from_item(key: &Item) -> Option<Self> {
        Some(ResumeKey {
            pk: text(key, "pk")?.to_string(),
            sk: text(key, "sk")?.to_string(),
        })
    }

    fn to_item(&self) -> Item {
        HashMap::from([
            ("pk".to_string(), s(self.pk.clone())),
            ("sk".to_string(), s(self.sk.clone())),
        ])
    }
}

/// At most so many writes a second: the table's capacity stays the API's.
pub struct WriteBudget(tokio::time::Interval);

impl WriteBudget {
    pub fn per_second(writes: u32) -> Self {
        let mut interval = tokio::time::interval(Duration::from_secs(1) / writes.max(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        WriteBudget(interval)
    }

    async fn wait(&mut self) {
        self.0.tick().await;
    }
}

/// One stale conversation's rewrite: the attributes to set, and the fields read that
/// must still hold.
#[derive(Debug, PartialEq)]
pub(super) struct Rewrite {
    pub(super) set: Vec<(&'static str, String)>,
    pub(super) needs_preview: bool,
}

impl DynamoStore {
    /// Reads one page from `from` (the table's start if `None`) and rewrites its stale
    /// conversations, unless `dry_run`, each when `budget` allows.
    pub async fn backfill_page(
        &self,
        from: Option<&ResumeKey>,
        dry_run: bool,
        budget: &mut WriteBudget,
    ) -> Result<BackfillPage, StoreError> {
        let scanned = self
            .client
            .scan()
            .table_name(&*self.table)
            .filter_expression("sk = :meta AND begins_with(pk, :conv)")
            .expression_attribute_values(":meta", s(META))
            .expression_attribute_values(":conv", s("CONV#"))
            .limit(BACKFILL_PAGE_ITEMS)
            .set_exclusive_start_key(from.map(ResumeKey::to_item))
            .send()
            .await
            .map_err(|e| classify("Scan conversations", e))?;
        let mut page = BackfillPage {
            items_read: u64::try_from(scanned.scanned_count()).unwrap_or_default(),
            next: scanned.last_evaluated_key().and_then(ResumeKey::from_item),
            ..BackfillPage::default()
        };
        for item in scanned.items.unwrap_or_default() {
            page.conversations += 1;
            let key = (
                text(&item, "pk").unwrap_or_default().to_string(),
                text(&item, "sk").unwrap_or_default().to_string(),
            );
            let conversation: ConversationItem = match super::items::from_item(item) {
                Ok(conversation) => conversation,
                // Left alone, and counted: one item this release cannot read must not stop
                // the run (nor its resumption) at its page.
                Err(err) => {
                    tracing::warn!(pk = key.0, sk = key.1, error = %err, "conversation not decoded; left as it is");
                    page.undecodable += 1;
                    continue;
                }
            };
            let Some(rewrite) = conversation.rewrite(self.inbox_shards) else {
                continue;
            };
            page.stale += 1;
            if dry_run {
                continue;
            }
            let mut set = rewrite.set;
            if rewrite.needs_preview
                && let Some(preview) = self.latest_message(&conversation).await?
            {
                set.extend([
                    ("last_message_id", preview.id.as_str().to_string()),
                    ("last_message_author", preview.author.as_str().to_string()),
                    ("last_message_preview", preview.text),
                ]);
            }
            if set.is_empty() {
                // Stale for its preview only, and it has no message to preview.
                continue;
            }
            budget.wait().await;
            if self.rewrite(&conversation, set).await? {
                page.rewritten += 1;
            } else {
                page.changed_meanwhile += 1;
            }
        }
        Ok(page)
    }

    /// The newest customer-visible message, for a conversation stored before previews.
    async fn latest_message(
        &self,
        conversation: &ConversationItem,
    ) -> Result<Option<MessagePreview>, StoreError> {
        let newest = self
            .client
            .query()
            .table_name(&*self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :msg)")
            .expression_attribute_values(":pk", s(conversation.pk()))
            .expression_attribute_values(":msg", s(MESSAGE_PREFIX))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("Query newest message", e))?;
        let Some(item) = newest.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(MessagePreview::of_stored(&MessageItem::decode(item)?)))
    }

    /// Sets `set` on the conversation if its activity, status and assignee are still
    /// those read. False when they are not (it changed meanwhile; nothing written).
    async fn rewrite(
        &self,
        conversation: &ConversationItem,
        set: Vec<(&'static str, String)>,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key("pk", s(conversation.pk()))
            .key("sk", s(META));
        let mut clauses = Vec::new();
        for (index, (name, value)) in set.into_iter().enumerate() {
            clauses.push(format!("#a{index} = :v{index}"));
            update = update
                .expression_attribute_names(format!("#a{index}"), name)
                .expression_attribute_values(format!(":v{index}"), s(value));
        }
        let (condition, read) = conversation.unchanged_condition();
        for (placeholder, name) in UNCHANGED_NAMES {
            update = update.expression_attribute_names(placeholder, name);
        }
        for (placeholder, value) in read {
            update = update.expression_attribute_values(placeholder, value);
        }
        let result = update
            .update_expression(format!("SET {}", clauses.join(", ")))
            .condition_expression(condition)
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem backfill", result)?.is_some())
    }
}

/// The attributes a rewrite is conditional on, by the names its condition uses (`status`
/// and `open` are reserved words in expressions).
pub(super) const UNCHANGED_NAMES: [(&str, &str); 5] = [
    ("#read_activity", "last_activity_at"),
    ("#read_open", "open"),
    ("#read_status", "status"),
    ("#read_assignee", "assignee"),
    ("#read_newest", "last_message_id"),
];

/// Expression values of the fields a rewrite is conditional on.
pub(super) type ReadValues = Vec<(&'static str, AttributeValue)>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_token_reads_back_as_its_key_and_nothing_else_does() {
        let key = ResumeKey {
            pk: "CONV#chat-0190f0a0-0000-7000-8000-000000000001".into(),
            sk: "META".into(),
        };
        assert_eq!(ResumeKey::parse(&key.token()), Ok(key.clone()));
        assert!(key.token().bytes().all(|b| b.is_ascii_hexdigit()));
        for bad in ["", "zz", &hex::encode("no tab"), &hex::encode("\tMETA")] {
            assert!(ResumeKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
