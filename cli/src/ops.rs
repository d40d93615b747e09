//! `supportzen ops`: repair tools an operator runs against a deployment's table.
//! `backfill` walks the table a page at a time (`shared/src/dynamo/backfill.rs` decides and
//! writes), keeps to a write budget, and shows how far it got and where to resume;
//! `redrive-webhooks` puts dead webhook deliveries back (the local outbox's, in
//! `supportzen-sqlite`, or production's dead-letter queue, here); `replay-events`
//! (`replay.rs`) queues the webhooks of stream batches the events function gave up on.

use aws_sdk_sqs::error::DisplayErrorContext;
use serde_json::json;
use std::io::{IsTerminal, Write};
use supportzen_shared::dynamo::backfill::{BackfillPage, ResumeKey, WriteBudget};
use supportzen_shared::dynamo::{DynamoStore, client};
use tokio::time::Instant;

/// What a whole run did, printed as one JSON object.
#[derive(Debug, Default)]
struct Totals {
    items_read: u64,
    conversations: u64,
    stale: u64,
    rewritten: u64,
    changed_meanwhile: u64,
    undecodable: u64,
}

impl Totals {
    fn add(&mut self, page: &BackfillPage) {
        self.items_read += page.items_read;
        self.conversations += page.conversations;
        self.stale += page.stale;
        self.rewritten += page.rewritten;
        self.changed_meanwhile += page.changed_meanwhile;
        self.undecodable += page.undecodable;
    }
}

/// Runs the backfill over `table` from `from` (the start if `None`) to the end, at most
/// `writes_per_second` rewrites a second; the counts as JSON.
pub async fn backfill(
    store: DynamoStore,
    dry_run: bool,
    writes_per_second: u32,
    mut from: Option<ResumeKey>,
) -> Result<String, String> {
    // DynamoDB's item count is refreshed about every six hours: good enough for a bar.
    let estimate = store
        .client()
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .ok()
        .and_then(|d| d.table.and_then(|t| t.item_count))
        .and_then(|count| u64::try_from(count).ok());
    let mut budget = WriteBudget::per_second(writes_per_second);
    let (mut totals, started) = (Totals::default(), Instant::now());
    let progress = Progress::new(estimate);
    loop {
        let page = store
            .backfill_page(from.as_ref(), dry_run, &mut budget)
            .await
            .map_err(|e| {
                let resume = from
                    .as_ref()
                    .map(|key| format!("; resume with --from {}", key.token()))
                    .unwrap_or_default();
                format!("backfill stopped: {e}{resume}")
            })?;
        totals.add(&page);
        from = page.next;
        progress.show(&totals, from.as_ref());
        if from.is_none() {
            break;
        }
    }
    progress.finish();
    Ok(json!({
        "dryRun": dry_run,
        "itemsRead": totals.items_read,
        "conversations": totals.conversations,
        "stale": totals.stale,
        "rewritten": totals.rewritten,
        "changedMeanwhile": totals.changed_meanwhile,
        "undecodable": totals.undecodable,
        "seconds": started.elapsed().as_secs(),
    })
    .to_string())
}

/// The progress line on stderr: redrawn in place on a terminal, one line a page
/// otherwise (a log keeps every resume token).
struct Progress {
    estimate: Option<u64>,
    terminal: bool,
}

impl Progress {
    fn new(estimate: Option<u64>) -> Self {
        Progress {
            estimate,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, totals: &Totals, next: Option<&ResumeKey>) {
        let bar = match self.estimate {
            Some(total) if total > 0 => {
                let done = (totals.items_read.min(total) * 20 / total) as usize;
                format!(
                    "[{}{}] ~{}% ",
                    "#".repeat(done),
                    ".".repeat(20 - done),
                    totals.items_read.min(total) * 100 / total
                )
            }
            _ => String::new(),
        };
        let resume = next
            .map(|key| format!(" (resume: --from {})", key.token()))
            .unwrap_or_default();
        let line = format!(
            "{bar}{} items read, {} conversations, {} stale, {} rewritten{resume}",
            totals.items_read, totals.conversations, totals.stale, totals.rewritten
        );
        let mut stderr = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(stderr, "\r\x1b[2K{line}")
        } else {
            writeln!(stderr, "{line}")
        };
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

/// An SQS client from the SDK's full configuration chain (the operator's credentials),
/// with the HTTPS client and timeouts the DynamoDB client has.
pub async fn sqs_client_from_env() -> Result<aws_sdk_sqs::Client, String> {
    Ok(aws_sdk_sqs::Client::new(&operator_config().await?))
}

/// The SDK's full configuration chain (the operator's credentials), with the HTTPS client
/// the DynamoDB client has: for the SQS and DynamoDB Streams clients. Not the DynamoDB
/// client's timeouts: their 2-second attempt is no longer than the receives' 2-second
/// long poll, which an empty queue holds for all of it, so the last receive of every run
/// timed out. An attempt here may take 10 seconds, an operation (with its retries) 30;
/// a connection opens within the HTTPS client's second, as the DynamoDB client's does.
pub async fn operator_config() -> Result<aws_config::SdkConfig, String> {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(10))
        .operation_timeout(std::time::Duration::from_secs(30))
        .build();
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(client::https_client()?)
        .timeout_config(timeouts)
        .load()
        .await)
}

/// Moves every message of the queue at `from` (the webhook dead-letter queue) to the one
/// at `to` (the webhook queue), ten at a time: each is sent, then deleted from `from`
/// only once sent, so a failure in between leaves a copy in both (delivered twice under
/// one webhook-id, which receivers drop) and never none. Stops when a receive, which
/// waits up to 2 seconds for any server to have one, finds nothing. Returns how many.
pub async fn redrive_queue(sqs: &aws_sdk_sqs::Client, from: &str, to: &str) -> Result<u64, String> {
    use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
    if from == to {
        return Err(
            "--from-queue and --to-queue are the same queue: nothing would ever be moved".into(),
        );
    }
    let mut moved = 0;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            // Long enough to send and delete the batch, short enough that a message a
            // failed run leaves hidden comes back soon.
            .visibility_timeout(60)
            .send()
            .await
            .map_err(|e| format!("cannot receive from {from}: {}", DisplayErrorContext(e)))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        let entries = messages
            .iter()
            .enumerate()
            .map(|(index, message)| {
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(message.body.clone().unwrap_or_default())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sent = sqs
            .send_message_batch()
            .queue_url(to)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| format!("cannot send to {to}: {}", DisplayErrorContext(e)))?;
        let deletes = sent
            .successful
            .iter()
            .filter_map(|ok| {
                let index: usize = ok.id.parse().ok()?;
                let handle = messages.get(index)?.receipt_handle.clone()?;
                DeleteMessageBatchRequestEntry::builder()
                    .id(ok.id.clone())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        let sent_count = deletes.len() as u64;
        if !deletes.is_empty() {
            let deleted = sqs
                .delete_message_batch()
                .queue_url(from)
                .set_entries(Some(deletes))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "sent {sent_count} to {to} but cannot delete them from {from} (they will be delivered twice, under the same webhook-id): {}",
                        DisplayErrorContext(e)
                    )
                })?;
            if !deleted.failed.is_empty() {
                return Err(format!(
                    "{} moved; {} more sent to {to} but not deleted from {from}: they come back there in a minute and would be sent again (delivered twice, under one webhook-id)",
                    moved + sent_count - deleted.failed.len() as u64,
                    deleted.failed.len()
                ));
            }
        }
        moved += sent_count;
        if let Some(failed) = sent.failed.first() {
            return Err(format!(
                "{moved} moved; then {to} refused one: {} ({})",
                failed.message.as_deref().unwrap_or("no reason given"),
                failed.code
            ));
        }
    }
}
