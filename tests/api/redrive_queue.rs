//! `supportzen ops redrive-webhooks --from-queue DLQ --to-queue QUEUE`, production's
//! redrive, on an SQS-compatible server (moto's, which ./scripts/test starts and names in
//! `AWS_ENDPOINT_URL_S3`; one moto server answers every service): every dead delivery is
//! moved back to the webhook queue once, its body (the delivery, with its event id: the
//! `webhook-id` it is sent under) unchanged.

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
        .http_client(client::https_client())
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
