//! Due work: what production's `due-work` function (every minute) and `supportzen
//! serve`'s timer both run. A sweep takes what is due by `now` and does each item once:
//! the store's actions are conditional on the state read, so an item a concurrent or
//! repeated sweep already did is skipped, not done twice.

use crate::store::{Due, DueWork, StoreError};
use serde::Serialize;

/// Items one sweep asks for at a time.
pub const SWEEP_BATCH: usize = 100;

/// Rounds of [`SWEEP_BATCH`] one sweep does at most; what is left waits for the next.
pub const SWEEP_ROUNDS: usize = 10;

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Snoozed conversations reopened.
    pub woken: usize,
    /// Items found due that another sweep (or a change) had already dealt with.
    pub skipped: usize,
}

/// Does what is due at or before `now` (milliseconds). An error stops the sweep; what
/// it did so far stays done, and the rest is found again by the next one.
pub async fn sweep<S: DueWork>(store: &S, now: i64) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    for _ in 0..SWEEP_ROUNDS {
        let due = store.due(now, SWEEP_BATCH).await?;
        let found = due.len();
        let mut done = 0;
        for item in due {
            let did = match &item {
                Due::Wake(conversation) => store.wake(conversation).await?,
            };
            if did {
                report.woken += 1;
                done += 1;
            } else {
                report.skipped += 1;
            }
        }
        // A short batch was all there is; a batch with nothing done would come back the
        // same (the index catches up with a concurrent sweep's writes on the next run).
        if found < SWEEP_BATCH || done == 0 {
            break;
        }
    }
    Ok(report)
}
