//! Due work: what production's `due-work` function (every minute) and `supportzen
//! serve`'s timer both run. A sweep takes what is due by `now` and does each item once:
//! the store's actions are conditional on the state read, so an item a concurrent or
//! repeated sweep already did is skipped, not done twice.
//!
//! - A snooze whose time came: the conversation reopens (`DueWork::wake`).
//! - The quiet period after an agent's reply ended: the notice is taken (once), and the
//!   customer gets one email of the replies after their read mark, unless the mark moved
//!   past them meanwhile or they opted out. An email the mail service refused is tried
//!   again a minute later (the notice is set again); one accepted is not sent again.

use crate::domain::{Author, Reader};
use crate::notify::{Mailer, NoticeSettings, compose};
use crate::store::{
    AgentReader, ConversationReader, Due, DueWork, EmailPreferences, MessageWindow, StoreError,
    StoredConversation, StoredMessage,
};
use serde::Serialize;

/// Items one sweep asks for at a time.
pub const SWEEP_BATCH: usize = 100;

/// Rounds of [`SWEEP_BATCH`] one sweep does at most; what is left waits for the next.
pub const SWEEP_ROUNDS: usize = 10;

/// The most replies one email quotes (the newest).
pub const REPLIES_PER_EMAIL: usize = 20;

/// How long after a refused send the email is tried again (milliseconds).
pub const RETRY_AFTER_MS: i64 = 60_000;

/// Where unread-reply emails go, and what they say: none without it.
pub struct Notices<M> {
    pub mailer: M,
    pub settings: NoticeSettings,
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Snoozed conversations reopened.
    pub woken: usize,
    /// Emails of unread replies the mail service accepted.
    pub emailed: usize,
    /// Notices that came due with every reply read: no email.
    pub read: usize,
    /// Notices for customers who opted out: no email.
    pub unsubscribed: usize,
    /// Emails the mail service refused (tried again a minute later).
    pub failed: usize,
    /// Items found due that another sweep (or a change) had already dealt with, and
    /// notices taken where no mailer is configured.
    pub skipped: usize,
}

/// A mailer for sweeps that send no email.
pub struct NoMailer;

impl Mailer for NoMailer {
    async fn send(&self, _: &lettre::Message) -> Result<(), String> {
        Err("no mailer is configured".into())
    }
}

/// [`sweep_with`] without emails: snoozes wake, unread-reply notices are dropped.
pub async fn sweep<S>(store: &S, now: i64) -> Result<SweepReport, StoreError>
where
    S: DueWork + AgentReader + ConversationReader + EmailPreferences + Sync,
{
    sweep_with(store, None::<&Notices<NoMailer>>, now).await
}

/// Does what is due at or before `now` (milliseconds). An error stops the sweep; what
/// it did so far stays done, and the rest is found again by the next one.
pub async fn sweep_with<S, M>(
    store: &S,
    notices: Option<&Notices<M>>,
    now: i64,
) -> Result<SweepReport, StoreError>
where
    S: DueWork + AgentReader + ConversationReader + EmailPreferences + Sync,
    M: Mailer,
{
    let mut report = SweepReport::default();
    for _ in 0..SWEEP_ROUNDS {
        let due = store.due(now, SWEEP_BATCH).await?;
        let found = due.len();
        let before = report;
        for item in due {
            match &item {
                Due::Wake(conversation) => {
                    if store.wake(conversation).await? {
                        report.woken += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
                Due::UnreadReplies {
                    conversation,
                    due_at,
                } => {
                    if !store.take_notice(conversation, *due_at).await? {
                        report.skipped += 1;
                        continue;
                    }
                    let Some(notices) = notices else {
                        report.skipped += 1;
                        continue;
                    };
                    let Some(found) = store.find_conversation(conversation).await? else {
                        report.skipped += 1;
                        continue;
                    };
                    notify(store, notices, &found, now, &mut report).await?;
                }
            }
        }
        // A short batch was all there is; a batch with nothing done would come back the
        // same (the index catches up with a concurrent sweep's writes on the next run).
        let done = report.woken
            + report.emailed
            + report.read
            + report.unsubscribed
            + report.failed
            - (before.woken + before.emailed + before.read + before.unsubscribed + before.failed);
        if found < SWEEP_BATCH || done == 0 {
            break;
        }
    }
    Ok(report)
}

/// The decision for one taken notice: no email if the customer's mark moved past the
/// replies or they opted out; else one.
async fn notify<S, M>(
    store: &S,
    notices: &Notices<M>,
    conversation: &StoredConversation,
    now: i64,
    report: &mut SweepReport,
) -> Result<(), StoreError>
where
    S: DueWork + ConversationReader + EmailPreferences + Sync,
    M: Mailer,
{
    if conversation.reads.unread(Reader::Customer) == 0 {
        report.read += 1;
        return Ok(());
    }
    if store.unsubscribed(&conversation.owner).await? {
        report.unsubscribed += 1;
        return Ok(());
    }
    let replies = unread_replies(store, conversation).await?;
    if replies.is_empty() {
        report.read += 1;
        return Ok(());
    }
    let email = match compose(
        &notices.settings,
        &conversation.id,
        &conversation.owner,
        &replies,
    ) {
        Ok(email) => email,
        Err(err) => {
            // Nothing to retry: the same conversation composes the same way.
            tracing::error!(conversation = %conversation.id.key(), %err, "unread-replies email not composed");
            report.failed += 1;
            return Ok(());
        }
    };
    match notices.mailer.send(&email).await {
        Ok(()) => {
            tracing::info!(conversation = %conversation.id.key(), replies = replies.len(), "unread-replies email sent");
            report.emailed += 1;
        }
        Err(err) => {
            tracing::warn!(conversation = %conversation.id.key(), %err, "unread-replies email refused; tried again in a minute");
            store
                .schedule_notice(&conversation.id, now.saturating_add(RETRY_AFTER_MS))
                .await?;
            report.failed += 1;
        }
    }
    Ok(())
}

/// The agents' replies after the customer's mark (all of them without one), oldest
/// first, at most [`REPLIES_PER_EMAIL`] (the newest).
async fn unread_replies<S: ConversationReader>(
    store: &S,
    conversation: &StoredConversation,
) -> Result<Vec<StoredMessage>, StoreError> {
    let window = match &conversation.reads.customer {
        Some(mark) => MessageWindow::After(mark.up_to.clone()),
        None => MessageWindow::Latest,
    };
    // Customer messages come between replies; a page of several times the replies
    // wanted finds them in all but a very long exchange since the mark.
    let mut window = window;
    let mut replies = Vec::new();
    for _ in 0..5 {
        let page = store
            .message_page(&conversation.id, &window, REPLIES_PER_EMAIL * 2)
            .await?;
        let next = page.items.last().map(|m| m.id.clone());
        replies.extend(
            page.items
                .into_iter()
                .filter(|m| m.author == Author::Agent && !m.internal),
        );
        match (&window, next, page.has_more) {
            (MessageWindow::After(_), Some(last), true) => window = MessageWindow::After(last),
            _ => break,
        }
    }
    replies.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let skip = replies.len().saturating_sub(REPLIES_PER_EMAIL);
    Ok(replies.split_off(skip))
}
