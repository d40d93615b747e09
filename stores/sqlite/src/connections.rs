//! Connect tickets, by digest: what opening a realtime connection redeems. (The local
//! server holds its sockets themselves in memory.)

use crate::{SqliteStore, internal};
use rusqlite::{OptionalExtension, params};
use supportzen_shared::events::Subscriber;
use supportzen_shared::store::{ConnectTicketIssuer, ConnectTicketRedeemer, StoreError};

/// Expired tickets deleted per ticket issued, so the table stays small without a sweeper.
const TICKETS_PURGED_PER_WRITE: i64 = 100;

impl ConnectTicketIssuer for SqliteStore {
    async fn put_ticket(
        &self,
        digest: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (digest, subscriber) = (digest.to_string(), subscriber.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(internal)?;
            tx.execute(
                "DELETE FROM connect_tickets WHERE digest IN
                     (SELECT digest FROM connect_tickets WHERE expires_at_ms <= ?1 LIMIT ?2)",
                params![
                    supportzen_shared::domain::now_millis(),
                    TICKETS_PURGED_PER_WRITE
                ],
            )
            .map_err(internal)?;
            tx.execute(
                "INSERT INTO connect_tickets
                     (digest, subscriber_kind, subscriber_id, subscriber_name, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    digest,
                    subscriber.kind(),
                    subscriber.id(),
                    subscriber.name(),
                    expires_at
                ],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }
}

impl ConnectTicketRedeemer for SqliteStore {
    async fn take_ticket(&self, digest: &str, now: i64) -> Result<Option<Subscriber>, StoreError> {
        let digest = digest.to_string();
        self.with_conn(move |conn| {
            let taken: Option<(String, String, i64, Option<String>)> = conn
                .query_row(
                    "DELETE FROM connect_tickets WHERE digest = ?1
                     RETURNING subscriber_kind, subscriber_id, expires_at_ms, subscriber_name",
                    params![digest],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()
                .map_err(internal)?;
            match taken {
                Some((kind, id, expires_at, name)) if expires_at > now => {
                    Subscriber::from_stored_named(&kind, &id, name.as_deref())
                        .map(Some)
                        .map_err(StoreError::Internal)
                }
                _ => Ok(None),
            }
        })
        .await
    }
}
