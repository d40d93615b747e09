//! Events produced at the store's commit, for the local server: [`Publishing`] wraps a
//! store and, after each write it lets through succeeds, hands the events that change
//! yields ([`super::committed`], which describes each write as a change for
//! `events::changes`, the one definition) to an [`EventSink`]. That publish is after the
//! commit: a process that dies between the two loses the events. `supportzen serve` on
//! DynamoDB Local runs so. On SQLite the store journals the events in the write's own
//! transaction instead ([`EventJournal`]), hands them to the realtime hub once committed,
//! and the server relays the journal to the webhook outbox; `Publishing` publishes
//! nothing. In production the same events come from the table's
//! change stream (`functions/events-stream`, through `dynamo::stream` and the same
//! definition), so a Lambda's write path has no extra work.

use super::{
    ActivityCursor, AgentReader, AgentReceipts, AgentWriter, ConnectTicketIssuer,
    ConnectTicketRedeemer, ConversationCreator, ConversationRater, ConversationReader,
    CustomerProfile, CustomerReader, Due, DueWork, EmailPreferences, InboxFilter, MarkedRead,
    MessageAppender, MessageWindow, NewConversation, Page, ReadMarker, Reader, SecretChange,
    StoreError, StoredConversation, StoredMessage, TicketNumbers, UploadRecord, UploadRegistry,
    UserProvisioner, UserReader, WebhookRegistry, committed,
};
use crate::auth::{Secret, UserRecord};
use crate::domain::{
    Agent, AgentId, AttachmentId, ConversationId, Email, Kind, MessageId, NewMessage, Rating,
    Status, UserId, now_millis,
};
use crate::events::{Event, Subscriber, WebhookEndpoint, WebhookSubscription};
use crate::idempotency::{NewReceipt, Receipt, ReceiptKey};
use std::future::Future;
use std::time::Duration;

/// Where committed changes' events go: realtime connections, the webhook outbox.
pub trait EventSink: Send + Sync {
    /// Takes one committed change's event. Called after the write returned, once.
    fn publish(&self, event: Event) -> impl Future<Output = ()> + Send;
}

/// Whether a store writes each change's events itself, in the change's own transaction
/// (the SQLite store with its event journal on: `SqliteStore::with_event_journal`). A
/// [`Publishing`] around such a store publishes nothing, so no event goes out twice.
pub trait EventJournal {
    fn journals_events(&self) -> bool {
        false
    }
}

/// A store whose successful writes publish their events to `sink`, unless the store
/// journals them itself ([`EventJournal`]). Reads pass through.
pub struct Publishing<S, K> {
    pub store: S,
    pub sink: K,
}

impl<S, K> Publishing<S, K> {
    pub fn new(store: S, sink: K) -> Self {
        Publishing { store, sink }
    }
}

impl<S: EventJournal, K: EventSink> Publishing<S, K> {
    /// Publishes `events` (made by `events`, only if they are to be published).
    async fn publish(&self, events: impl FnOnce() -> Vec<Event>) {
        if self.store.journals_events() {
            return;
        }
        for event in events() {
            self.sink.publish(event).await;
        }
    }
}

impl<S: ConversationCreator + EventJournal + Sync, K: EventSink> ConversationCreator
    for Publishing<S, K>
{
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        self.store.create_conversation(new).await?;
        self.publish(|| committed::message_added(&new.id, new.owner.user(), &new.first_message))
            .await;
        Ok(())
    }
}

impl<S: MessageAppender + EventJournal + Sync, K: EventSink> MessageAppender for Publishing<S, K> {
    async fn append_message(
        &self,
        conversation: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        self.store
            .append_message(conversation, owner, message, notice_at, receipt)
            .await?;
        self.publish(|| committed::message_added(conversation, owner, message))
            .await;
        Ok(())
    }
}

impl<S: AgentReader + AgentWriter + EventJournal + Sync, K: EventSink> AgentWriter
    for Publishing<S, K>
{
    async fn add_agent_message(
        &self,
        seen: &StoredConversation,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        self.store
            .add_agent_message(seen, message, notice_at, receipt)
            .await?;
        self.publish(|| committed::message_added(&seen.id, &seen.owner, message))
            .await;
        Ok(())
    }

    async fn set_status(
        &self,
        seen: &StoredConversation,
        status: Status,
        snoozed_until: Option<i64>,
    ) -> Result<(), StoreError> {
        self.store.set_status(seen, status, snoozed_until).await?;
        let at = now_millis();
        self.publish(|| committed::status_set(seen, status, snoozed_until, at))
            .await;
        Ok(())
    }

    /// The assignee before is read first (locally only, and only when publishing here).
    async fn assign(
        &self,
        conversation: &ConversationId,
        assignee: Option<&AgentId>,
        assignee_email: Option<&Email>,
    ) -> Result<StoredConversation, StoreError> {
        let before = if self.store.journals_events() {
            None
        } else {
            self.store.find_conversation(conversation).await?
        };
        let assigned = self
            .store
            .assign(conversation, assignee, assignee_email)
            .await?;
        let at = now_millis();
        let before = before.and_then(|before| before.assignee);
        self.publish(|| committed::assigned(before, &assigned, at))
            .await;
        Ok(assigned)
    }
}

impl<S: DueWork + EventJournal + Sync, K: EventSink> DueWork for Publishing<S, K> {
    fn due(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Due>, StoreError>> + Send {
        self.store.due(now, limit)
    }

    fn take_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.take_notice(reader, conversation, due_at)
    }

    fn schedule_notice(
        &self,
        reader: Reader,
        conversation: &ConversationId,
        due_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.schedule_notice(reader, conversation, due_at)
    }

    fn assignee_email(
        &self,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Option<Email>, StoreError>> + Send {
        self.store.assignee_email(conversation)
    }

    /// A woken conversation's status changed while its newest message did not: the
    /// stream's record in production, this change locally.
    async fn wake(&self, snoozed: &StoredConversation) -> Result<bool, StoreError> {
        if !self.store.wake(snoozed).await? {
            return Ok(false);
        }
        let at = now_millis();
        self.publish(|| committed::woken(snoozed, at)).await;
        Ok(true)
    }
}

/// A mark that moved is the change: `conversation.read`, to the other side (and the
/// marker's own). A mark that did not move publishes nothing.
impl<S: ReadMarker + EventJournal + Sync, K: EventSink> ReadMarker for Publishing<S, K> {
    async fn mark_read(
        &self,
        seen: &StoredConversation,
        reader: Reader,
        up_to: &MessageId,
        by: Option<&Agent>,
    ) -> Result<MarkedRead, StoreError> {
        let marked = self.store.mark_read(seen, reader, up_to, by).await?;
        let at = now_millis();
        self.publish(|| committed::marked_read(seen, reader, &marked, at))
            .await;
        Ok(marked)
    }
}

// Everything else passes through unchanged.

impl<S: EmailPreferences + Sync, K: Sync> EmailPreferences for Publishing<S, K> {
    fn unsubscribe(&self, user: &UserId) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.unsubscribe(user)
    }

    fn unsubscribed(&self, user: &UserId) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.unsubscribed(user)
    }
}

impl<S: ConversationRater + EventJournal + Sync, K: EventSink> ConversationRater
    for Publishing<S, K>
{
    async fn rate(&self, seen: &StoredConversation, rating: &Rating) -> Result<(), StoreError> {
        self.store.rate(seen, rating).await?;
        self.publish(|| committed::rated(seen, rating)).await;
        Ok(())
    }
}

impl<S: UserProvisioner + Sync, K: Sync> UserProvisioner for Publishing<S, K> {
    fn put_secret(
        &self,
        user: &UserId,
        secret: &Secret,
        grace: Duration,
    ) -> impl Future<Output = Result<SecretChange, StoreError>> + Send {
        self.store.put_secret(user, secret, grace)
    }
}

impl<S: UserReader + Sync, K: Sync> UserReader for Publishing<S, K> {
    fn find_user(
        &self,
        id: &UserId,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send {
        self.store.find_user(id)
    }

    fn find_user_and_receipt(
        &self,
        id: &UserId,
        receipt: &ReceiptKey,
    ) -> impl Future<Output = Result<(Option<UserRecord>, Option<Receipt>), StoreError>> + Send
    {
        self.store.find_user_and_receipt(id, receipt)
    }
}

impl<S: TicketNumbers + Sync, K: Sync> TicketNumbers for Publishing<S, K> {
    fn next_ticket_number(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.store.next_ticket_number()
    }
}

impl<S: UploadRegistry + Sync, K: Sync> UploadRegistry for Publishing<S, K> {
    fn record_upload(
        &self,
        record: &UploadRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.record_upload(record)
    }

    fn find_uploads(
        &self,
        ids: &[AttachmentId],
    ) -> impl Future<Output = Result<Vec<UploadRecord>, StoreError>> + Send {
        self.store.find_uploads(ids)
    }
}

impl<S: ConversationReader + Sync, K: Sync> ConversationReader for Publishing<S, K> {
    fn find_user_and_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<(Option<UserRecord>, Option<StoredConversation>), StoreError>> + Send
    {
        self.store.find_user_and_conversation(user, conversation)
    }

    fn conversation_page(
        &self,
        owner: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredConversation>, StoreError>> + Send {
        self.store.conversation_page(owner, kind, from, limit)
    }

    fn message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredMessage>, StoreError>> + Send {
        self.store.message_page(conversation, window, limit)
    }
}

impl<S: AgentReader + Sync, K: Sync> AgentReader for Publishing<S, K> {
    fn find_conversation(
        &self,
        id: &ConversationId,
    ) -> impl Future<Output = Result<Option<StoredConversation>, StoreError>> + Send {
        self.store.find_conversation(id)
    }

    fn inbox_page(
        &self,
        filter: &InboxFilter,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredConversation>, StoreError>> + Send {
        self.store.inbox_page(filter, from, limit)
    }

    fn agent_message_page(
        &self,
        conversation: &ConversationId,
        window: &MessageWindow,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StoredMessage>, StoreError>> + Send {
        self.store.agent_message_page(conversation, window, limit)
    }
}

impl<S: CustomerReader + Sync, K: Sync> CustomerReader for Publishing<S, K> {
    fn customer_page(
        &self,
        customer: &UserId,
        kind: Kind,
        from: Option<&ActivityCursor>,
        limit: usize,
    ) -> impl Future<
        Output = Result<(Option<CustomerProfile>, Page<StoredConversation>), StoreError>,
    > + Send {
        self.store.customer_page(customer, kind, from, limit)
    }
}

impl<S: ConnectTicketIssuer + Sync, K: Sync> ConnectTicketIssuer for Publishing<S, K> {
    fn put_ticket(
        &self,
        digest: &str,
        subscriber: &Subscriber,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.put_ticket(digest, subscriber, expires_at)
    }
}

impl<S: ConnectTicketRedeemer + Sync, K: Sync> ConnectTicketRedeemer for Publishing<S, K> {
    fn take_ticket(
        &self,
        digest: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Subscriber>, StoreError>> + Send {
        self.store.take_ticket(digest, now)
    }
}

impl<S: WebhookRegistry + Sync, K: Sync> WebhookRegistry for Publishing<S, K> {
    fn add_webhook(
        &self,
        endpoint: &WebhookEndpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.add_webhook(endpoint)
    }

    fn webhooks(&self) -> impl Future<Output = Result<Vec<WebhookEndpoint>, StoreError>> + Send {
        self.store.webhooks()
    }

    fn subscriptions(
        &self,
    ) -> impl Future<Output = Result<Vec<WebhookSubscription>, StoreError>> + Send {
        self.store.subscriptions()
    }

    fn disable_webhook(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.disable_webhook(id)
    }

    fn remove_webhook(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.store.remove_webhook(id)
    }
}

impl<S: AgentReceipts + Sync, K: Sync> AgentReceipts for Publishing<S, K> {
    async fn find_receipt(&self, key: &ReceiptKey) -> Result<Option<Receipt>, StoreError> {
        self.store.find_receipt(key).await
    }
}
