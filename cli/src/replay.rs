//! `supportzen ops replay-events`: the webhooks of the table changes the events
//! dead-letter queue names, queued again. Lambda sends that queue, for each batch of the
//! table's stream it gave up on, a record of where the batch was (its
//! `DDBStreamBatchInfo`: the stream, the shard, the first and last sequence numbers), not
//! the records themselves. Those are read back from the stream while it still holds them
//! (24 hours), handed to `events-stream`'s own code ([`events_stream::requeue`]) as
//! Lambda would hand them to the function, and their deliveries queued as that function
//! queues them: same events, same ids, so each delivery keeps its `webhook-id` and a
//! receiver drops one it already had. A dead-letter message is deleted only once all its
//! deliveries were queued; one whose records the stream no longer holds is reported and
//! kept.

use aws_lambda_events::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use events_stream::{Owners, Queue, requeue};
use serde::Deserialize;
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use supportzen_shared::domain::now_millis;
use supportzen_shared::store::WebhookRegistry;

/// How long a received dead-letter message stays hidden from other readers while its
/// batch is read back and queued (a batch is at most 10,000 records).
const VISIBILITY_SECONDS: i32 = 300;

/// How many empty `GetRecords` pages in a row mean the batch cannot be read to its end.
const EMPTY_PAGES: u32 = 10;

/// Where a batch Lambda gave up on was: what its on-failure record says.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub stream_arn: String,
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
}

/// Lambda's on-failure record of a DynamoDB stream batch (its other fields, the request
/// and response context, are not needed).
#[derive(Debug, Deserialize)]
struct FailureRecord {
    #[serde(rename = "DDBStreamBatchInfo")]
    batch: BatchInfo,
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Dead-letter messages read.
    pub messages: u64,
    /// Of those, the ones whose deliveries were all queued (and deleted, unless dry run).
    pub replayed: u64,
    /// Stream records read back.
    pub records: u64,
    /// Deliveries queued (or, dry run, that would have been).
    pub deliveries: u64,
    /// Messages kept, each with why (its SQS message id first).
    pub kept: Vec<String>,
}

impl Replayed {
    pub fn to_json(&self, dry_run: bool) -> String {
        json!({
            "dryRun": dry_run,
            "messages": self.messages,
            "replayed": self.replayed,
            "records": self.records,
            "deliveries": self.deliveries,
            "kept": self.kept.len(),
        })
        .to_string()
    }
}

/// Counts what would be queued and queues nothing (`--dry-run`).
pub struct NoQueue;

impl Queue for NoQueue {
    async fn send(&self, _bodies: Vec<String>) -> Result<(), String> {
        Ok(())
    }
}

/// Replays every message of the events dead-letter queue at `from`: its batch's records
/// read from the stream, their webhooks queued on `queue`, the message deleted once all
/// were. With `dry_run`, nothing is queued or deleted (use [`NoQueue`]), and the messages
/// read are made visible again at the end. Stops when a receive, which waits up to 2
/// seconds, finds nothing new. A failure to reach SQS, the stream or the table stops the
/// run with an error (the message being replayed is kept; deliveries it queued before
/// the failure are queued again by the next run, under the same webhook-ids).
pub async fn replay_events<S, Q>(
    sqs: &aws_sdk_sqs::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    store: &S,
    queue: &Q,
    from: &str,
    dry_run: bool,
) -> Result<Replayed, String>
where
    S: WebhookRegistry + Owners + Sync,
    Q: Queue + Sync,
{
    let mut replayed = Replayed::default();
    let mut seen = HashSet::new();
    // Messages to make visible again at the end: kept ones, and all of a dry run's.
    let mut release = Vec::new();
    let outcome = async {
        loop {
            let received = sqs
                .receive_message()
                .queue_url(from)
                .max_number_of_messages(10)
                .wait_time_seconds(2)
                .visibility_timeout(VISIBILITY_SECONDS)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "cannot receive from {from}: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                })?;
            let messages = received.messages.unwrap_or_default();
            let mut new = 0;
            for message in messages {
                let (Some(id), Some(handle)) = (message.message_id, message.receipt_handle) else {
                    continue;
                };
                if !seen.insert(id.clone()) {
                    // Back after its visibility ran out: this run has dealt with it.
                    release.push(handle);
                    continue;
                }
                new += 1;
                replayed.messages += 1;
                let body = message.body.unwrap_or_default();
                match replay_message(streams, store, queue, &body).await? {
                    Ok((records, deliveries)) => {
                        replayed.records += records;
                        replayed.deliveries += deliveries;
                        replayed.replayed += 1;
                        if dry_run {
                            release.push(handle);
                        } else {
                            delete(sqs, from, &handle).await?;
                        }
                    }
                    Err(reason) => {
                        eprintln!("kept message {id}: {reason}");
                        replayed.kept.push(format!("{id}: {reason}"));
                        release.push(handle);
                    }
                }
            }
            if new == 0 {
                return Ok::<(), String>(());
            }
        }
    }
    .await;
    // Best effort: a message not made visible here comes back when its timeout ends.
    for handle in release {
        let _ = sqs
            .change_message_visibility()
            .queue_url(from)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await;
    }
    outcome.map(|()| replayed)
}

async fn delete(sqs: &aws_sdk_sqs::Client, from: &str, handle: &str) -> Result<(), String> {
    sqs.delete_message()
        .queue_url(from)
        .receipt_handle(handle)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "its deliveries were queued, but the message cannot be deleted from {from} (a later run queues them again, under the same webhook-ids): {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })
}

/// One dead-letter message: `Ok(Ok((records, deliveries)))` once all are queued,
/// `Ok(Err(why))` if it is to be kept, `Err` if the run is to stop.
async fn replay_message<S, Q>(
    streams: &aws_sdk_dynamodbstreams::Client,
    store: &S,
    queue: &Q,
    body: &str,
) -> Result<Result<(u64, u64), String>, String>
where
    S: WebhookRegistry + Owners + Sync,
    Q: Queue + Sync,
{
    let batch = match serde_json::from_str::<FailureRecord>(body) {
        Ok(record) => record.batch,
        Err(err) => {
            return Ok(Err(format!(
                "not Lambda's record of a DynamoDB stream batch (DDBStreamBatchInfo with streamArn, shardId, startSequenceNumber, endSequenceNumber): {err}"
            )));
        }
    };
    let records = match read_batch(streams, &batch).await? {
        Ok(records) => records,
        Err(reason) => return Ok(Err(reason)),
    };
    let count = records.len() as u64;
    let mut lambda = Vec::with_capacity(records.len());
    for record in &records {
        match lambda_record(record) {
            Ok(record) => lambda.push(record),
            Err(reason) => return Ok(Err(reason)),
        }
    }
    let deliveries = requeue(store, queue, lambda, now_millis())
        .await
        .map_err(|e| format!("stopped: {e}"))?;
    Ok(Ok((count, deliveries as u64)))
}

/// Sequence numbers are decimal numbers of up to 40 digits, compared as such.
fn compare(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The batch's records, from its first sequence number to its last; `Ok(Err(why))` if the
/// stream no longer holds them (or not all of them).
async fn read_batch(
    streams: &aws_sdk_dynamodbstreams::Client,
    batch: &BatchInfo,
) -> Result<Result<Vec<Record>, String>, String> {
    let gone = |code: Option<&str>| {
        matches!(
            code,
            Some("TrimmedDataAccessException")
                | Some("ExpiredIteratorException")
                | Some("ResourceNotFoundException")
        )
    };
    let where_ = format!(
        "shard {} of {} from {} to {}",
        batch.shard_id, batch.stream_arn, batch.start_sequence_number, batch.end_sequence_number
    );
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start_sequence_number)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(found) => found.shard_iterator,
        Err(err) if gone(err.code()) => {
            return Ok(Err(format!(
                "the stream no longer holds {where_} ({})",
                err.code().unwrap_or_default()
            )));
        }
        Err(err) => {
            return Err(format!(
                "cannot read {where_}: {}",
                DisplayErrorContext(err)
            ));
        }
    };
    let (mut records, mut empty) = (Vec::new(), 0);
    while let Some(current) = iterator {
        let page = match streams.get_records().shard_iterator(current).send().await {
            Ok(page) => page,
            Err(err) if gone(err.code()) => {
                return Ok(Err(format!(
                    "the stream no longer holds {where_} ({})",
                    err.code().unwrap_or_default()
                )));
            }
            Err(err) => {
                return Err(format!(
                    "cannot read {where_}: {}",
                    DisplayErrorContext(err)
                ));
            }
        };
        empty = if page.records().is_empty() {
            empty + 1
        } else {
            0
        };
        for record in page.records() {
            let sequence = record
                .dynamodb()
                .and_then(|d| d.sequence_number())
                .unwrap_or_default();
            if compare(sequence, &batch.end_sequence_number) == Ordering::Greater {
                return Ok(Ok(records));
            }
            records.push(record.clone());
            if sequence == batch.end_sequence_number {
                return Ok(Ok(records));
            }
        }
        if empty >= EMPTY_PAGES {
            break;
        }
        iterator = page.next_shard_iterator;
    }
    Ok(Err(format!(
        "{where_}: the stream ended (or gave {EMPTY_PAGES} empty pages) before the last record, after {} records",
        records.len()
    )))
}

/// A record read from the stream as Lambda hands it to `events-stream` (its event's
/// JSON, deserialized as the function's runtime does).
pub fn lambda_record(record: &Record) -> Result<EventRecord, String> {
    let id = record.event_id().unwrap_or_default();
    let change = record
        .dynamodb()
        .ok_or_else(|| format!("record {id} has no change"))?;
    let mut dynamodb = json!({
        "SequenceNumber": change.sequence_number(),
        "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
        "SizeBytes": change.size_bytes(),
    });
    if let Some(at) = change.approximate_creation_date_time() {
        dynamodb["ApproximateCreationDateTime"] = json!(at.as_secs_f64());
    }
    for (name, image) in [
        ("Keys", change.keys()),
        ("NewImage", change.new_image()),
        ("OldImage", change.old_image()),
    ] {
        if let Some(image) = image {
            dynamodb[name] = item(image).map_err(|e| format!("record {id}: {e}"))?;
        }
    }
    let event = json!({
        "eventID": id,
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventSource": record.event_source(),
        "eventVersion": record.event_version(),
        "awsRegion": record.aws_region(),
        "dynamodb": dynamodb,
    });
    serde_json::from_value(event).map_err(|e| format!("record {id}: {e}"))
}

fn item(image: &HashMap<String, AttributeValue>) -> Result<Value, String> {
    image
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?)))
        .collect::<Result<serde_json::Map<_, _>, String>>()
        .map(Value::Object)
}

/// An attribute value in DynamoDB's JSON (`{"S": "..."}`). The table's items hold no
/// binary attribute; one is refused rather than guessed at.
fn attribute(value: &AttributeValue) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::L(v) => {
            json!({ "L": v.iter().map(attribute).collect::<Result<Vec<_>, _>>()? })
        }
        AttributeValue::M(m) => json!({ "M": item(m)? }),
        other => {
            return Err(format!(
                "an attribute of a type the table does not hold: {other:?}"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(compare("900", "1000"), Ordering::Less);
        assert_eq!(compare("1000", "1000"), Ordering::Equal);
        assert_eq!(compare("1001", "1000"), Ordering::Greater);
    }

    #[test]
    fn lambdas_failure_record_gives_the_batch() {
        let body = r#"{"requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:events","condition":"RetryAttemptsExhausted","approximateInvokeCount":11},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-12-06T04:00:00.000Z","DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"100","endSequenceNumber":"200","approximateArrivalOfFirstRecord":"2026-12-06T03:59:00Z","approximateArrivalOfLastRecord":"2026-12-06T03:59:01Z","batchSize":2,"streamArn":"arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"}}"#;
        let batch = serde_json::from_str::<FailureRecord>(body).unwrap().batch;
        assert_eq!(batch.shard_id, "shardId-1");
        assert_eq!(batch.start_sequence_number, "100");
        assert_eq!(batch.end_sequence_number, "200");
        assert!(
            batch
                .stream_arn
                .ends_with("/stream/2026-01-01T00:00:00.000")
        );
        assert!(serde_json::from_str::<FailureRecord>(r#"{"Records":[]}"#).is_err());
    }
}
