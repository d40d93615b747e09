//! The SQLite store's event journal (the local transactional outbox): with it on, each
//! committed write leaves its events in the journal, in commit order under ids that do
//! not change, the very events `store::Publishing` would publish, and hands the same
//! events to its commit hook; a write that fails or is refused leaves none; and
//! `Publishing` around it publishes nothing itself.

use crate::parity::{Collected, Scenario, comparable};
use std::sync::{Arc, Mutex};
use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    AgentId, Author, ChatId, ConversationId, Email, MessageText, NewMessage, Profile, Reader,
    Status, UnixSeconds, UserId, now_millis,
};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::events::{Event, EventType};
use supportzen_shared::idempotency::{BodyDigest, IdempotencyKey, Retry};
use supportzen_shared::store::{
    AgentReader, AgentWriter, ConversationCreator, CustomerEraser, DueWork, MessageAppender,
    MessageLimit, NewConversation, Publishing, ReadMarker, StoreError,
};
use supportzen_sqlite::SqliteStore;

/// A store with its journal on, and what its commit hook was handed.
fn journaling() -> (SqliteStore, Arc<Mutex<Vec<Event>>>) {
    let handed = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::clone(&handed);
    let store = SqliteStore::open(":memory:")
        .unwrap()
        .with_event_journal(Arc::new(move |events: Vec<Event>| {
            hook.lock().unwrap().extend(events);
        }));
    (store, handed)
}

/// The journal's events, oldest commit first, with their places in it.
async fn journaled(store: &SqliteStore) -> Vec<(i64, Event)> {
    store
        .journaled_events(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.seq, entry.event.unwrap()))
        .collect()
}

#[tokio::test]
async fn committed_writes_journal_what_the_decorator_would_publish_in_commit_order() {
    let scenario = Scenario::new();
    let published = Collected::default();
    let plain = Publishing::new(SqliteStore::open(":memory:").unwrap(), published.clone());
    scenario.run(&plain).await;
    let published: Vec<Event> = published.0.lock().unwrap().drain(..).collect();

    let (store, handed) = journaling();
    let not_published = Collected::default();
    scenario
        .run(&Publishing::new(store.clone(), not_published.clone()))
        .await;
    assert!(
        not_published.0.lock().unwrap().is_empty(),
        "a journaling store's decorator publishes nothing: the relay does"
    );
    let entries = journaled(&store).await;
    let kinds: Vec<EventType> = entries.iter().map(|(_, event)| event.kind).collect();
    assert_eq!(kinds, Scenario::expected_kinds());
    // The hook got the very events journaled, ids and all, once each.
    let journaled_events: Vec<Event> = entries.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(*handed.lock().unwrap(), journaled_events);
    let events: Vec<Event> = journaled_events.into_iter().map(comparable).collect();
    let expected: Vec<Event> = published.into_iter().map(comparable).collect();
    assert_eq!(events, expected);
    // Commit order, ids that stay what they were, each its own.
    assert!(entries.windows(2).all(|pair| pair[0].0 < pair[1].0));
    let again = journaled(&store).await;
    assert_eq!(again, entries);
    let mut ids: Vec<&str> = entries.iter().map(|(_, e)| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), entries.len());
    assert_eq!(store.journal_len().await.unwrap(), entries.len() as u64);

    // Forgotten up to a place, the rest stays, and forgetting says which were still
    // there (an erasure takes some meanwhile); a place is never given again.
    let seqs = |entries: &[(i64, Event)]| -> Vec<i64> { entries.iter().map(|e| e.0).collect() };
    let first_half = seqs(&entries[..=entries.len() / 2]);
    let still = store
        .forget_events(first_half.clone(), Vec::new())
        .await
        .unwrap();
    assert_eq!(still, first_half.iter().copied().collect());
    let rest = journaled(&store).await;
    assert_eq!(rest, entries[entries.len() / 2 + 1..].to_vec());
    let again = store.forget_events(first_half, Vec::new()).await.unwrap();
    assert!(again.is_empty(), "forgotten already: {again:?}");
    store.forget_events(seqs(&rest), Vec::new()).await.unwrap();
    assert_eq!(store.journal_len().await.unwrap(), 0);
    let chat = ConversationId::Chat(ChatId::generate());
    store
        .create_conversation(&new_chat(&chat, "bob@example.com", None))
        .await
        .unwrap();
    let (next, _) = journaled(&store).await[0].clone();
    assert!(next > entries.last().unwrap().0);
}

/// An erasure takes the customer's events not yet relayed with it (they carry the
/// message text), and leaves another customer's.
#[tokio::test]
async fn an_erasure_takes_the_customers_journaled_events() {
    let (store, _) = journaling();
    for email in ["ann@example.com", "bob@example.com"] {
        let chat = ConversationId::Chat(ChatId::generate());
        store
            .create_conversation(&new_chat(&chat, email, None))
            .await
            .unwrap();
    }
    assert_eq!(store.journal_len().await.unwrap(), 2);
    store
        .erase_customer(&user("ann@example.com"))
        .await
        .unwrap();
    let left = journaled(&store).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1.owner, user("bob@example.com"));
}

/// The sweeper's wake of a snoozed conversation journals its reopening once
/// (`conversation.status_changed`, status open) and hands that event to the hook; a
/// second wake of what it read then changes nothing and journals nothing.
#[tokio::test]
async fn a_snoozed_conversation_woken_journals_its_reopening_once() {
    let (store, handed) = journaling();
    let chat = ConversationId::Chat(ChatId::generate());
    store
        .create_conversation(&new_chat(&chat, "ann@example.com", None))
        .await
        .unwrap();
    let seen = store.find_conversation(&chat).await.unwrap().unwrap();
    let until = now_millis() + 60_000;
    store
        .set_status(&seen, Status::Pending, Some(until))
        .await
        .unwrap();
    let snoozed = store.find_conversation(&chat).await.unwrap().unwrap();
    assert_eq!(snoozed.snoozed_until, Some(until));
    let before = journaled(&store).await.len();
    handed.lock().unwrap().clear();

    assert!(store.wake(&snoozed).await.unwrap());
    assert!(!store.wake(&snoozed).await.unwrap(), "woken already");
    let woken: Vec<Event> = journaled(&store)
        .await
        .into_iter()
        .skip(before)
        .map(|(_, event)| event)
        .collect();
    assert_eq!(woken.len(), 1, "{woken:?}");
    assert_eq!(woken[0].kind, EventType::StatusChanged);
    assert_eq!(woken[0].data["status"], "open", "{:?}", woken[0].data);
    assert_eq!(woken[0].conversation, chat);
    assert_eq!(*handed.lock().unwrap(), woken, "the hook got it, once");
}

/// The journal is off unless turned on: the other commands' writes leave nothing.
#[tokio::test]
async fn a_store_without_the_journal_journals_nothing() {
    let store = SqliteStore::open(":memory:").unwrap();
    let chat = ConversationId::Chat(ChatId::generate());
    store
        .create_conversation(&new_chat(&chat, "ann@example.com", None))
        .await
        .unwrap();
    assert_eq!(store.journal_len().await.unwrap(), 0);
}

#[tokio::test]
async fn a_write_that_fails_or_is_refused_journals_nothing() {
    let (store, handed) = journaling();
    let store = store.with_message_limit(MessageLimit::parse("2").unwrap());
    let ann = user("ann@example.com");
    let chat = ConversationId::Chat(ChatId::generate());
    let retry = Retry::new(
        Endpoint::LiveCreate,
        &ann,
        IdempotencyKey::parse("key-1").unwrap(),
        BodyDigest::of(&serde_json::Map::new()),
    );
    let receipt = retry.receipt(&chat.key(), now_millis() / 1000).unwrap();
    store
        .create_conversation(&new_chat(&chat, "ann@example.com", Some(receipt.clone())))
        .await
        .unwrap();
    let count = || async { store.journal_len().await.unwrap() };
    assert_eq!(count().await, 1, "the first message's event");

    // A retry answered from its receipt.
    let mut retried = new_chat(&chat, "ann@example.com", Some(receipt));
    retried.id = ConversationId::Chat(ChatId::generate());
    assert!(matches!(
        store.create_conversation(&retried).await,
        Err(StoreError::ReceiptExists)
    ));
    // Someone else's conversation.
    let bob = user("bob@example.com");
    assert!(matches!(
        store
            .append_message(&chat, &bob, &says("me?"), None, None)
            .await,
        Err(StoreError::NotFound)
    ));
    // Past the limit (the second message is within it).
    store
        .append_message(&chat, &ann, &says("two"), None, None)
        .await
        .unwrap();
    assert_eq!(count().await, 2);
    assert!(matches!(
        store
            .append_message(&chat, &ann, &says("three"), None, None)
            .await,
        Err(StoreError::RateLimited { .. })
    ));
    // The agents read up to the newest message: once it moves, then it does not.
    let mark_newest = || async {
        let seen = store.find_conversation(&chat).await.unwrap().unwrap();
        let newest = seen.last_message.clone().unwrap().id;
        let marked = store.mark_read(&seen, Reader::Agents, &newest, None);
        (marked.await.unwrap().moved, seen)
    };
    assert!(mark_newest().await.0);
    assert_eq!(count().await, 3);
    // A mark that does not move; an assignment that changes nothing; a stale status;
    // a wake of a conversation that is not snoozed.
    let (moved, seen) = mark_newest().await;
    assert!(!moved);
    store.assign(&chat, None, None).await.unwrap();
    let stale = seen.clone();
    store
        .set_status(&seen, Status::Pending, None)
        .await
        .unwrap();
    assert_eq!(count().await, 4, "the status change");
    assert!(matches!(
        store.set_status(&stale, Status::Solved, None).await,
        Err(StoreError::Changed)
    ));
    assert!(!store.wake(&stale).await.unwrap());
    // A closed conversation takes no message.
    let seen = store.find_conversation(&chat).await.unwrap().unwrap();
    store.set_status(&seen, Status::Closed, None).await.unwrap();
    assert_eq!(count().await, 5);
    let assignee = AgentId::parse("agent-7").unwrap();
    assert!(matches!(
        store.assign(&chat, Some(&assignee), None).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        store
            .append_message(&chat, &ann, &says("hello?"), None, None)
            .await,
        Err(StoreError::Closed)
    ));
    assert_eq!(count().await, 5);
    let kinds: Vec<EventType> = journaled(&store)
        .await
        .into_iter()
        .map(|(_, event)| event.kind)
        .collect();
    use EventType::{MessageCreated, Read, StatusChanged};
    assert_eq!(
        kinds,
        [
            MessageCreated,
            MessageCreated,
            Read,
            StatusChanged,
            StatusChanged
        ]
    );
    assert_eq!(handed.lock().unwrap().len(), 5, "nor hands any to the hook");
}

fn user(email: &str) -> UserId {
    Email::parse(email).unwrap().user_id().clone()
}

fn says(text: &str) -> NewMessage {
    NewMessage::now(
        Author::Customer,
        MessageText::parse(text).unwrap(),
        None,
        None,
    )
}

fn new_chat(
    id: &ConversationId,
    email: &str,
    receipt: Option<supportzen_shared::idempotency::NewReceipt>,
) -> NewConversation {
    NewConversation {
        id: id.clone(),
        owner: Caller::New {
            user: user(email),
            pin: BearerToken::from_hex(&"01".repeat(32)).unwrap().digest(),
        },
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: says("hello"),
        follow_up_of: None,
        receipt,
        source: None,
        notice_at: None,
    }
}
