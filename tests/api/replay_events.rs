//! `supportzen ops replay-events --from-queue EVENTS_DLQ --to-queue WEBHOOK_QUEUE`: a
//! batch of the table's stream that Lambda gave up on, named by its on-failure record in
//! the events dead-letter queue, is read back from the stream (DynamoDB Local's) and its
//! webhooks queued (on moto's SQS) exactly as `events-stream` queues them, under the same
//! webhook-ids; the dead-letter message is deleted once they are, and a second run does
//! nothing.

use crate::redrive_queue::{drain, queue, sqs};
use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use events_stream::sdk::SqsQueue;
use events_stream::{Posted, Poster, Queue};
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use supportzen::replay::{NoQueue, Replayed, lambda_record, replay_events};
use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    Author, ChatId, ConversationId, Email, MessageText, NewMessage, Profile, UnixSeconds,
    now_millis,
};
use supportzen_shared::dynamo::{DynamoStore, client, schema};
use supportzen_shared::events::delivery::Delivery;
use supportzen_shared::events::{EventType, WebhookEndpoint, WebhookUrl};
use supportzen_shared::metrics::Counters;
use supportzen_shared::store::WebhookRegistry;
use supportzen_shared::store::{ConversationCreator, MessageAppender, NewConversation};
use supportzen_tests::dynamo::{RoundTrips, local_dynamo};

/// A fresh table on DynamoDB Local with its stream on, as template.yaml has it; a
/// Streams client; the stream's ARN.
async fn table_with_stream() -> (DynamoStore, aws_sdk_dynamodbstreams::Client, String) {
    let dynamo = local_dynamo(&RoundTrips::default());
    let dynamodb = &dynamo.client;
    let table = format!("replay-{}", uuid::Uuid::now_v7().simple());
    schema::create_table(dynamodb, &table).await.unwrap();
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .unwrap();
    dynamodb
        .update_table()
        .table_name(&table)
        .stream_specification(stream)
        .send()
        .await
        .unwrap();
    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_string();
    let lookup = |name: &str| std::env::var(name).ok();
    let sdk = client::lambda_sdk_config(lookup).unwrap();
    let endpoint = lookup("AWS_ENDPOINT_URL_DYNAMODB").expect("set by ./scripts/test");
    let config = aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(config);
    (DynamoStore::new(dynamo.clone(), table), streams, arn)
}

/// The stream's one shard and its records, once it holds at least `count` (polled for
/// at most 30 seconds).
async fn shard_records(
    streams: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
    count: usize,
) -> (String, Vec<Record>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = streams
            .describe_stream()
            .stream_arn(arn)
            .send()
            .await
            .unwrap();
        let shards = described
            .stream_description()
            .map(|d| d.shards().to_vec())
            .unwrap_or_default();
        assert_eq!(shards.len(), 1, "DynamoDB Local's new stream has one shard");
        let shard = shards[0].shard_id().unwrap().to_string();
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        let mut records = Vec::new();
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .unwrap();
            if page.records().is_empty() {
                break;
            }
            records.extend(page.records().iter().cloned());
            iterator = page.next_shard_iterator;
        }
        if records.len() >= count {
            return (shard, records);
        }
        assert!(
            Instant::now() < deadline,
            "the stream holds {} records after 30 s, not {count}",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sequence(record: &Record) -> String {
    record
        .dynamodb()
        .and_then(|d| d.sequence_number())
        .unwrap()
        .to_string()
}

/// Lambda's on-failure record of a batch (the shape AWS documents for a DynamoDB stream
/// event source mapping's on-failure destination).
fn failure_record(arn: &str, shard: &str, batch: &[Record]) -> String {
    json!({
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4bda-8e8b-9f0d5a0b1c2d",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:events-stream",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 11
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-12-06T04:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": sequence(&batch[0]),
            "endSequenceNumber": sequence(batch.last().unwrap()),
            "approximateArrivalOfFirstRecord": "2026-12-06T03:59:00Z",
            "approximateArrivalOfLastRecord": "2026-12-06T03:59:00Z",
            "batchSize": batch.len(),
            "streamArn": arn
        }
    })
    .to_string()
}

/// What `events-stream` queues, kept.
#[derive(Default)]
struct Captured(Mutex<Vec<String>>);

impl Queue for Captured {
    async fn send(&self, bodies: Vec<String>) -> Result<(), String> {
        self.0.lock().unwrap().extend(bodies);
        Ok(())
    }
}

struct NoSockets;

impl Poster for NoSockets {
    async fn post(&self, _connection_id: &str, _data: &str) -> Posted {
        Posted::Sent
    }
}

/// Deliveries as a sorted list, their due time aside (each run's clock).
fn deliveries(bodies: &[String]) -> Vec<Delivery> {
    let mut deliveries: Vec<Delivery> = bodies
        .iter()
        .map(|body| {
            let mut delivery: Delivery = serde_json::from_str(body).unwrap();
            delivery.first_attempt_at = 0;
            delivery
        })
        .collect();
    deliveries.sort_by(|a, b| (&a.endpoint_id, &a.event_id).cmp(&(&b.endpoint_id, &b.event_id)));
    deliveries
}

fn customer(text: &str) -> NewMessage {
    NewMessage::now(
        Author::Customer,
        MessageText::parse(text).unwrap(),
        None,
        None,
    )
}

#[tokio::test]
async fn replay_queues_a_given_up_batchs_webhooks_as_events_stream_would_once() {
    let sqs = sqs();
    let (store, streams, arn) = table_with_stream().await;
    let messages_hook = WebhookEndpoint::new(
        WebhookUrl::parse("https://example.com/messages").unwrap(),
        vec![EventType::MessageCreated],
    );
    let ratings_hook = WebhookEndpoint::new(
        WebhookUrl::parse("https://example.com/ratings").unwrap(),
        vec![EventType::Rated],
    );
    store.add_webhook(&messages_hook).await.unwrap();
    store.add_webhook(&ratings_hook).await.unwrap();
    let chat = ConversationId::Chat(ChatId::generate());
    let owner = Email::parse("ann@example.com").unwrap().user_id().clone();
    let new = NewConversation {
        id: chat.clone(),
        owner: Caller::New {
            user: owner.clone(),
            pin: BearerToken::from_hex(&"01".repeat(32)).unwrap().digest(),
        },
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: customer("My invoice shows the wrong plan."),
        follow_up_of: None,
        receipt: None,
        source: None,
        notice_at: None,
    };
    store.create_conversation(&new).await.unwrap();
    let before = shard_records(&streams, &arn, 1).await.1.len();
    for text in ["It says Basic.", "Since Monday."] {
        store
            .append_message(&chat, &owner, &customer(text), None, None)
            .await
            .unwrap();
    }
    // The batch Lambda gave up on: everything the two appends wrote (the conversation's
    // records before them were delivered).
    let (shard, records) = shard_records(&streams, &arn, before + 2).await;
    let batch = &records[before..];
    let lambda: Vec<_> = batch.iter().map(|r| lambda_record(r).unwrap()).collect();
    let sent_by_events_stream = Captured::default();
    events_stream::handle(
        &store,
        &NoSockets,
        &sent_by_events_stream,
        lambda,
        now_millis(),
        &Counters::default(),
    )
    .await;
    let expected = deliveries(&sent_by_events_stream.0.lock().unwrap());
    assert_eq!(
        expected.len(),
        2,
        "one per message, to the messages endpoint only"
    );
    assert!(expected.iter().all(|d| d.endpoint_id == messages_hook.id));

    let (dead, webhooks) = (
        queue(&sqs, "events-dead").await,
        queue(&sqs, "webhooks").await,
    );
    sqs.send_message()
        .queue_url(&dead)
        .message_body(failure_record(&arn, &shard, batch))
        .send()
        .await
        .unwrap();

    // A dry run counts, queues nothing and keeps the message.
    let counted = replay_events(&sqs, &streams, &store, &NoQueue, &dead, true)
        .await
        .unwrap();
    assert_eq!((counted.messages, counted.replayed), (1, 1));
    assert_eq!(counted.records, batch.len() as u64);
    assert_eq!(counted.deliveries, 2);

    let queue_out = SqsQueue::with_client(sqs.clone(), webhooks.clone());
    let replayed = replay_events(&sqs, &streams, &store, &queue_out, &dead, false)
        .await
        .unwrap();
    assert_eq!(
        replayed,
        Replayed {
            messages: 1,
            replayed: 1,
            records: batch.len() as u64,
            deliveries: 2,
            kept: Vec::new(),
        },
        "the dry run left the message visible, and the replay took it"
    );
    let queued = drain(&sqs, &webhooks).await;
    assert_eq!(
        deliveries(&queued),
        expected,
        "the very deliveries events-stream queues: same endpoints, webhook-ids and bodies"
    );
    assert!(
        drain(&sqs, &dead).await.is_empty(),
        "the message was deleted"
    );

    let again = replay_events(&sqs, &streams, &store, &queue_out, &dead, false)
        .await
        .unwrap();
    assert_eq!(again, Replayed::default());
    assert!(drain(&sqs, &webhooks).await.is_empty());
}

#[tokio::test]
async fn a_batch_the_stream_does_not_hold_is_reported_and_its_message_kept() {
    let sqs = sqs();
    let (store, streams, arn) = table_with_stream().await;
    store
        .add_webhook(&WebhookEndpoint::new(
            WebhookUrl::parse("https://example.com/hooks").unwrap(),
            vec![EventType::MessageCreated],
        ))
        .await
        .unwrap();
    let (dead, webhooks) = (
        queue(&sqs, "events-dead").await,
        queue(&sqs, "webhooks").await,
    );
    let body = json!({
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000000000000000000-00000000",
            "startSequenceNumber": "100000000000000000001",
            "endSequenceNumber": "100000000000000000002",
            "streamArn": arn
        }
    })
    .to_string();
    sqs.send_message()
        .queue_url(&dead)
        .message_body(&body)
        .send()
        .await
        .unwrap();

    let queue_out = SqsQueue::with_client(sqs.clone(), webhooks.clone());
    let replayed = replay_events(&sqs, &streams, &store, &queue_out, &dead, false)
        .await
        .unwrap();

    assert_eq!((replayed.messages, replayed.replayed), (1, 0));
    assert_eq!(replayed.kept.len(), 1, "{replayed:?}");
    assert!(drain(&sqs, &webhooks).await.is_empty());
    assert_eq!(
        drain(&sqs, &dead).await,
        vec![body],
        "kept, and visible again"
    );
}
