//! The event journal: with it on ([`SqliteStore::with_event_journal`], which `supportzen
//! serve` turns on), each write that yields events writes them, serialized under their
//! ids, into `event_journal` in the write's own transaction: a change and its events are
//! committed together or not at all (a transactional outbox). Right after the commit,
//! still holding the connection, the write hands the same events to the store's
//! [`OnCommit`] (the server's realtime hub, and a wake-up for its relay). The relay reads
//! the journal in commit order ([`SqliteStore::journaled_events`]), queues the webhooks,
//! and only then forgets the events ([`SqliteStore::forget_events`]), learning which of
//! them an erasure took meanwhile; rows this version cannot read are set aside in
//! `unreadable_events` for a newer one. Which write yields which events is
//! `store::committed`, as for `store::Publishing`.
//!
//! Off (the default: the other commands, the tests of other things), nothing is
//! journaled, so rows nobody relays cannot pile up.

use crate::{SqliteStore, internal};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashSet;
use std::sync::Arc;
use supportzen_shared::events::Event;
use supportzen_shared::store::{EventJournal, StoreError};

/// Called right after each write committed, with the events it journaled (none for most
/// writes), on the blocking thread that holds the store's connection: it must not wait.
pub type OnCommit = Arc<dyn Fn(Vec<Event>) + Send + Sync>;

/// What a write journals: handed to each write's transaction.
pub(crate) struct Journal {
    on: bool,
    /// The events journaled so far, for [`OnCommit`] once the write committed.
    written: Vec<Event>,
}

impl Journal {
    /// Journals the events `events` makes (made only if the journal is on), in `tx`.
    pub(crate) fn write(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        events: impl FnOnce() -> Vec<Event>,
    ) -> Result<(), StoreError> {
        self.try_write(tx, || Ok(events()))
    }

    /// [`Journal::write`] for events whose making can fail (reading what the write
    /// stored, say): `events` runs only if the journal is on.
    pub(crate) fn try_write(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        events: impl FnOnce() -> Result<Vec<Event>, StoreError>,
    ) -> Result<(), StoreError> {
        if !self.on {
            return Ok(());
        }
        let events = events()?;
        let mut insert = tx
            .prepare_cached("INSERT INTO event_journal (event_id, body) VALUES (?1, ?2)")
            .map_err(internal)?;
        for event in &events {
            insert
                .execute(params![
                    event.id,
                    event.to_journal().map_err(StoreError::Internal)?
                ])
                .map_err(internal)?;
        }
        self.written.extend(events);
        Ok(())
    }
}

/// One journaled event: `seq` is its place in commit order.
#[derive(Debug)]
pub struct JournalEntry {
    pub seq: i64,
    /// The event, or why the row could not be read (a row written by another version).
    pub event: Result<Event, String>,
}

impl SqliteStore {
    /// The same store journaling each write's events ([`crate::journal`]) and handing
    /// them to `on_commit` once the write committed.
    pub fn with_event_journal(self, on_commit: OnCommit) -> Self {
        SqliteStore {
            journal: Some(on_commit),
            ..self
        }
    }

    /// Runs the write `work` (see [`crate::with_conn`]) with the [`Journal`] its
    /// transaction writes its events to; once it committed, hands them to the store's
    /// [`OnCommit`], still holding the connection: the hook sees writes in commit order,
    /// and gets each one's events even if the caller stopped waiting (the write runs to
    /// its end regardless). Every write journals (if at all) just before its commit, so
    /// a write that succeeded committed what it journaled.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &mut Journal) -> Result<T, StoreError> + Send + 'static,
    {
        let on_commit = self.journal.clone();
        self.with_conn(move |conn| {
            let mut journal = Journal {
                on: on_commit.is_some(),
                written: Vec::new(),
            };
            let value = work(conn, &mut journal)?;
            if let Some(on_commit) = on_commit {
                on_commit(journal.written);
            }
            Ok(value)
        })
        .await
    }

    /// Up to `limit` journaled events, oldest commit first.
    pub async fn journaled_events(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut select = conn
                .prepare_cached("SELECT seq, body FROM event_journal ORDER BY seq LIMIT ?1")
                .map_err(internal)?;
            let rows = select
                .query_map([limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(internal)?;
            rows.map(|row| {
                let (seq, body) = row.map_err(internal)?;
                Ok(JournalEntry {
                    seq,
                    event: Event::from_journal(&body),
                })
            })
            .collect()
        })
        .await
    }

    /// Forgets the journaled events at `relayed` (their `seq`s) and moves those at
    /// `unreadable` (rows this version cannot read) to `unreadable_events`, where a
    /// newer version can still relay them; in one transaction. Returns the `seq`s of
    /// `relayed` that were still there: one that was not had been erased (the customer's
    /// erasure deletes their journaled events) since it was read.
    pub async fn forget_events(
        &self,
        relayed: Vec<i64>,
        unreadable: Vec<i64>,
    ) -> Result<HashSet<i64>, StoreError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let mut still = HashSet::new();
            {
                let mut forget = tx
                    .prepare_cached("DELETE FROM event_journal WHERE seq = ?1 RETURNING seq")
                    .map_err(internal)?;
                for seq in relayed {
                    let gone: Option<i64> = forget
                        .query_row([seq], |row| row.get(0))
                        .optional()
                        .map_err(internal)?;
                    still.extend(gone);
                }
                let mut keep = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO unreadable_events (seq, event_id, body)
                         SELECT seq, event_id, body FROM event_journal WHERE seq = ?1",
                    )
                    .map_err(internal)?;
                let mut set_aside = tx
                    .prepare_cached("DELETE FROM event_journal WHERE seq = ?1")
                    .map_err(internal)?;
                for seq in &unreadable {
                    keep.execute([seq]).map_err(internal)?;
                    set_aside.execute([seq]).map_err(internal)?;
                }
            }
            tx.commit().map_err(internal)?;
            Ok(still)
        })
        .await
    }

    /// How many journaled events this version could not read were set aside in
    /// `unreadable_events` ([`SqliteStore::forget_events`]).
    pub async fn unreadable_events(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .with_conn(|conn| {
                conn.query_row("SELECT count(*) FROM unreadable_events", [], |row| {
                    row.get(0)
                })
                .map_err(internal)
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// How many events the journal holds.
    pub async fn journal_len(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .with_conn(|conn| {
                conn.query_row("SELECT count(*) FROM event_journal", [], |row| row.get(0))
                    .map_err(internal)
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

impl EventJournal for SqliteStore {
    fn journals_events(&self) -> bool {
        self.journal.is_some()
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::Duration;
    use supportzen_shared::domain::AgentId;
    use supportzen_shared::events::{Event, EventType};
    use supportzen_shared::store::AgentWriter;

    /// The hook is called by the write itself, right after its commit: a caller that
    /// stops waiting once the write has started does not keep the events from the hub.
    #[tokio::test]
    async fn a_write_whose_caller_stopped_waiting_still_hands_its_events_on() {
        let (handed, events) = mpsc::channel();
        let handed = Mutex::new(handed);
        let store = SqliteStore::open(":memory:")
            .unwrap()
            .with_event_journal(Arc::new(move |written: Vec<Event>| {
                for event in written {
                    handed.lock().unwrap().send(event).unwrap();
                }
            }));
        let chat = crate::insert_chat(&store, None);

        // The connection is busy: the write starts, and waits for it.
        let busy = store.conn.lock().unwrap();
        let agent = AgentId::parse("agent-7").unwrap();
        let mut write = Box::pin(store.assign(&chat, Some(&agent), None));
        let mut started = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(
            write.as_mut().poll(&mut started).is_pending(),
            "the write cannot finish while the connection is busy"
        );
        drop(write);
        drop(busy);

        let event = events
            .recv_timeout(Duration::from_secs(10))
            .expect("the hook gets the assignment's event");
        assert_eq!(event.kind, EventType::Assigned);
        assert_eq!(event.conversation, chat);
    }
}
