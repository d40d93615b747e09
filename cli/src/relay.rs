//! How committed events reach the local server's sinks (the realtime hub, then the
//! webhook outbox), per store ([`LocalEvents`]).
//!
//! On SQLite the store journals each change's events in the change's own transaction
//! (`supportzen_sqlite::journal`). Once the write committed, the store hands the same
//! events (same ids) to the hub, before the request is answered, and wakes the
//! [`Relay`]. The relay reads the journal in commit order, queues each event's webhook
//! deliveries in the outbox, and forgets the events only once those are on disk. It
//! also drains on start what a previous server left (one killed between a commit and the
//! outbox loses no webhook), and looks again every 30 s all the same. If the outbox
//! cannot be written, the events stay in the journal; the relay logs an error with how
//! many wait, and tries again a second after each failure. The hub is not relayed: its
//! sockets live in the process, and die with it, so it gets each event once, at the
//! commit, as before.
//!
//! A relay that dies after queuing events and before forgetting them queues them again,
//! under the same event ids: a delivery still pending is not added twice (the outbox is
//! unique on endpoint and event), but one already delivered is delivered again.
//! Receivers drop repeats by `webhook-id`, as with SQS's at-least-once delivery in
//! production.
//!
//! On DynamoDB Local the events are published after the write returns
//! (`store::Publishing`): a server that dies in between loses them. Production takes
//! them from the table's stream instead.

use crate::sinks::LocalSinks;
use crate::webhooks::WebhookOutbox;
use std::sync::Arc;
use std::time::Duration;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::events::Event;
use supportzen_shared::store::{StoreError, WebhookRegistry};
use supportzen_sqlite::SqliteStore;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// Journaled events read at once.
const BATCH: usize = 64;

/// How long the relay waits after the journal or the outbox failed before trying again.
const PAUSE_AFTER_ERROR: Duration = Duration::from_secs(1);

/// The longest the relay waits without reading the journal, woken or not.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// How a store's committed events reach the local server's `sinks`.
pub trait LocalEvents: Sized {
    /// The store as the server is to use it (wrapped in `store::Publishing`, which
    /// publishes only for a store that does not journal), and the relay that carries
    /// its journal to `sinks` if it keeps one.
    fn relay_to(self, sinks: LocalSinks<Self>) -> (Self, Option<Relay>);
}

/// The store journals; its commits reach the hub, and the relay the outbox.
impl LocalEvents for SqliteStore {
    fn relay_to(self, sinks: LocalSinks<Self>) -> (Self, Option<Relay>) {
        let wake = Arc::new(Notify::new());
        let (hub, woken) = (Arc::clone(&sinks.realtime), Arc::clone(&wake));
        let store = self.with_event_journal(Arc::new(move |events: Vec<Event>| {
            if events.is_empty() {
                return;
            }
            for event in events {
                hub.publish_now(event);
            }
            woken.notify_one();
        }));
        let relay = Relay::start(store.clone(), sinks.webhooks, wake);
        (store, Some(relay))
    }
}

/// No journal: `store::Publishing` publishes after each write.
impl LocalEvents for DynamoStore {
    fn relay_to(self, _sinks: LocalSinks<Self>) -> (Self, Option<Relay>) {
        (self, None)
    }
}

/// The running relay: stops when [`Relay::stop`]ped or dropped.
pub struct Relay {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Relays `store`'s journal into `webhooks` (or, with none, only forgets it), at
    /// once and whenever `wake` is notified.
    fn start(
        store: SqliteStore,
        webhooks: Option<WebhookOutbox<SqliteStore>>,
        wake: Arc<Notify>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        let run = Run { store, webhooks };
        let task = tokio::spawn(run.forever(wake, stopped));
        Relay { stop, task }
    }

    /// Relays what is journaled now, then stops and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await {
            tracing::error!(%err, "the event relay failed");
        }
    }
}

struct Run<S> {
    store: SqliteStore,
    webhooks: Option<WebhookOutbox<S>>,
}

impl<S: WebhookRegistry + Send + Sync> Run<S> {
    async fn forever(self, wake: Arc<Notify>, mut stopped: oneshot::Receiver<()>) {
        match self.store.journal_len().await {
            Ok(0) => {}
            Ok(left) => {
                tracing::info!(
                    events = left,
                    "relaying the events a previous server left in its journal"
                )
            }
            Err(err) => tracing::error!(%err, "the event journal is unreadable"),
        }
        loop {
            let pause = match self.drain().await {
                Ok(()) => IDLE_RECHECK,
                Err(err) => {
                    let waiting = self.store.journal_len().await.ok();
                    tracing::error!(%err, waiting, "journaled events not relayed yet; they stay in the journal and are tried again");
                    PAUSE_AFTER_ERROR
                }
            };
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
                _ = &mut stopped => {
                    // What the last requests committed, before the worker stops.
                    if let Err(err) = self.drain().await {
                        tracing::error!(%err, "journaled events left for the next server");
                    }
                    return;
                }
            }
        }
    }

    /// Queues every journaled event's deliveries, oldest first, forgetting each batch
    /// once they are on disk. On an error, those queued are forgotten first.
    async fn drain(&self) -> Result<(), StoreError> {
        loop {
            let batch = self.store.journaled_events(BATCH).await?;
            let Some(last) = batch.last().map(|entry| entry.seq) else {
                return Ok(());
            };
            let mut done = None;
            for entry in &batch {
                match (&entry.event, &self.webhooks) {
                    (Ok(event), Some(webhooks)) => {
                        if let Err(err) = webhooks.enqueue(event).await {
                            if let Some(done) = done {
                                self.store.forget_events(done).await?;
                            }
                            return Err(err);
                        }
                    }
                    (Ok(_), None) => {}
                    (Err(reason), _) => {
                        tracing::error!(seq = entry.seq, %reason, "a journaled event is unreadable; it is dropped")
                    }
                }
                done = Some(entry.seq);
            }
            self.store.forget_events(last).await?;
        }
    }
}
