//! `supportzen ops redrive-webhooks --from-queue DLQ --to-queue QUEUE`, production's
//! redrive, on an SQS-compatible server (moto's, which ./scripts/test starts and names in
//! `AWS_ENDPOINT_URL_S3`; one moto server answers every service): every dead delivery is
//! moved back to the webhook queue once, its body (the delivery, with its event id: the
//! `webhook-id` it is sent under) unchanged. And `supportzen users erase --webhook-queue`
//! on a DynamoDB table: its `customer.erased` goes on the webhook queue as events-stream
//! queues deliveries, one per subscribed endpoint, and `webhook-deliver` delivers it
//! from there, signed.

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use std::collections::BTreeSet;
use supportzen::ops::redrive_queue;
use supportzen_shared::dynamo::client;

pub(crate) fn sqs() -> aws_sdk_sqs::Client {
    let moto = std::env::var("AWS_ENDPOINT_URL_S3").expect(
        "AWS_ENDPOINT_URL_S3 names no moto server: run these tests with ./scripts/test, which starts one",
    );
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .endpoint_url(moto)
        .http_client(client::https_client().unwrap())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

pub(crate) async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    let name = format!("{name}-{}", uuid::Uuid::now_v7().simple());
    let created = sqs.create_queue().queue_name(name).send().await.unwrap();
    created.queue_url.unwrap()
}

/// Every body in the queue, each received once and deleted.
pub(crate) async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(message.body.unwrap());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn every_dead_delivery_goes_back_to_the_webhook_queue_once_unchanged() {
    let sqs = sqs();
    let (dead, webhooks) = (queue(&sqs, "dead").await, queue(&sqs, "webhooks").await);
    // Twelve: more than one batch of ten.
    let bodies: BTreeSet<String> = (0..12)
        .map(|n| format!(r#"{{"endpointId":"wh_{n}","eventId":"evt_{n}","attempts":8}}"#))
        .collect();
    for body in &bodies {
        sqs.send_message()
            .queue_url(&dead)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    let moved = redrive_queue(&sqs, &dead, &webhooks).await.unwrap();

    assert_eq!(moved, 12);
    let back: Vec<String> = drain(&sqs, &webhooks).await;
    assert_eq!(back.len(), 12, "each once");
    assert_eq!(back.into_iter().collect::<BTreeSet<_>>(), bodies);
    assert!(drain(&sqs, &dead).await.is_empty());
    assert_eq!(redrive_queue(&sqs, &dead, &webhooks).await.unwrap(), 0);
}

/// The queue's `ChangeMessageVisibility` for `webhook-deliver`, which a delivered
/// message never calls.
struct NoRetry;

impl webhook_deliver::Visibility for NoRetry {
    async fn hide_for(&self, _: &str, wait: std::time::Duration) -> Result<(), String> {
        panic!("a delivered message waits for no retry ({wait:?})")
    }
}

/// `users erase --webhook-queue` queues `customer.erased` for the subscribed endpoint
/// only, and production's `webhook-deliver`, handed that message as SQS would, delivers
/// it to the endpoint signed (Standard Webhooks) under its event id.
#[tokio::test]
async fn an_erasure_queues_customer_erased_for_subscribed_endpoints_only() {
    use crate::webhooks::{Receiver, assert_signed};
    use supportzen::data_rights::{WebhookTarget, notify_erased};
    use supportzen_shared::domain::{
        AttachmentId, ContentType, Email, FileName, Uploader, now_millis,
    };
    use supportzen_shared::events::delivery::Delivery;
    use supportzen_shared::events::{EventType, WebhookEndpoint, WebhookUrl};
    use supportzen_shared::metrics::{Counter, Counters};
    use supportzen_shared::store::{CustomerEraser, UploadRecord, UploadRegistry, WebhookRegistry};
    use supportzen_shared::webhook_client::WebhookClient;

    let sqs = sqs();
    let webhooks = queue(&sqs, "webhooks").await;
    let (store, _) = supportzen_tests::dynamo::fresh_dynamo_store().await;
    let mut receiver = Receiver::start(&[]).await;
    let url = WebhookUrl::parse(&receiver.url).unwrap();
    let subscribed = WebhookEndpoint::new(url, vec![EventType::CustomerErased]);
    let elsewhere = WebhookUrl::parse("https://example.com/hooks").unwrap();
    let other = WebhookEndpoint::new(elsewhere, vec![EventType::MessageCreated]);
    store.add_webhook(&subscribed).await.unwrap();
    store.add_webhook(&other).await.unwrap();
    // Ann's only item: an upload she never attached, which the erasure's scan finds.
    let ann = Email::parse("ann@example.com").unwrap().user_id().clone();
    store
        .record_upload(&UploadRecord {
            id: AttachmentId::generate(),
            uploader: Uploader::customer(&ann),
            name: FileName::parse("receipt.png").unwrap(),
            content_type: ContentType::Png,
            size: 42,
            created_at: now_millis(),
            attached_to: None,
        })
        .await
        .unwrap();
    let target = WebhookTarget::Queue {
        sqs: sqs.clone(),
        url: webhooks.clone(),
    };

    let erased = store.erase_customer(&ann).await.unwrap();
    assert_eq!(erased.uploads, 1, "{erased:?}");
    let report = notify_erased(&store, &target, &ann, &erased, 1)
        .await
        .unwrap();
    assert_eq!(report["queued"], 1, "{report}");
    let again = store.erase_customer(&ann).await.unwrap();
    let report = notify_erased(&store, &target, &ann, &again, 0)
        .await
        .unwrap();
    assert_eq!(report["queued"], 0, "nothing was left to erase: {report}");

    let bodies = drain(&sqs, &webhooks).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let delivery: Delivery = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(delivery.endpoint_id, subscribed.id);
    assert_eq!(delivery.event_type, EventType::CustomerErased);
    assert_eq!(delivery.attempts, 0);
    let event: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(event["id"], delivery.event_id.as_str());
    assert_eq!(event["data"]["customer"]["email"], "ann@example.com");
    assert_eq!(event["data"]["erased"]["uploads"], 1);
    assert_eq!(event["data"]["erased"]["files"], 1);

    // The queued message, as SQS hands it to the function. Production's client refuses
    // loopback hosts (the Runtime API is there); the receiver here is on one.
    let message = serde_json::from_value(serde_json::json!({
        "messageId": "059f36b4-87a3-44ab-83d2-661975970003",
        "receiptHandle": "AQEBerased",
        "body": bodies[0],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
    }))
    .unwrap();
    let counters = Counters::default();
    let client = WebhookClient::new().unwrap();
    let response =
        webhook_deliver::handle(&store, &client, &NoRetry, vec![message], &counters).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(counters.get(Counter::WebhookDelivered), 1);
    let received = receiver.next().await;
    assert_signed(&subscribed, &received);
    assert_eq!(received.id, delivery.event_id);
    let sent: serde_json::Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(sent["type"], "customer.erased", "{sent}");
    assert_eq!(sent, event, "the queued event, as queued");
}
