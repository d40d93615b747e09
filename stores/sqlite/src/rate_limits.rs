//! The customers' message limit ([`MessageLimit`]) and the accounts per source address
//! ([`AccountLimit`]) on SQLite: one row of `rate_counts` per key for its current window
//! (`message#<email>` by the minute, `account#<address>` by the hour), counted in the
//! transaction that stores the message or creates the account, on condition that it is
//! below the limit. A refusal rolls the transaction back, so only what was stored is
//! counted; the write that opens a new window deletes the key's older one.

use crate::internal;
use rusqlite::{Transaction, params};
use supportzen_shared::auth::Caller;
use supportzen_shared::domain::UserId;
use supportzen_shared::store::{
    AccountLimit, Hour, MessageLimit, NewConversation, StoreError, Window,
};

/// The key of a customer's message count (what erasure deletes).
pub(crate) fn message_key(owner: &str) -> String {
    format!("message#{owner}")
}

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
    let window = Window::of(sent_at).start_ms;
    if !count_below(tx, &message_key(owner.as_str()), window, limit.per_minute())? {
        return Err(limit.refused(sent_at));
    }
    Ok(())
}

/// Counts the account `new` creates by trust on first request against its source
/// address, or refuses it past `limit`.
pub(crate) fn count_account(
    tx: &Transaction<'_>,
    limit: Option<AccountLimit>,
    new: &NewConversation,
) -> Result<(), StoreError> {
    let (Some(limit), Caller::New { .. }, Some(address)) = (limit, &new.owner, &new.source) else {
        return Ok(());
    };
    let created_at = new.first_message.sent_at;
    let key = format!("account#{}", address.as_str());
    if !count_below(tx, &key, Hour::of(created_at).start_ms, limit.per_hour())? {
        return Err(limit.refused(created_at));
    }
    Ok(())
}

/// One more for `key` in the window starting at `window_start_ms` if its count is below
/// `limit`; false (nothing written) if it is not.
fn count_below(
    tx: &Transaction<'_>,
    key: &str,
    window_start_ms: i64,
    limit: u32,
) -> Result<bool, StoreError> {
    tx.execute(
        "DELETE FROM rate_counts WHERE key = ?1 AND window_start_ms < ?2",
        params![key, window_start_ms],
    )
    .map_err(internal)?;
    let counted = tx
        .execute(
            "INSERT INTO rate_counts (key, window_start_ms, count) VALUES (?1, ?2, 1)
             ON CONFLICT (key, window_start_ms) DO UPDATE SET count = count + 1
             WHERE count < ?3",
            params![key, window_start_ms, limit],
        )
        .map_err(internal)?;
    Ok(counted == 1)
}
