//! The `events-stream` function: each batch of the table's change stream, in order,
//! turned into events (`supportzen_shared::dynamo::stream`) and delivered:
//!
//! - to the webhook queue, first (every event of a record, before any post): one message
//!   per enabled endpoint that wants the event's type, carrying a [`Delivery`] that
//!   `webhook-deliver` attempts. Only the endpoints' subscriptions are read (ids, event
//!   types, flags), never a URL or a secret;
//! - then to the WebSocket connections listed for the event's audience (all agents; and,
//!   for a public event, its customer), each posted the socket envelope through API
//!   Gateway's Management API, [`POST_CONCURRENCY`] at a time. Posts are best effort: a
//!   connection that misses one catches up by reading when it reconnects. A connection
//!   that answers 410 Gone is unlisted, exactly that one under the audience it was found
//!   in, unless it connected within the grace period (it may still be opening).
//!
//! Failures are reported per record (`ReportBatchItemFailures`): the first record whose
//! events could not be read or queued (a store or queue error) is reported and the rest
//! of the batch left, so that Lambda retries from it and events keep their order. A
//! retried record makes the same event ids, so a receiver drops what it already had. A
//! failed post fails nothing: were it to, the record's other connections would get the
//! event again on every retry, and a record Lambda gives up on would take its webhooks
//! with it. A record that can never make an event (not what the table's items look
//! like) is logged and passed over, not retried.
//!
//! The handler only needs narrow traits ([`Poster`], [`Queue`], [`Owners`] and the
//! store's connection and webhook traits), so it is tested with in-memory fakes;
//! `sdk.rs` holds the AWS implementations.

pub mod sdk;

use aws_lambda_events::dynamodb::EventRecord;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures_util::stream::{self as futures_stream, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use supportzen_shared::domain::{ConversationId, UserId};
use supportzen_shared::dynamo::stream::{self, Change, Operation, Pending};
use supportzen_shared::events::delivery::Delivery;
use supportzen_shared::events::{Event, EventType, Visibility, WebhookSubscription};
use supportzen_shared::metrics::{Counter, Counters};
use supportzen_shared::store::{
    Audience, ConnectionReader, ConnectionWriter, StoreError, WebhookRegistry,
};

/// How many posts of one event are in flight at once: enough to reach a few hundred
/// connections in a few round trips, without opening a connection to the Management API
/// per socket.
pub const POST_CONCURRENCY: usize = 32;

/// How a post to one connection went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    Sent,
    /// 410: the client has gone, or is not connected yet; see [`handle`].
    Gone,
    /// Anything else (throttled, a full client buffer, no answer): logged, not retried.
    Failed(String),
}

/// Pushes data to one WebSocket connection (API Gateway's `@connections` API).
pub trait Poster {
    fn post(&self, connection_id: &str, data: &str) -> impl Future<Output = Posted> + Send;
}

/// The webhook queue.
pub trait Queue {
    /// Enqueues every body, or fails (some may have been enqueued).
    fn send(&self, bodies: Vec<String>) -> impl Future<Output = Result<(), String>> + Send;
}

/// Whose conversation it is: what a message's event is routed by (message items do not
/// carry it; see `stream::AddedMessage`).
pub trait Owners {
    fn owner(
        &self,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Option<UserId>, StoreError>> + Send;
}

/// Why a record was not delivered, to be retried.
#[derive(Debug, PartialEq)]
enum Undelivered {
    Store(String),
    Queue(String),
}

impl std::fmt::Display for Undelivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undelivered::Store(reason) => write!(f, "the table could not be read: {reason}"),
            Undelivered::Queue(reason) => write!(f, "the webhook queue refused it: {reason}"),
        }
    }
}

/// Delivers one batch at `now` (ms) and names the record to retry from, if any.
pub async fn handle<S, P, Q>(
    store: &S,
    poster: &P,
    queue: &Q,
    records: Vec<EventRecord>,
    now: i64,
    counters: &Counters,
) -> DynamoDbEventResponse
where
    S: ConnectionReader + ConnectionWriter + WebhookRegistry + Owners + Sync,
    P: Poster + Sync,
    Q: Queue + Sync,
{
    let mut batch = Batch {
        webhooks: Webhooks::new(store, queue, now),
        poster,
        counters,
    };
    let mut response = DynamoDbEventResponse::default();
    for record in records {
        let sequence_number = record.change.sequence_number.clone();
        if let Err(err) = batch.record(record).await {
            tracing::warn!(error = %err, "record not delivered; retried from it");
            let mut failure = DynamoDbBatchItemFailure::default();
            // Without one, Lambda retries the whole batch, which is still right.
            failure.item_identifier = sequence_number;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

/// One batch's work: its webhooks (with what they read once for all its records) and
/// its posts.
struct Batch<'a, S, P, Q> {
    webhooks: Webhooks<'a, S, Q>,
    poster: &'a P,
    counters: &'a Counters,
}

impl<S, P, Q> Batch<'_, S, P, Q>
where
    S: ConnectionReader + ConnectionWriter + WebhookRegistry + Owners + Sync,
    P: Poster + Sync,
    Q: Queue + Sync,
{
    async fn record(&mut self, record: EventRecord) -> Result<(), Undelivered> {
        let events = self
            .webhooks
            .events(change(record, self.webhooks.now))
            .await?;
        // Every read and queue send of the record's events first: once they are done
        // nothing can fail the record, so a retry never posts an event twice.
        let mut posts = Vec::new();
        for event in events {
            let connections = self.connections(&event).await?;
            self.webhooks.enqueue(&event).await?;
            posts.push((event, connections));
        }
        for (event, connections) in posts {
            if event.kind == EventType::MessageCreated {
                self.counters.add(Counter::MessagesWritten, 1);
            }
            self.push(&event, connections).await;
        }
        Ok(())
    }

    /// The connections the event goes to, each with the audience it is listed under.
    async fn connections(&self, event: &Event) -> Result<Vec<(Audience, String)>, Undelivered> {
        let mut audiences = vec![Audience::Agents];
        if event.visibility == Visibility::Public {
            audiences.push(Audience::Customer(event.owner.clone()));
        }
        let mut connections = Vec::new();
        for audience in audiences {
            let listed = self
                .webhooks
                .store
                .connections(&audience, self.webhooks.now)
                .await
                .map_err(|e| Undelivered::Store(e.to_string()))?;
            connections.extend(listed.into_iter().map(|id| (audience.clone(), id)));
        }
        Ok(connections)
    }

    /// Posts the envelope to each connection, [`POST_CONCURRENCY`] at a time. A failure
    /// is logged by connection id alone (the audience may be a customer's email).
    async fn push(&self, event: &Event, connections: Vec<(Audience, String)>) {
        let envelope = event.to_json();
        let envelope = envelope.as_str();
        futures_stream::iter(connections)
            .map(|(audience, connection)| async move {
                match self.poster.post(&connection, envelope).await {
                    Posted::Sent => self.counters.add(Counter::SocketPosts, 1),
                    Posted::Gone => {
                        self.counters.add(Counter::SocketGone, 1);
                        self.unlist(&connection, &audience).await
                    }
                    Posted::Failed(reason) => tracing::warn!(
                        connection,
                        reason,
                        "event not posted; the client catches up when it reconnects"
                    ),
                }
            })
            .buffer_unordered(POST_CONCURRENCY)
            .for_each(|()| async {})
            .await;
    }

    /// Unlists a connection that answered 410, unless it connected within the grace
    /// period: API Gateway answers 410 to a connection still being opened, which its
    /// `$connect` route has already listed. If the delete fails, the next event's 410
    /// (or the item's time-to-live) removes it.
    async fn unlist(&self, connection: &str, audience: &Audience) {
        match self
            .webhooks
            .store
            .remove_gone_connection(connection, audience, self.webhooks.now)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::info!(
                connection,
                "a connection answered 410 within its grace period; kept"
            ),
            Err(err) => tracing::warn!(
                connection,
                error = %err,
                "a gone connection stays listed for now"
            ),
        }
    }
}

/// A batch's webhooks: its events made from its changes (a message's owner read once per
/// conversation) and queued, one message per endpoint that wants each. `handle` and
/// [`requeue`] (the replay of records Lambda gave up on) both queue through it, so a
/// replayed record's deliveries are the ones `handle` would have queued.
struct Webhooks<'a, S, Q> {
    store: &'a S,
    queue: &'a Q,
    now: i64,
    owners: HashMap<ConversationId, UserId>,
    /// The webhook endpoints' subscriptions, read at the first event that needs them.
    subscriptions: Option<Vec<WebhookSubscription>>,
}

impl<'a, S, Q> Webhooks<'a, S, Q>
where
    S: WebhookRegistry + Owners + Sync,
    Q: Queue + Sync,
{
    fn new(store: &'a S, queue: &'a Q, now: i64) -> Self {
        Webhooks {
            store,
            queue,
            now,
            owners: HashMap::new(),
            subscriptions: None,
        }
    }

    /// The events of a change, in order. A change that can never make an event (not
    /// what the table's items look like) makes none: logged and passed over.
    async fn events(&mut self, change: Result<Change, String>) -> Result<Vec<Event>, Undelivered> {
        let decoded = change.and_then(|change| stream::events(&change).map_err(|e| e.to_string()));
        let pending = match decoded {
            Ok(pending) => pending,
            Err(reason) => {
                tracing::error!(reason, "stream record makes no event; passed over");
                return Ok(Vec::new());
            }
        };
        let mut events = Vec::new();
        for pending in pending {
            match pending {
                Pending::Event(event) => events.push(event),
                Pending::Message(added) => match self.owner(added.conversation()).await? {
                    Some(owner) => events.push(added.into_event(&owner)),
                    None => tracing::error!(
                        conversation = added.conversation().key(),
                        "a message of a conversation with no META item; passed over"
                    ),
                },
            }
        }
        Ok(events)
    }

    async fn owner(
        &mut self,
        conversation: &ConversationId,
    ) -> Result<Option<UserId>, Undelivered> {
        if let Some(owner) = self.owners.get(conversation) {
            return Ok(Some(owner.clone()));
        }
        let owner = self
            .store
            .owner(conversation)
            .await
            .map_err(|e| Undelivered::Store(e.to_string()))?;
        if let Some(owner) = &owner {
            self.owners.insert(conversation.clone(), owner.clone());
        }
        Ok(owner)
    }

    /// One queue message per endpoint that wants the event.
    async fn enqueue(&mut self, event: &Event) -> Result<usize, Undelivered> {
        let subscriptions = match &self.subscriptions {
            Some(subscriptions) => subscriptions,
            None => {
                let read = self
                    .store
                    .subscriptions()
                    .await
                    .map_err(|e| Undelivered::Store(e.to_string()))?;
                self.subscriptions.insert(read)
            }
        };
        let bodies: Vec<String> = Delivery::for_subscriptions(subscriptions, event, self.now)
            .iter()
            .map(|delivery| serde_json::to_string(delivery).expect("a delivery is plain JSON"))
            .collect();
        let count = bodies.len();
        if count == 0 {
            return Ok(0);
        }
        self.queue.send(bodies).await.map_err(Undelivered::Queue)?;
        Ok(count)
    }
}

/// `supportzen ops replay-events`: queues again the webhooks of stream records Lambda
/// gave up on (read back from the stream), exactly as [`handle`] queues them: the
/// same events (their ids come from the records' `eventID`s, so each delivery keeps its
/// `webhook-id`), to the endpoints subscribed now. Nothing is posted to sockets: the
/// clients have caught up by reading. Returns how many deliveries were queued; a failure
/// may leave some queued (a later replay queues them again, under the same ids).
pub async fn requeue<S, Q>(
    store: &S,
    queue: &Q,
    records: Vec<EventRecord>,
    now: i64,
) -> Result<usize, String>
where
    S: WebhookRegistry + Owners + Sync,
    Q: Queue + Sync,
{
    let mut webhooks = Webhooks::new(store, queue, now);
    let mut queued = 0;
    for record in records {
        for event in webhooks
            .events(change(record, now))
            .await
            .map_err(|e| e.to_string())?
        {
            queued += webhooks.enqueue(&event).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(queued)
}

/// A stream record as the change it describes; `now` (ms) stands in for a missing
/// `ApproximateCreationDateTime`.
fn change(record: EventRecord, now: i64) -> Result<Change, String> {
    let image = |item: serde_dynamo::Item| (!item.is_empty()).then(|| item.into());
    let written = record
        .change
        .approximate_creation_date_time
        .timestamp_millis();
    Ok(Change {
        operation: Operation::parse(&record.event_name)
            .map_err(|e| format!("record {}: {e}", record.event_id))?,
        event_id: record.event_id,
        at: if written > 0 { written } else { now },
        old: image(record.change.old_image),
        new: image(record.change.new_image),
    })
}

#[cfg(test)]
mod tests;
