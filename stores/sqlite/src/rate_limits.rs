//! The customers' message limit on SQLite ([`MessageLimit`]): one row per customer for
//! their current minute, counted in the transaction that stores the message, on
//! condition that it is below the limit. A refused message rolls the transaction back,
//! so only stored messages are counted; the write that opens a new minute deletes the
//! customer's older one. The accounts a source address creates by trust on first request
//! are counted the same way, by the hour ([`AccountLimit`]).

use crate::internal;
use rusqlite::{Transaction, params};
use supportzen_shared::auth::Caller;
use supportzen_shared::domain::UserId;
use supportzen_shared::store::{
    AccountLimit, Hour, MessageLimit, NewConversation, StoreError, Window,
};

/// Counts `owner`'s message sent at `sent_at`, or refuses it past `limit`.
pub(crate) fn count_message(
    tx: &Transaction<'_>,
    limit: Option<MessageLimit>,
    owner: &UserId,
    sent_at: i64,
) -> Result<(), StoreError> {
    let Some(limit) = limit else {
        return Ok(());
    };
    let window = Window::of(sent_at);
    tx.execute(
        "DELETE FROM message_counts WHERE owner = ?1 AND window_start_ms < ?2",
        params![owner.as_str(), window.start_ms],
    )
    .map_err(internal)?;
    let counted = tx
        .execute(
            "INSERT INTO message_counts (owner, window_start_ms, sent) VALUES (?1, ?2, 1)
             ON CONFLICT (owner, window_start_ms) DO UPDATE SET sent = sent + 1 WHERE sent < ?3",
            params![owner.as_str(), window.start_ms, limit.per_minute()],
        )
        .map_err(internal)?;
    if counted == 0 {
        return Err(limit.refused(sent_at));
    }
    Ok(())
}

/// Counts the account `new` creates by trust on first request against its source
/// address, or refuses it past `limit`: the same one-row-per-key counter, by the hour.
pub(crate) fn count_account(
    tx: &Transaction<'_>,
    limit: Option<AccountLimit>,
    new: &NewConversation,
) -> Result<(), StoreError> {
    let (Some(limit), Caller::New { .. }, Some(address)) = (limit, &new.owner, &new.source) else {
        return Ok(());
    };
    let created_at = new.first_message.sent_at;
    let hour = Hour::of(created_at);
    tx.execute(
        "DELETE FROM account_counts WHERE address = ?1 AND hour_start_ms < ?2",
        params![address.as_str(), hour.start_ms],
    )
    .map_err(internal)?;
    let counted = tx
        .execute(
            "INSERT INTO account_counts (address, hour_start_ms, created) VALUES (?1, ?2, 1)
             ON CONFLICT (address, hour_start_ms) DO UPDATE SET created = created + 1
             WHERE created < ?3",
            params![address.as_str(), hour.start_ms, limit.per_hour()],
        )
        .map_err(internal)?;
    if counted == 0 {
        return Err(limit.refused(created_at));
    }
    Ok(())
}
