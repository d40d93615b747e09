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
//! - The quiet period after a customer's message ended: the agents' notice is taken
//!   (once), and one email of the customer's messages after the agents' read mark goes
//!   to the assignee's recorded address, or else the team's address, unless an agent
//!   read them meanwhile. With neither address, no email (counted as `no_address`).

use crate::domain::{Author, Reader, Status};
use crate::notify::{Mailer, NoticeSettings, compose, compose_for_agents};
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
    /// Emails of customers' unread messages to an assignee or the team, accepted.
    pub agents_emailed: usize,
    /// Agents' notices that came due with the customer's messages unread but no address
    /// to send to (no assignee's address recorded, no team address): no email.
    pub no_address: usize,
    /// Items found due that another sweep (or a change) had already dealt with, and
    /// notices taken where no mailer is configured.
    pub skipped: usize,
}

impl SweepReport {
    /// Items decided: everything but the skipped.
    fn done(&self) -> usize {
        self.woken
            + self.emailed
            + self.read
            + self.unsubscribed
            + self.failed
            + self.agents_emailed
            + self.no_address
    }
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
                }
                | Due::UnreadMessages {
                    conversation,
                    due_at,
                } => {
                    // The customer's notice (replies they left unread) or the agents'
                    // (messages no agent read): taken once, then decided by its side.
                    let reader = match item {
                        Due::UnreadReplies { .. } => Reader::Customer,
                        _ => Reader::Agents,
                    };
                    if !store.take_notice(reader, conversation, *due_at).await? {
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
                    match reader {
                        Reader::Customer => {
                            notify(store, notices, &found, now, &mut report).await?
                        }
                        Reader::Agents => {
                            notify_agents(store, notices, &found, now, &mut report).await?
                        }
                    }
                }
            }
        }
        // A short batch was all there is; a batch with nothing done would come back the
        // same (the index catches up with a concurrent sweep's writes on the next run).
        let done = report.done() - before.done();
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
    let replies = unread_of(store, conversation, Reader::Customer).await?;
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
    if send_or_retry(store, notices, &email, Reader::Customer, conversation, now).await? {
        tracing::info!(conversation = %conversation.id.key(), replies = replies.len(), "unread-replies email sent");
        report.emailed += 1;
    } else {
        report.failed += 1;
    }
    Ok(())
}

/// Hands `email` to the mailer; a refused one is tried again a minute later (`reader`'s
/// notice set anew). True when it was accepted.
async fn send_or_retry<S: DueWork + Sync, M: Mailer>(
    store: &S,
    notices: &Notices<M>,
    email: &lettre::Message,
    reader: Reader,
    conversation: &StoredConversation,
    now: i64,
) -> Result<bool, StoreError> {
    match notices.mailer.send(email).await {
        Ok(()) => Ok(true),
        Err(err) => {
            tracing::warn!(conversation = %conversation.id.key(), ?reader, %err, "email refused; tried again in a minute");
            store
                .schedule_notice(reader, &conversation.id, now.saturating_add(RETRY_AFTER_MS))
                .await?;
            Ok(false)
        }
    }
}

/// The decision for one taken agents' notice: no email if the agents' mark moved past
/// the customer's messages; else one to the assignee's recorded address or the team's,
/// or none (counted) when there is neither.
async fn notify_agents<S, M>(
    store: &S,
    notices: &Notices<M>,
    conversation: &StoredConversation,
    now: i64,
    report: &mut SweepReport,
) -> Result<(), StoreError>
where
    S: DueWork + ConversationReader + Sync,
    M: Mailer,
{
    // Read, or dealt with without reading it here (a reply through the API or an
    // integration, which moves no mark; a solve or close): no email.
    let answered = conversation
        .last_message
        .as_ref()
        .is_some_and(|newest| newest.author == Author::Agent);
    let settled = matches!(conversation.status, Status::Solved | Status::Closed);
    if conversation.reads.unread(Reader::Agents) == 0 || answered || settled {
        report.read += 1;
        return Ok(());
    }
    let assignee = match &conversation.assignee {
        Some(_) => store.assignee_email(&conversation.id).await?,
        None => None,
    };
    let to = match assignee {
        Some(email) => match email.user_id().as_str().parse::<lettre::message::Mailbox>() {
            Ok(mailbox) => Some(mailbox),
            Err(_) => notices.settings.team.clone(),
        },
        None => notices.settings.team.clone(),
    };
    let Some(to) = to else {
        tracing::info!(conversation = %conversation.id.key(), "customer's unread messages: no assignee address and no team address, no email");
        report.no_address += 1;
        return Ok(());
    };
    let messages = unread_of(store, conversation, Reader::Agents).await?;
    if messages.is_empty() {
        report.read += 1;
        return Ok(());
    }
    let email = match compose_for_agents(
        &notices.settings,
        &conversation.id,
        &conversation.owner,
        to,
        &messages,
    ) {
        Ok(email) => email,
        Err(err) => {
            tracing::error!(conversation = %conversation.id.key(), %err, "unread-messages email not composed");
            report.failed += 1;
            return Ok(());
        }
    };
    if send_or_retry(store, notices, &email, Reader::Agents, conversation, now).await? {
        tracing::info!(conversation = %conversation.id.key(), messages = messages.len(), "unread-messages email sent to agents");
        report.agents_emailed += 1;
    } else {
        report.failed += 1;
    }
    Ok(())
}

/// What `reader` has not read: for the customer, the agents' replies after their mark;
/// for the agents, the customer's messages after theirs (all of them without a mark),
/// oldest first, at most [`REPLIES_PER_EMAIL`] (the newest).
async fn unread_of<S: ConversationReader>(
    store: &S,
    conversation: &StoredConversation,
    reader: Reader,
) -> Result<Vec<StoredMessage>, StoreError> {
    let mark = match reader {
        Reader::Customer => &conversation.reads.customer,
        Reader::Agents => &conversation.reads.agents,
    };
    let window = match mark {
        Some(mark) => MessageWindow::After(mark.up_to.clone()),
        None => MessageWindow::Latest,
    };
    let wanted = |m: &StoredMessage| match reader {
        Reader::Customer => m.author == Author::Agent && !m.internal,
        Reader::Agents => m.author == Author::Customer,
    };
    // The other side's messages come between; a page of several times the messages
    // wanted finds them in all but a very long exchange since the mark.
    let mut window = window;
    let mut replies = Vec::new();
    for _ in 0..5 {
        let page = store
            .message_page(&conversation.id, &window, REPLIES_PER_EMAIL * 2)
            .await?;
        let next = page.items.last().map(|m| m.id.clone());
        replies.extend(page.items.into_iter().filter(|m| wanted(m)));
        match (&window, next, page.has_more) {
            (MessageWindow::After(_), Some(last), true) => window = MessageWindow::After(last),
            _ => break,
        }
    }
    replies.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let skip = replies.len().saturating_sub(REPLIES_PER_EMAIL);
    Ok(replies.split_off(skip))
}
