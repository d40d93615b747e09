//! How committed events reach the local server's sinks (the realtime hub, then the
//! webhook outbox), per store ([`LocalEvents`]).
//!
//! On SQLite the store journals each change's events in the change's own transaction
//! (`supportzen_sqlite::journal`). Right after the write commits, in commit order, the
//! store hands the same events (same ids) to the hub, before the request is answered,
//! and wakes the [`Relay`] if there were any. The relay reads the journal in commit
//! order, queues each event's webhook deliveries in the outbox *held* (not due for
//! [`HOLD`]), forgets the events once those are on disk, and then releases the
//! deliveries of the events that were still journaled and drops those of the events an
//! erasure took meanwhile (`users erase` runs in another process): an erased customer's
//! events are not delivered. A row this version cannot read is set aside in
//! `unreadable_events` for a newer one, and holds up none of the others. It
//! also drains on start what a previous server left (one killed between a commit and the
//! outbox loses no webhook), and looks again every 30 s all the same. If the outbox
//! cannot be written, the events stay in the journal; the relay logs an error with how
//! many wait, and tries again a second after each failure. The hub is not relayed: its
//! sockets live in the process, and die with it, so it gets each event once, at the
//! commit, as before.
//!
//! A relay that dies after queuing events and before forgetting them queues them again,
//! under the same event ids: a delivery still pending is not added twice (the outbox is
//! unique on endpoint and event), but one already delivered is delivered again. One
//! that dies before releasing what it held leaves it due once [`HOLD`] has passed.
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
use supportzen_shared::domain::now_millis;
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::events::Event;
use supportzen_shared::store::{StoreError, WebhookRegistry};
use supportzen_sqlite::{JournalEntry, SqliteStore};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// Journaled events read at once.
const BATCH: usize = 64;

/// How long the relay waits after the journal or the outbox failed before trying again.
const PAUSE_AFTER_ERROR: Duration = Duration::from_secs(1);

/// How long what the relay queues is held in the outbox before a worker may attempt it:
/// until the relay has forgotten the events and found them not erased meanwhile, and
/// then released them. A relay that dies in between leaves them due after this.
const HOLD: Duration = Duration::from_secs(60);

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

    /// Queues every journaled event's deliveries, oldest first, a batch at a time
    /// ([`Run::queue`], then [`Run::settle`]). A batch the outbox does not take stays in
    /// the journal whole, for the next try.
    async fn drain(&self) -> Result<(), StoreError> {
        loop {
            let batch = self.store.journaled_events(BATCH).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let held_until = now_millis().saturating_add(millis(HOLD));
            let queued = self.queue(&batch, held_until).await?;
            self.settle(&queued, held_until).await?;
        }
    }

    /// Queues the deliveries of `batch`'s events in one outbox transaction, held until
    /// `held_until` (a worker attempts none yet); notes the rows this version cannot
    /// read, to be set aside.
    async fn queue(&self, batch: &[JournalEntry], held_until: i64) -> Result<Queued, StoreError> {
        let mut queued = Queued::default();
        let mut events = Vec::new();
        for entry in batch {
            match &entry.event {
                Ok(event) => {
                    queued.events.push((entry.seq, event.id.clone()));
                    events.push(event);
                }
                Err(reason) => {
                    tracing::error!(seq = entry.seq, %reason, "a journaled event this version cannot read: set aside in unreadable_events for a newer version to relay");
                    queued.unreadable.push(entry.seq);
                }
            }
        }
        if let Some(webhooks) = &self.webhooks {
            webhooks.hold(&events, held_until).await?;
        }
        Ok(queued)
    }

    /// Forgets what [`Run::queue`] queued (and sets aside what it could not read), then
    /// releases the deliveries of the events still journaled until then and drops those
    /// of the events an erasure took meanwhile: an erased customer's events are not
    /// delivered, however the erasure and the relay met.
    async fn settle(&self, queued: &Queued, held_until: i64) -> Result<(), StoreError> {
        if queued.events.is_empty() && queued.unreadable.is_empty() {
            return Ok(());
        }
        let seqs = queued.events.iter().map(|(seq, _)| *seq).collect();
        let still = self
            .store
            .forget_events(seqs, queued.unreadable.clone())
            .await?;
        let Some(webhooks) = &self.webhooks else {
            return Ok(());
        };
        let (mut release, mut erased) = (Vec::new(), Vec::new());
        for (seq, event_id) in &queued.events {
            if still.contains(seq) {
                release.push(event_id.clone());
            } else {
                erased.push(event_id.clone());
            }
        }
        if !erased.is_empty() {
            tracing::info!(
                events = erased.len(),
                "events erased while being relayed: their webhooks are dropped"
            );
        }
        webhooks.settle(held_until, release, erased).await
    }
}

/// What [`Run::queue`] did with a batch.
#[derive(Default)]
struct Queued {
    /// The events queued: their `seq`s and ids.
    events: Vec<(i64, String)>,
    /// The `seq`s of the rows this version could not read.
    unreadable: Vec<i64>,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use supportzen_shared::auth::{BearerToken, Caller};
    use supportzen_shared::domain::{
        Author, ChatId, ConversationId, Email, MessageText, NewMessage, Profile, UnixSeconds,
    };
    use supportzen_shared::events::{EventType, WebhookEndpoint, WebhookUrl};
    use supportzen_shared::store::{ConversationCreator, CustomerEraser, NewConversation};
    use supportzen_sqlite::Outbox;

    /// A journaling store in `dir`, with an endpoint subscribed to `message.created`,
    /// and the relay's steps over it and an outbox of its own.
    async fn relay_in(dir: &std::path::Path) -> (Run<SqliteStore>, Outbox) {
        let path = dir.join("store.db");
        let store = SqliteStore::open(path.to_str().unwrap())
            .unwrap()
            .with_event_journal(Arc::new(|_| {}));
        let url = WebhookUrl::parse("http://127.0.0.1:9/hooks").unwrap();
        let endpoint = WebhookEndpoint::new(url, vec![EventType::MessageCreated]);
        store.add_webhook(&endpoint).await.unwrap();
        let outbox = Outbox::open(":memory:").unwrap();
        let webhooks = WebhookOutbox::new(store.clone(), outbox.clone());
        let run = Run {
            store,
            webhooks: Some(webhooks),
        };
        (run, outbox)
    }

    async fn first_message(store: &SqliteStore, email: &str) {
        let user = Email::parse(email).unwrap().user_id().clone();
        let text = MessageText::parse("My card number is in here").unwrap();
        store
            .create_conversation(&NewConversation {
                id: ConversationId::Chat(ChatId::generate()),
                owner: Caller::New {
                    user,
                    pin: BearerToken::from_hex(&"01".repeat(32)).unwrap().digest(),
                },
                profile: Profile {
                    name: None,
                    plan_id: None,
                    account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
                },
                first_message: NewMessage::now(Author::Customer, text, None, None),
                follow_up_of: None,
                receipt: None,
                source: None,
                notice_at: None,
            })
            .await
            .unwrap();
    }

    /// Whose events the outbox has deliveries of, and how many are due now (claimed here).
    async fn pending(outbox: &Outbox) -> (Vec<String>, usize) {
        let owners = outbox
            .pending()
            .await
            .unwrap()
            .into_iter()
            .map(|p| {
                let body: serde_json::Value = serde_json::from_str(&p.delivery.body).unwrap();
                body["data"]["customer"]["email"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let now = now_millis();
        let due = outbox
            .claim_due(now, now + 60_000, 100)
            .await
            .unwrap()
            .len();
        (owners, due)
    }

    /// `users erase` commits between the relay's read of a batch and its queuing: the
    /// erased customer's events are queued held, and dropped once forgetting finds
    /// their rows gone; another customer's are released.
    #[tokio::test]
    async fn an_erasure_between_read_and_queue_leaves_no_delivery_of_the_erased() {
        let dir = tempfile::tempdir().unwrap();
        let (run, outbox) = relay_in(dir.path()).await;
        first_message(&run.store, "ann@example.com").await;
        first_message(&run.store, "bob@example.com").await;

        let batch = run.store.journaled_events(BATCH).await.unwrap();
        assert_eq!(batch.len(), 2);
        let ann = Email::parse("ann@example.com").unwrap().user_id().clone();
        run.store.erase_customer(&ann).await.unwrap();
        let held_until = now_millis() + 60_000;
        let queued = run.queue(&batch, held_until).await.unwrap();
        // Queued, both, and held: no worker may attempt them yet.
        let (owners, due) = pending(&outbox).await;
        assert_eq!((owners.len(), due), (2, 0), "{owners:?}");

        run.settle(&queued, held_until).await.unwrap();
        let (owners, due) = pending(&outbox).await;
        assert_eq!(owners, ["bob@example.com"]);
        assert_eq!(due, 1, "bob's is due at once");
        assert_eq!(run.store.journal_len().await.unwrap(), 0);
    }

    /// A journal row this version cannot read is set aside, not dropped, and holds up
    /// none of the events after it.
    #[tokio::test]
    async fn an_unreadable_journal_row_is_kept_aside_and_the_rest_relayed() {
        let dir = tempfile::tempdir().unwrap();
        let (run, outbox) = relay_in(dir.path()).await;
        first_message(&run.store, "ann@example.com").await;
        let raw = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
        raw.execute_batch(
            r#"INSERT INTO event_journal (event_id, body)
               VALUES ('evt_new', '{"id":"evt_new","type":"message.deleted","future":1}');"#,
        )
        .unwrap();
        first_message(&run.store, "bob@example.com").await;

        run.drain().await.unwrap();
        let (mut owners, due) = pending(&outbox).await;
        owners.sort();
        assert_eq!(owners, ["ann@example.com", "bob@example.com"]);
        assert_eq!(due, 2);
        assert_eq!(run.store.journal_len().await.unwrap(), 0);
        assert_eq!(run.store.unreadable_events().await.unwrap(), 1);
        let kept: (String, String) = raw
            .query_row("SELECT event_id, body FROM unreadable_events", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!(kept.0, "evt_new");
        assert!(kept.1.contains("\"future\":1"), "{}", kept.1);
    }
}
