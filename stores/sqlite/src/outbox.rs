//! The local server's webhook outbox: deliveries waiting for their next attempt, kept in
//! a SQLite file of their own so that they survive a restart (production keeps them in
//! SQS instead), and dead letters: deliveries whose retries ran out, kept for an
//! operator to look at (`supportzen webhooks deliveries`).
//!
//! A worker *claims* due deliveries by moving their next attempt to the end of a lease,
//! then records each attempt's outcome against that claim. A worker that stops (or
//! crashes) mid-attempt leaves the delivery due again once the lease ends, so nothing is
//! lost, and two workers on one file never attempt the same delivery at once. Receivers
//! may see a delivery twice after a crash; its `webhook-id` tells them so.
//!
//! A row this version cannot read (an event type from a newer one, say) must not stop
//! the others: claiming moves it to the dead letters, naming why, and the listings
//! leave it out and name it in the log.

use crate::schema::OUTBOX_SCHEMA;
use crate::{internal, with_conn};
use rusqlite::{Connection, Row, Transaction, params};
use std::sync::{Arc, Mutex};
use supportzen_shared::events::EventType;
use supportzen_shared::events::delivery::Delivery;
use supportzen_shared::store::StoreError;

/// The columns a [`Delivery`] is read from, in [`delivery_from`]'s order.
const DELIVERY_COLUMNS: &str =
    "endpoint_id, event_id, event_type, body, first_attempt_at_ms, attempts";

/// A handle on one outbox file; clones share the connection.
#[derive(Clone)]
pub struct Outbox {
    conn: Arc<Mutex<Connection>>,
}

/// A delivery waiting in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Its row: the order deliveries were enqueued in.
    pub id: i64,
    pub delivery: Delivery,
    /// When it is due (or, while claimed, when the claim ends), ms since the Unix epoch.
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

/// A delivery whose retries ran out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dead {
    pub id: i64,
    pub delivery: Delivery,
    /// When the last attempt failed, ms since the Unix epoch.
    pub died_at: i64,
    pub last_error: String,
}

/// A delivery a worker is attempting: it is not due for anyone else until `lease_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub id: i64,
    pub delivery: Delivery,
    pub lease_until: i64,
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path`; `:memory:` is a private one.
    /// Every commit is flushed to disk before it returns (`synchronous = FULL`): an
    /// enqueued delivery survives a crash or a power cut.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = crate::connect(
            path,
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
        )?;
        conn.execute_batch(OUTBOX_SCHEMA).map_err(internal)?;
        Ok(Outbox {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Adds `deliveries`, due at `due_at` (ms), in one transaction, on disk when this
    /// returns. A delivery of the same event to the same endpoint that is already
    /// pending is not added twice. Returns how many were added.
    pub async fn enqueue(
        &self,
        deliveries: Vec<Delivery>,
        due_at: i64,
    ) -> Result<usize, StoreError> {
        with_conn(&self.conn, move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let mut added = 0;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO pending_deliveries
                         (endpoint_id, event_id, event_type, body, first_attempt_at_ms,
                          attempts, next_attempt_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(internal)?;
                for delivery in &deliveries {
                    added += insert
                        .execute(params![
                            delivery.endpoint_id,
                            delivery.event_id,
                            delivery.event_type.as_str(),
                            delivery.body,
                            delivery.first_attempt_at,
                            delivery.attempts,
                            due_at
                        ])
                        .map_err(internal)?;
                }
            }
            tx.commit().map_err(internal)?;
            Ok(added)
        })
        .await
    }

    /// Claims up to `limit` deliveries due at `now` (ms), oldest due first, until
    /// `lease_until` (ms). One this version cannot read is moved to the dead letters
    /// instead (died at `now`, its reason the last error), in the same transaction.
    pub async fn claim_due(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<Claim>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        with_conn(&self.conn, move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let leased = {
                let mut claim = tx
                    .prepare_cached(&format!(
                        "UPDATE pending_deliveries SET next_attempt_at_ms = ?1
                         WHERE id IN (SELECT id FROM pending_deliveries
                                      WHERE next_attempt_at_ms <= ?2
                                      ORDER BY next_attempt_at_ms, id LIMIT ?3)
                         RETURNING id, {DELIVERY_COLUMNS}"
                    ))
                    .map_err(internal)?;
                claim
                    .query_map(params![lease_until, now, limit], |row| {
                        Ok((row.get::<_, i64>(0)?, delivery_from(row, 1)))
                    })
                    .map_err(internal)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(internal)?
            };
            let mut claims = Vec::new();
            for (id, delivery) in leased {
                match delivery {
                    Ok(delivery) => claims.push(Claim {
                        id,
                        delivery,
                        lease_until,
                    }),
                    Err(reason) => {
                        tracing::error!(id, %reason, "an outbox delivery this version cannot read: moved to the dead letters");
                        let error = format!("unreadable by this version: {reason}");
                        to_dead(&tx, (id, lease_until), None, now, &error)?;
                    }
                }
            }
            tx.commit().map_err(internal)?;
            claims.sort_by_key(|claim| claim.id);
            Ok(claims)
        })
        .await
    }

    /// Removes a claimed delivery: it was delivered, or its endpoint is gone. `false` if
    /// the claim had ended and another worker holds the delivery (or it was dropped).
    pub async fn finish(&self, claim: &Claim) -> Result<bool, StoreError> {
        let (id, lease) = (claim.id, claim.lease_until);
        with_conn(&self.conn, move |conn| {
            let removed = conn
                .execute(
                    "DELETE FROM pending_deliveries WHERE id = ?1 AND next_attempt_at_ms = ?2",
                    params![id, lease],
                )
                .map_err(internal)?;
            Ok(removed == 1)
        })
        .await
    }

    /// Records a failed attempt of a claimed delivery (`attempts` made so far) and makes
    /// it due again at `at` (ms).
    pub async fn retry_at(
        &self,
        claim: &Claim,
        attempts: u32,
        at: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        let (id, lease, error) = (claim.id, claim.lease_until, error.to_string());
        with_conn(&self.conn, move |conn| {
            let changed = conn
                .execute(
                    "UPDATE pending_deliveries
                     SET attempts = ?3, next_attempt_at_ms = ?4, last_error = ?5
                     WHERE id = ?1 AND next_attempt_at_ms = ?2",
                    params![id, lease, attempts, at, error],
                )
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }

    /// Moves a claimed delivery whose last attempt (of `attempts`) failed with `error`
    /// at `now` (ms) to the dead letters, in one transaction.
    pub async fn bury(
        &self,
        claim: &Claim,
        attempts: u32,
        now: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        let (claimed, error) = ((claim.id, claim.lease_until), error.to_string());
        with_conn(&self.conn, move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let moved = to_dead(&tx, claimed, Some(attempts), now, &error)?;
            tx.commit().map_err(internal)?;
            Ok(moved)
        })
        .await
    }

    /// Moves every dead delivery back to the pending ones, due at `now` (ms) with its
    /// attempts counted afresh, in one transaction: an operator's redrive once the
    /// receiver is back. Each keeps its event id, so receivers see the same `webhook-id`
    /// and can tell a delivery they already have. One already pending again (the same
    /// event to the same endpoint) is not added twice. Returns how many were moved.
    pub async fn redrive(&self, now: i64) -> Result<usize, StoreError> {
        with_conn(&self.conn, move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let moved = tx
                .execute(
                    "INSERT OR IGNORE INTO pending_deliveries
                     (endpoint_id, event_id, event_type, body, first_attempt_at_ms,
                      attempts, next_attempt_at_ms)
                     SELECT endpoint_id, event_id, event_type, body, first_attempt_at_ms, 0, ?1
                     FROM dead_deliveries ORDER BY id",
                    params![now],
                )
                .map_err(internal)?;
            tx.execute("DELETE FROM dead_deliveries", [])
                .map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(moved)
        })
        .await
    }

    /// Gives a claimed delivery back unattempted (its worker is stopping): due at `now`.
    pub async fn release(&self, claim: &Claim, now: i64) -> Result<bool, StoreError> {
        let (id, lease) = (claim.id, claim.lease_until);
        with_conn(&self.conn, move |conn| {
            let changed = conn
                .execute(
                    "UPDATE pending_deliveries SET next_attempt_at_ms = ?3
                     WHERE id = ?1 AND next_attempt_at_ms = ?2",
                    params![id, lease, now],
                )
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }

    /// Settles deliveries enqueued *held* (due at `held_until`, not before, so that no
    /// worker attempts them yet), in one transaction: those of the events `release` are
    /// made due at `now` (those still held so: one claimed since is left to its claim),
    /// and every pending delivery of the events `drop` is removed. The local server's
    /// relay holds what it queues until it knows an erasure did not take the events
    /// meanwhile (`supportzen::relay`).
    pub async fn settle_held(
        &self,
        held_until: i64,
        now: i64,
        release: Vec<String>,
        drop: Vec<String>,
    ) -> Result<(), StoreError> {
        with_conn(&self.conn, move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            {
                let mut due = tx
                    .prepare_cached(
                        "UPDATE pending_deliveries SET next_attempt_at_ms = ?2
                         WHERE event_id = ?1 AND next_attempt_at_ms = ?3",
                    )
                    .map_err(internal)?;
                for event_id in &release {
                    due.execute(params![event_id, now, held_until])
                        .map_err(internal)?;
                }
                let mut gone = tx
                    .prepare_cached("DELETE FROM pending_deliveries WHERE event_id = ?1")
                    .map_err(internal)?;
                for event_id in &drop {
                    gone.execute(params![event_id]).map_err(internal)?;
                }
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    /// Drops every delivery about the customer `email` (its body's `data.customer.email`),
    /// pending or dead, but their `customer.erased`: what an erasure of theirs removes
    /// from the local outbox (the bodies name them). Returns how many.
    pub async fn drop_customer(&self, email: &str) -> Result<usize, StoreError> {
        let email = email.to_string();
        with_conn(&self.conn, move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            let mut dropped = 0;
            for table in ["pending_deliveries", "dead_deliveries"] {
                dropped += tx
                    .execute(
                        &format!(
                            "DELETE FROM {table} WHERE event_type <> ?2
                             AND CASE WHEN json_valid(body)
                                 THEN json_extract(body, '$.data.customer.email') END = ?1"
                        ),
                        params![email, EventType::CustomerErased.as_str()],
                    )
                    .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(dropped)
        })
        .await
    }

    /// Drops every pending delivery to `endpoint_id` (it answered 410, or was removed).
    /// Returns how many.
    pub async fn drop_endpoint(&self, endpoint_id: &str) -> Result<usize, StoreError> {
        let endpoint_id = endpoint_id.to_string();
        with_conn(&self.conn, move |conn| {
            conn.execute(
                "DELETE FROM pending_deliveries WHERE endpoint_id = ?1",
                params![endpoint_id],
            )
            .map_err(internal)
        })
        .await
    }

    /// When the next delivery is due (or a claim ends), if any is pending (ms).
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        with_conn(&self.conn, |conn| {
            conn.query_row(
                "SELECT min(next_attempt_at_ms) FROM pending_deliveries",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
            .map_err(internal)
        })
        .await
    }

    /// Every pending delivery, in enqueue order; those this version cannot read are
    /// left out (and named in the log).
    pub async fn pending(&self) -> Result<Vec<Pending>, StoreError> {
        let select = format!(
            "SELECT id, {DELIVERY_COLUMNS}, next_attempt_at_ms, last_error
             FROM pending_deliveries ORDER BY id"
        );
        with_conn(&self.conn, move |conn| {
            readable_rows(conn, &select, |row, id, delivery| {
                Ok(Pending {
                    id,
                    delivery,
                    next_attempt_at: row.get(7)?,
                    last_error: row.get(8)?,
                })
            })
        })
        .await
    }

    /// Every dead delivery, in the order they were enqueued; those this version cannot
    /// read are left out (and named in the log).
    pub async fn dead(&self) -> Result<Vec<Dead>, StoreError> {
        let select = format!(
            "SELECT id, {DELIVERY_COLUMNS}, died_at_ms, last_error
             FROM dead_deliveries ORDER BY id"
        );
        with_conn(&self.conn, move |conn| {
            readable_rows(conn, &select, |row, id, delivery| {
                Ok(Dead {
                    id,
                    delivery,
                    died_at: row.get(7)?,
                    last_error: row.get(8)?,
                })
            })
        })
        .await
    }
}

/// Moves the pending delivery `claimed` (its id, and the lease it is claimed until) to
/// the dead letters, having failed with `error` at `now` (ms) after `attempts` attempts
/// (`None`: as many as its row says). `false` if it was not claimed so.
fn to_dead(
    tx: &Transaction<'_>,
    (id, lease): (i64, i64),
    attempts: Option<u32>,
    now: i64,
    error: &str,
) -> Result<bool, StoreError> {
    let moved = tx
        .execute(
            &format!(
                "INSERT INTO dead_deliveries (id, {DELIVERY_COLUMNS}, died_at_ms, last_error)
                 SELECT id, endpoint_id, event_id, event_type, body, first_attempt_at_ms,
                        coalesce(?3, attempts), ?4, ?5
                 FROM pending_deliveries WHERE id = ?1 AND next_attempt_at_ms = ?2"
            ),
            params![id, lease, attempts, now, error],
        )
        .map_err(internal)?;
    tx.execute(
        "DELETE FROM pending_deliveries WHERE id = ?1 AND next_attempt_at_ms = ?2",
        params![id, lease],
    )
    .map_err(internal)?;
    Ok(moved == 1)
}

/// The rows `select` gives (its id in column 0, [`DELIVERY_COLUMNS`] from column 1, then
/// what `rest` reads), in its order. A row this version cannot read is left out and
/// named in the log, so that it hides none of the others.
fn readable_rows<T>(
    conn: &Connection,
    select: &str,
    rest: impl Fn(&Row<'_>, i64, Delivery) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut select = conn.prepare(select).map_err(internal)?;
    let mut rows = select.query([]).map_err(internal)?;
    let mut read = Vec::new();
    while let Some(row) = rows.next().map_err(internal)? {
        let id: i64 = row.get(0).map_err(internal)?;
        let item = delivery_from(row, 1)
            .and_then(|delivery| rest(row, id, delivery).map_err(|e| e.to_string()));
        match item {
            Ok(item) => read.push(item),
            Err(reason) => {
                tracing::warn!(id, %reason, "an outbox delivery this version cannot read: left out")
            }
        }
    }
    Ok(read)
}

/// The [`Delivery`] in [`DELIVERY_COLUMNS`] from column `first` on, or why this version
/// cannot read it (for the logs and the dead letters).
fn delivery_from(row: &Row<'_>, first: usize) -> Result<Delivery, String> {
    let column = |e: rusqlite::Error| e.to_string();
    let event_type: String = row.get(first + 2).map_err(column)?;
    Ok(Delivery {
        endpoint_id: row.get(first).map_err(column)?,
        event_id: row.get(first + 1).map_err(column)?,
        event_type: EventType::parse(&event_type).map_err(|e| format!("event_type {e}"))?,
        body: row.get(first + 3).map_err(column)?,
        first_attempt_at: row.get(first + 4).map_err(column)?,
        attempts: row.get(first + 5).map_err(column)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(endpoint: &str, event: &str) -> Delivery {
        Delivery {
            endpoint_id: endpoint.into(),
            event_id: event.into(),
            event_type: EventType::MessageCreated,
            body: format!(r#"{{"id":"{event}"}}"#),
            first_attempt_at: 1_000,
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn deliveries_are_claimed_when_due_and_not_twice() {
        let outbox = Outbox::open(":memory:").unwrap();
        let added = outbox
            .enqueue(
                vec![delivery("wh_a", "evt_1"), delivery("wh_b", "evt_1")],
                1_000,
            )
            .await
            .unwrap();
        assert_eq!(added, 2);
        // The same event for the same endpoint again: not a second delivery.
        assert_eq!(
            outbox
                .enqueue(vec![delivery("wh_a", "evt_1")], 1_000)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            outbox
                .enqueue(vec![delivery("wh_a", "evt_2")], 5_000)
                .await
                .unwrap(),
            1
        );

        assert!(outbox.claim_due(999, 2_000, 10).await.unwrap().is_empty());
        let claims = outbox.claim_due(1_000, 61_000, 10).await.unwrap();
        let ids: Vec<_> = claims
            .iter()
            .map(|c| {
                (
                    c.delivery.endpoint_id.as_str(),
                    c.delivery.event_id.as_str(),
                )
            })
            .collect();
        assert_eq!(ids, [("wh_a", "evt_1"), ("wh_b", "evt_1")]);
        assert_eq!(claims[0].delivery, delivery("wh_a", "evt_1"));
        // Claimed: not due for anyone else until the lease ends, even when evt_2 is.
        let later = outbox.claim_due(6_000, 66_000, 10).await.unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].delivery.event_id, "evt_2");
        assert_eq!(outbox.next_due().await.unwrap(), Some(61_000));
    }

    #[tokio::test]
    async fn outcomes_finish_reschedule_or_bury_only_under_the_claim() {
        let outbox = Outbox::open(":memory:").unwrap();
        outbox
            .enqueue(
                vec![
                    delivery("wh_a", "evt_1"),
                    delivery("wh_a", "evt_2"),
                    delivery("wh_a", "evt_3"),
                ],
                1_000,
            )
            .await
            .unwrap();
        let claims = outbox.claim_due(1_000, 2_000, 10).await.unwrap();

        assert!(outbox.finish(&claims[0]).await.unwrap());
        assert!(!outbox.finish(&claims[0]).await.unwrap());
        assert!(
            outbox
                .retry_at(&claims[1], 1, 7_000, "answered 500")
                .await
                .unwrap()
        );
        assert!(
            outbox
                .bury(&claims[2], 8, 3_000, "answered 503")
                .await
                .unwrap()
        );

        let pending = outbox.pending().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].delivery.event_id, "evt_2");
        assert_eq!(pending[0].delivery.attempts, 1);
        assert_eq!(pending[0].next_attempt_at, 7_000);
        assert_eq!(pending[0].last_error.as_deref(), Some("answered 500"));
        // The claim ended when the retry was recorded.
        assert!(!outbox.finish(&claims[1]).await.unwrap());

        let dead = outbox.dead().await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].id, claims[2].id);
        assert_eq!(dead[0].delivery.event_id, "evt_3");
        assert_eq!(dead[0].delivery.attempts, 8);
        assert_eq!(
            (dead[0].died_at, dead[0].last_error.as_str()),
            (3_000, "answered 503")
        );
    }

    #[tokio::test]
    async fn a_released_claim_is_due_again_and_an_endpoints_deliveries_can_be_dropped() {
        let outbox = Outbox::open(":memory:").unwrap();
        outbox
            .enqueue(
                vec![delivery("wh_a", "evt_1"), delivery("wh_b", "evt_1")],
                1_000,
            )
            .await
            .unwrap();
        let claims = outbox.claim_due(1_000, 60_000, 10).await.unwrap();
        assert!(outbox.release(&claims[0], 1_500).await.unwrap());
        let again = outbox.claim_due(1_500, 70_000, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, claims[0].id);

        assert_eq!(outbox.drop_endpoint("wh_a").await.unwrap(), 1);
        let left: Vec<_> = outbox
            .pending()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.delivery.endpoint_id)
            .collect();
        assert_eq!(left, ["wh_b"]);
    }

    #[tokio::test]
    async fn a_row_this_version_cannot_read_is_dead_lettered_and_holds_up_no_other() {
        let outbox = Outbox::open(":memory:").unwrap();
        outbox
            .enqueue(vec![delivery("wh_a", "evt_1")], 1_000)
            .await
            .unwrap();
        // As a newer version might leave them: an event type this one does not know,
        // and attempts that are not a number.
        outbox
            .conn
            .lock()
            .unwrap()
            .execute_batch(
                "INSERT INTO pending_deliveries
                 (endpoint_id, event_id, event_type, body, first_attempt_at_ms, attempts,
                  next_attempt_at_ms)
                 VALUES ('wh_a', 'evt_2', 'message.deleted', '{}', 1000, 2, 1000),
                        ('wh_b', 'evt_3', 'message.created', '{}', 1000, 'many', 1000);",
            )
            .unwrap();
        outbox
            .enqueue(vec![delivery("wh_a", "evt_4")], 1_000)
            .await
            .unwrap();
        let event_ids = |deliveries: Vec<&Delivery>| -> Vec<String> {
            deliveries.iter().map(|d| d.event_id.clone()).collect()
        };

        let pending = outbox.pending().await.unwrap();
        assert_eq!(
            event_ids(pending.iter().map(|p| &p.delivery).collect()),
            ["evt_1", "evt_4"]
        );
        let claims = outbox.claim_due(1_000, 61_000, 10).await.unwrap();
        assert_eq!(
            event_ids(claims.iter().map(|c| &c.delivery).collect()),
            ["evt_1", "evt_4"]
        );

        let dead: Vec<(String, String, i64, String)> = {
            let conn = outbox.conn.lock().unwrap();
            let mut select = conn
                .prepare(
                    "SELECT event_id, CAST(attempts AS TEXT), died_at_ms, last_error
                     FROM dead_deliveries ORDER BY id",
                )
                .unwrap();
            select
                .query_map([], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(dead.len(), 2, "{dead:?}");
        assert_eq!(
            (dead[0].0.as_str(), dead[0].1.as_str(), dead[0].2),
            ("evt_2", "2", 1_000)
        );
        assert_eq!(
            dead[0].3,
            "unreadable by this version: event_type must be one of message.created, \
             conversation.status_changed, conversation.assigned, conversation.read, conversation.rated, \
             customer.erased"
        );
        assert_eq!((dead[1].0.as_str(), dead[1].1.as_str()), ("evt_3", "many"));
        assert!(
            dead[1].3.starts_with("unreadable by this version: ") && dead[1].3.contains("attempts"),
            "{}",
            dead[1].3
        );

        // They are out of the way: nothing else is pending, the listing of dead letters
        // leaves them out without failing, and the next claim finds the others again.
        assert_eq!(outbox.pending().await.unwrap().len(), 2);
        assert!(outbox.dead().await.unwrap().is_empty());
        let again = outbox.claim_due(61_000, 121_000, 10).await.unwrap();
        assert_eq!(
            event_ids(again.iter().map(|c| &c.delivery).collect()),
            ["evt_1", "evt_4"]
        );
    }

    #[tokio::test]
    async fn held_deliveries_wait_until_released_and_dropped_ones_go() {
        let outbox = Outbox::open(":memory:").unwrap();
        outbox
            .enqueue(
                vec![
                    delivery("wh_a", "evt_1"),
                    delivery("wh_b", "evt_1"),
                    delivery("wh_a", "evt_2"),
                ],
                90_000,
            )
            .await
            .unwrap();
        assert!(
            outbox
                .claim_due(1_000, 61_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        outbox
            .settle_held(90_000, 1_000, vec!["evt_1".into()], vec!["evt_2".into()])
            .await
            .unwrap();
        let claims = outbox.claim_due(1_000, 61_000, 10).await.unwrap();
        let claimed: Vec<_> = claims
            .iter()
            .map(|c| {
                (
                    c.delivery.endpoint_id.as_str(),
                    c.delivery.event_id.as_str(),
                )
            })
            .collect();
        assert_eq!(claimed, [("wh_a", "evt_1"), ("wh_b", "evt_1")]);
        assert_eq!(outbox.pending().await.unwrap().len(), 2, "evt_2 is gone");
    }

    #[tokio::test]
    async fn a_customers_deliveries_pending_or_dead_are_dropped_but_their_erasure() {
        let outbox = Outbox::open(":memory:").unwrap();
        let about = |event: &str, email: &str, event_type: EventType| Delivery {
            event_type,
            body: format!(r#"{{"id":"{event}","data":{{"customer":{{"email":"{email}"}}}}}}"#),
            ..delivery("wh_a", event)
        };
        outbox
            .enqueue(
                vec![
                    about("evt_1", "ann@example.com", EventType::MessageCreated),
                    about("evt_2", "bob@example.com", EventType::MessageCreated),
                    about("evt_3", "ann@example.com", EventType::StatusChanged),
                    about("evt_4", "ann@example.com", EventType::CustomerErased),
                    delivery("wh_a", "evt_5"),
                ],
                1_000,
            )
            .await
            .unwrap();
        let claims = outbox.claim_due(1_000, 2_000, 10).await.unwrap();
        assert!(
            outbox
                .bury(&claims[2], 8, 1_500, "answered 500")
                .await
                .unwrap()
        );

        assert_eq!(outbox.drop_customer("ann@example.com").await.unwrap(), 2);
        let left: Vec<String> = outbox
            .pending()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.delivery.event_id)
            .collect();
        assert_eq!(left, ["evt_2", "evt_4", "evt_5"]);
        assert!(
            outbox.dead().await.unwrap().is_empty(),
            "evt_3's dead letter"
        );
    }

    #[tokio::test]
    async fn pending_deliveries_survive_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let path = path.to_str().unwrap();
        let outbox = Outbox::open(path).unwrap();
        outbox
            .enqueue(vec![delivery("wh_a", "evt_1")], 1_000)
            .await
            .unwrap();
        drop(outbox);

        let reopened = Outbox::open(path).unwrap();
        let claims = reopened.claim_due(1_000, 2_000, 10).await.unwrap();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].delivery, delivery("wh_a", "evt_1"));
        assert_eq!(reopened.next_due().await.unwrap(), Some(2_000));
        assert!(reopened.finish(&claims[0]).await.unwrap());
        assert_eq!(reopened.next_due().await.unwrap(), None);
    }
}
