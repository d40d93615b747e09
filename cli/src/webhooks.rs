//! Webhooks from the local server. Committed events become deliveries in the durable
//! outbox ([`WebhookOutbox`], an [`EventSink`]: one per enabled endpoint that wants the
//! event's type), and a [`Worker`] attempts them: delivered ones leave the outbox, a 410
//! disables the endpoint and drops what it still had coming, other failures are retried
//! on the schedule and, once it is used up, kept as dead letters; a delivery whose
//! endpoint is removed, disabled or no longer subscribed is dropped unattempted.
//! Production does the same with SQS and the `webhook-deliver` function, through the
//! same [`WebhookClient::attempt`] and the same decisions ([`Delivery::recipient`],
//! [`Next::after`]).

use crate::store_url::StoreUrl;
use futures_util::future::join_all;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use supportzen_shared::domain::now_millis;
use supportzen_shared::events::delivery::{Delivery, Failed, Next, Outcome};
use supportzen_shared::events::{Event, WebhookEndpoint};
use supportzen_shared::store::{EventSink, StoreError, WebhookRegistry};
use supportzen_shared::webhook_client::WebhookClient;
use supportzen_sqlite::outbox::{Claim, Outbox};
use tokio::sync::{Notify, broadcast, oneshot};
use tokio::task::JoinHandle;

/// Deliveries a worker claims at once; they are attempted concurrently, so one slow
/// receiver does not hold up the others.
const BATCH: usize = 32;

/// How long a claimed delivery is left to its worker: well over an attempt's 15 s. A
/// worker that dies mid-attempt leaves it due again after this.
const LEASE: Duration = Duration::from_secs(60);

/// How many ended attempts [`Worker::attempts`] keeps for a reader that is behind.
pub const ATTEMPTS_KEPT: usize = 256;

/// How long the worker waits after the outbox or the store failed before trying again.
const PAUSE_AFTER_ERROR: Duration = Duration::from_secs(1);

/// The longest the worker waits without reading the outbox: deliveries another process
/// put back (a redrive) go out within this.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// The webhook side of the local server's event sinks: enqueues each committed event
/// for the endpoints that want it, durably, and wakes the worker.
#[derive(Clone)]
pub struct WebhookOutbox<S> {
    registry: S,
    outbox: Outbox,
    wake: Arc<Notify>,
}

impl<S> WebhookOutbox<S> {
    /// Enqueues into `outbox` for the endpoints `registry` holds.
    pub fn new(registry: S, outbox: Outbox) -> Self {
        WebhookOutbox {
            registry,
            outbox,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Starts the worker that attempts this outbox's deliveries over `client`, retrying
    /// after the waits of `schedule` (`RETRY_DELAYS` for the server). It runs until
    /// [`Worker::stop`], or until the [`Worker`] is dropped.
    pub fn start_worker(&self, client: WebhookClient, schedule: &'static [Duration]) -> Worker
    where
        S: WebhookRegistry + Clone + Send + Sync + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let (attempts, since_start) = broadcast::channel(ATTEMPTS_KEPT);
        let run = Run {
            registry: self.registry.clone(),
            outbox: self.outbox.clone(),
            client,
            schedule,
            attempts: attempts.clone(),
        };
        let task = tokio::spawn(run.forever(Arc::clone(&self.wake), stopped));
        Worker {
            stop,
            task,
            attempts,
            since_start: Some(since_start),
        }
    }
}

impl<S: WebhookRegistry + Send + Sync> WebhookOutbox<S> {
    /// Enqueues `event` for the endpoints that want it, on disk when this returns, and
    /// wakes the worker. Reads the endpoints' subscriptions only: no URL, no secret. A
    /// delivery of the event to an endpoint still pending is not added twice.
    pub async fn enqueue(&self, event: &Event) -> Result<(), StoreError> {
        let now = now_millis();
        if self.enqueue_due_at(&[event], now, now).await? {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Enqueues `events` for the endpoints that want them, in one transaction, on disk
    /// when this returns, but held: not due before `held_until` (ms), and the worker is
    /// not woken. The relay then [`WebhookOutbox::settle`]s them.
    pub async fn hold(&self, events: &[&Event], held_until: i64) -> Result<(), StoreError> {
        self.enqueue_due_at(events, now_millis(), held_until)
            .await
            .map(|_| ())
    }

    /// Makes the held deliveries (see [`WebhookOutbox::hold`]) of the events `release`
    /// due now and wakes the worker; drops every pending delivery of the events `drop`.
    pub async fn settle(
        &self,
        held_until: i64,
        release: Vec<String>,
        drop: Vec<String>,
    ) -> Result<(), StoreError> {
        let wake = !release.is_empty();
        self.outbox
            .settle_held(held_until, now_millis(), release, drop)
            .await?;
        if wake {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Enqueues the deliveries of `events`, first attempted at `now`, due at `due_at`:
    /// one read of the subscriptions and one outbox transaction for them all. `true` if
    /// there were any.
    async fn enqueue_due_at(
        &self,
        events: &[&Event],
        now: i64,
        due_at: i64,
    ) -> Result<bool, StoreError> {
        let subscriptions = self.registry.subscriptions().await?;
        let deliveries: Vec<Delivery> = events
            .iter()
            .flat_map(|&event| Delivery::for_subscriptions(&subscriptions, event, now))
            .collect();
        if deliveries.is_empty() {
            return Ok(false);
        }
        self.outbox.enqueue(deliveries, due_at).await?;
        Ok(true)
    }
}

/// For `store::Publishing` (a store without an event journal): an event the outbox
/// cannot take is logged and lost.
impl<S: WebhookRegistry + Send + Sync> EventSink for WebhookOutbox<S> {
    async fn publish(&self, event: Event) {
        if let Err(err) = self.enqueue(&event).await {
            tracing::error!(event = %event.id, %err, "webhook deliveries not queued");
        }
    }
}

/// One attempt, as the worker made it: for logs and for tests to wait on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempted {
    pub endpoint_id: String,
    pub event_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub outcome: Outcome,
}

/// The running worker.
pub struct Worker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    attempts: broadcast::Sender<Attempted>,
    /// Subscribed before the worker started, until someone takes it.
    since_start: Option<broadcast::Receiver<Attempted>>,
}

impl Worker {
    /// The attempts as they end: on the first call, every one since the worker started
    /// (the last [`ATTEMPTS_KEPT`] of them); on later calls, those from then on.
    pub fn attempts(&mut self) -> broadcast::Receiver<Attempted> {
        self.since_start
            .take()
            .unwrap_or_else(|| self.attempts.subscribe())
    }

    /// Stops the worker and waits until it has: attempts under way are abandoned and
    /// their deliveries given back to the outbox, due at once for the next worker.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await {
            tracing::error!(%err, "the webhook worker failed");
        }
    }
}

/// What the worker's task owns.
struct Run<S> {
    registry: S,
    outbox: Outbox,
    client: WebhookClient,
    schedule: &'static [Duration],
    attempts: broadcast::Sender<Attempted>,
}

impl<S: WebhookRegistry + Sync> Run<S> {
    /// Attempts what is due, then waits for the next due time or a new delivery; until
    /// `stopped` completes (or its sender is dropped).
    async fn forever(self, wake: Arc<Notify>, mut stopped: oneshot::Receiver<()>) {
        loop {
            let pause = match self.due_now().await {
                Ok(claims) if !claims.is_empty() => {
                    tokio::select! {
                        () = self.attempt_all(&claims) => continue,
                        _ = &mut stopped => {
                            self.give_back(&claims).await;
                            return;
                        }
                    }
                }
                Ok(_) => self
                    .outbox
                    .next_due()
                    .await
                    .map(|due| due.map(millis_until)),
                Err(err) => Err(err),
            }
            .unwrap_or_else(|err| {
                tracing::error!(%err, "webhook outbox unreadable");
                Some(PAUSE_AFTER_ERROR)
            });
            // With nothing due, look again now and then all the same: another process
            // (`supportzen ops redrive-webhooks`) may have added deliveries to the file.
            let sleep = tokio::time::sleep(pause.unwrap_or(IDLE_RECHECK).min(IDLE_RECHECK));
            tokio::select! {
                () = wake.notified() => {}
                () = sleep => {}
                _ = &mut stopped => return,
            }
        }
    }

    /// Claims the deliveries due now.
    async fn due_now(&self) -> Result<Vec<Claim>, supportzen_shared::store::StoreError> {
        let now = now_millis();
        let lease_until = now.saturating_add(millis(LEASE));
        self.outbox.claim_due(now, lease_until, BATCH).await
    }

    /// Attempts `claims` concurrently, each against the endpoint as it is now.
    async fn attempt_all(&self, claims: &[Claim]) {
        let endpoints: HashMap<String, WebhookEndpoint> = match self.registry.webhooks().await {
            Ok(endpoints) => endpoints.into_iter().map(|e| (e.id.clone(), e)).collect(),
            Err(err) => {
                tracing::error!(%err, "webhook endpoints unreadable; deliveries wait");
                let later = now_millis().saturating_add(millis(PAUSE_AFTER_ERROR));
                for claim in claims {
                    let _ = self.outbox.release(claim, later).await;
                }
                return;
            }
        };
        join_all(
            claims
                .iter()
                .map(|claim| self.attempt(claim, endpoints.get(&claim.delivery.endpoint_id))),
        )
        .await;
    }

    /// Attempts one delivery and records what came of it.
    async fn attempt(&self, claim: &Claim, endpoint: Option<&WebhookEndpoint>) {
        let delivery = &claim.delivery;
        let Some(endpoint) = delivery.recipient(endpoint) else {
            tracing::info!(endpoint = %delivery.endpoint_id, event = %delivery.event_id, "webhook delivery dropped: the endpoint is removed, disabled or no longer subscribed");
            self.record(self.outbox.finish(claim).await);
            return;
        };
        let outcome = self.client.attempt(endpoint, delivery).await;
        let attempt = delivery.attempts.saturating_add(1);
        tracing::info!(endpoint = %endpoint.id, event = %delivery.event_id, attempt, %outcome, "webhook attempt");
        match Next::after(attempt, &outcome, self.schedule) {
            Next::Done => self.record(self.outbox.finish(claim).await),
            Next::Disable => self.disable(claim, attempt).await,
            Next::Failed { reason, then } => self.failed(claim, attempt, then, reason).await,
        }
        let _ = self.attempts.send(Attempted {
            endpoint_id: endpoint.id.clone(),
            event_id: delivery.event_id.clone(),
            attempt,
            outcome,
        });
    }

    /// After a 410: the endpoint is disabled and its pending deliveries dropped. If the
    /// store cannot disable it now, the attempt counts as failed: the delivery is retried
    /// (and will likely be told 410 again).
    async fn disable(&self, claim: &Claim, attempt: u32) {
        let id = &claim.delivery.endpoint_id;
        match self.registry.disable_webhook(id).await {
            Ok(_) => {
                tracing::warn!(endpoint = %id, "webhook endpoint answered 410 Gone: disabled");
                if let Err(err) = self.outbox.drop_endpoint(id).await {
                    tracing::error!(endpoint = %id, %err, "deliveries to a disabled endpoint not dropped; they will be at their next attempt");
                }
            }
            Err(err) => {
                tracing::error!(endpoint = %id, %err, "webhook endpoint answered 410 but could not be disabled");
                let then = Failed::after(attempt, self.schedule);
                self.failed(claim, attempt, then, "answered 410 Gone; disabling failed")
                    .await;
            }
        }
    }

    /// After failed attempt number `attempt`: due again after the schedule's wait, or a
    /// dead letter once the schedule is used up, as `then` says.
    async fn failed(&self, claim: &Claim, attempt: u32, then: Failed, reason: &str) {
        let now = now_millis();
        let recorded = match then {
            Failed::RetryAfter(wait) => {
                let at = now.saturating_add(millis(wait));
                self.outbox.retry_at(claim, attempt, at, reason).await
            }
            Failed::Dead => {
                let delivery = &claim.delivery;
                tracing::warn!(endpoint = %delivery.endpoint_id, event = %delivery.event_id, attempts = attempt, "webhook delivery dead: retries exhausted");
                self.outbox.bury(claim, attempt, now, reason).await
            }
        };
        self.record(recorded);
    }

    /// Logs an outbox write that failed or found its claim gone. Either way nothing is
    /// lost: a claim that was not settled is due again when its lease ends.
    fn record(&self, result: Result<bool, supportzen_shared::store::StoreError>) {
        match result {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "a webhook delivery's claim had ended before its outcome was recorded"
            ),
            Err(err) => {
                tracing::error!(%err, "a webhook attempt's outcome was not recorded; the delivery will be attempted again")
            }
        }
    }

    /// Hands claims back, due now, when the worker stops with attempts under way. Those
    /// already settled are left as they are (their claim has ended).
    async fn give_back(&self, claims: &[Claim]) {
        let now = now_millis();
        for claim in claims {
            if let Err(err) = self.outbox.release(claim, now).await {
                tracing::error!(%err, "a webhook delivery was not given back; it is due again when its lease ends");
            }
        }
    }
}

/// The outbox of a store, when none is named: beside a `sqlite:PATH` store, `PATH` with
/// `-outbox` before its extension (`supportzen.db` gives `supportzen-outbox.db`); for
/// `dynamodb:TABLE`, `supportzen-outbox-TABLE.db` in the working directory; in memory
/// for `sqlite::memory:`, which keeps nothing across a restart either. One outbox per
/// store: a server finds the endpoints of its own store only.
pub fn default_outbox(store: &StoreUrl) -> String {
    match store {
        StoreUrl::Sqlite(path) if path == ":memory:" => ":memory:".into(),
        StoreUrl::Sqlite(path) => {
            let path = std::path::Path::new(path);
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let name = match path.extension() {
                Some(extension) => format!("{stem}-outbox.{}", extension.to_string_lossy()),
                None => format!("{stem}-outbox"),
            };
            path.with_file_name(name).to_string_lossy().into_owned()
        }
        StoreUrl::Dynamo(table) => format!("supportzen-outbox-{table}.db"),
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// How long until `at` (ms since the epoch); zero if it has passed.
fn millis_until(at: i64) -> Duration {
    let wait = at.saturating_sub(now_millis()).max(0);
    Duration::from_millis(u64::try_from(wait).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_has_its_own_outbox() {
        let outbox = |store: &str| default_outbox(&store.parse().unwrap());
        assert_eq!(outbox("sqlite:supportzen.db"), "supportzen-outbox.db");
        assert_eq!(
            outbox("sqlite:/var/lib/sz/desk.sqlite"),
            "/var/lib/sz/desk-outbox.sqlite"
        );
        assert_eq!(outbox("sqlite:data/store"), "data/store-outbox");
        assert_eq!(outbox("sqlite::memory:"), ":memory:");
        assert_eq!(
            outbox("dynamodb:supportzen"),
            "supportzen-outbox-supportzen.db"
        );
    }
}
