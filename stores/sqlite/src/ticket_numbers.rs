//! Ticket numbers: one counter row, incremented atomically.

use crate::{SqliteStore, internal};
use supportzen_shared::store::{StoreError, TicketNumbers};

impl TicketNumbers for SqliteStore {
    async fn next_ticket_number(&self) -> Result<u64, StoreError> {
        self.with_conn(|conn| {
            let value: i64 = conn
                .query_row(
                    "INSERT INTO counters (name, value) VALUES ('ticket', 1)
                     ON CONFLICT (name) DO UPDATE SET value = value + 1
                     RETURNING value",
                    [],
                    |row| row.get(0),
                )
                .map_err(internal)?;
            u64::try_from(value)
                .map_err(|_| StoreError::Internal(format!("ticket counter is {value}")))
        })
        .await
    }
}
