//! `supportzen serve`'s due-work timer: production's `due-work` function runs once a
//! minute from an EventBridge schedule; locally the same sweep (`flows::due::sweep`)
//! runs every `--due-every` on the served store, so snoozes wake with the same decisions
//! and the same events; with `--smtp`, unread replies are emailed over SMTP.

use std::sync::Arc;
use std::time::Duration;
use supportzen_shared::domain::now_millis;
use supportzen_shared::flows::due::{Notices, SweepReport, sweep_with};
use supportzen_shared::notify::Mailer;
use supportzen_shared::store::{AgentReader, ConversationReader, DueWork, EmailPreferences};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How often `serve` sweeps unless told otherwise: production's schedule is a minute;
/// locally sooner costs nothing.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(15);

/// The running timer. Dropping it stops the timer too.
pub struct Sweeper {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    reports: watch::Receiver<Swept>,
}

/// The sweeps so far: how many ran, and what they did in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sweeps: u64,
    pub total: SweepReport,
}

impl Sweeper {
    /// Sweeps `store` every `every`, the first time at once, emailing unread replies
    /// through `notices` if given.
    pub fn start<S, M>(store: Arc<S>, notices: Option<Notices<M>>, every: Duration) -> Self
    where
        S: DueWork + AgentReader + ConversationReader + EmailPreferences + Send + Sync + 'static,
        M: Mailer + 'static,
    {
        let (stop, mut stopped) = oneshot::channel();
        let (report, reports) = watch::channel(Swept::default());
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = &mut stopped => return,
                }
                let done = sweep_with(store.as_ref(), notices.as_ref(), now_millis()).await;
                match &done {
                    Ok(done) if *done != SweepReport::default() => tracing::info!(
                        woken = done.woken,
                        emailed = done.emailed,
                        read = done.read,
                        unsubscribed = done.unsubscribed,
                        failed = done.failed,
                        skipped = done.skipped,
                        agents_emailed = done.agents_emailed,
                        no_address = done.no_address,
                        "due work done"
                    ),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(%err, "due-work sweep failed; the next one retries")
                    }
                }
                report.send_modify(|swept| {
                    swept.sweeps += 1;
                    if let Ok(done) = done {
                        let total = &mut swept.total;
                        total.woken += done.woken;
                        total.emailed += done.emailed;
                        total.read += done.read;
                        total.unsubscribed += done.unsubscribed;
                        total.failed += done.failed;
                        total.skipped += done.skipped;
                        total.agents_emailed += done.agents_emailed;
                        total.no_address += done.no_address;
                    }
                });
            }
        });
        Sweeper {
            stop,
            task,
            reports,
        }
    }

    /// The sweeps so far, to wait on (tests: "a sweep ran after this").
    pub fn reports(&self) -> watch::Receiver<Swept> {
        self.reports.clone()
    }

    /// Stops the timer, waiting for a sweep under way to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
