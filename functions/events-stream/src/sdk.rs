//! The AWS side of [`crate::handle`]: API Gateway's Management API for the sockets,
//! SQS for the webhook queue, and the table for conversations' owners. Both clients
//! run on the shared HTTPS client (rustls on ring) of `dynamo::client`.

use crate::{Owners, Posted, Poster, Queue};
use aws_sdk_apigatewaymanagement::error::DisplayErrorContext;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use supportzen_shared::domain::{ConversationId, UserId};
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::store::{AgentReader, StoreError};

/// SQS takes at most ten messages per `SendMessageBatch`.
const SQS_BATCH: usize = 10;

/// One WebSocket API stage's `@connections` endpoint.
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// `endpoint` is the stage's HTTPS URL, `https://<api>.execute-api.<region>.amazonaws.com/<stage>`.
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        ManagementApi {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

impl Poster for ManagementApi {
    async fn post(&self, connection_id: &str, data: &str) -> Posted {
        let sent = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data.as_bytes()))
            .send()
            .await;
        match sent {
            Ok(_) => Posted::Sent,
            Err(err) => match err.as_service_error() {
                Some(PostToConnectionError::GoneException(_)) => Posted::Gone,
                _ => Posted::Failed(DisplayErrorContext(&err).to_string()),
            },
        }
    }
}

/// The webhook queue.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(config: &aws_config::SdkConfig, url: String) -> Self {
        Self::with_client(aws_sdk_sqs::Client::new(config), url)
    }

    /// On a client of the caller's (`supportzen ops replay-events`, its tests).
    pub fn with_client(client: aws_sdk_sqs::Client, url: String) -> Self {
        SqsQueue { client, url }
    }
}

impl Queue for SqsQueue {
    /// `SendMessageBatch`es of ten; any entry refused fails the whole (the record is
    /// retried, and its deliveries keep their `webhook-id`s).
    async fn send(&self, bodies: Vec<String>) -> Result<(), String> {
        for chunk in bodies.chunks(SQS_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(index, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
            // The codes only: the bodies are customers' data.
            if let Some(refused) = sent.failed().first() {
                return Err(format!(
                    "SQS refused {} of {} messages (first: {})",
                    sent.failed().len(),
                    chunk.len(),
                    refused.code()
                ));
            }
        }
        Ok(())
    }
}

impl Owners for DynamoStore {
    /// The conversation's `META` item: one `GetItem`, strongly consistent as every read
    /// of `DynamoStore` is (the owner, written with the conversation and never changed,
    /// would be right with an eventually consistent read too).
    async fn owner(&self, conversation: &ConversationId) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .find_conversation(conversation)
            .await?
            .map(|found| found.owner))
    }
}
