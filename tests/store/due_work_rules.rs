//! Due work on both stores: a snoozed conversation is due at its snooze time and not
//! before, wakes once (a second sweep, or two at once, do not wake it again), and a
//! conversation that changed since the sweep read it is not overwritten.

use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    Agent, AgentId, Author, ChatId, ConversationId, DisplayName, Email, Kind, MessageText,
    NewMessage, Profile, Status, UnixSeconds, UserId, now_millis,
};
use supportzen_shared::flows::due::sweep;
use supportzen_shared::store::{
    AssigneeFilter, Due, InboxFilter, NewConversation, StoredConversation,
};
use supportzen_tests::{TestStore, for_each_store};

fn ann() -> UserId {
    Email::parse("ann@example.com").unwrap().user_id().clone()
}

fn message(author: Author, text: &str) -> NewMessage {
    let mut message = NewMessage::now(author, MessageText::parse(text).unwrap(), None, None);
    if author == Author::Agent {
        message.agent = Some(Agent {
            id: AgentId::parse("agent-7").unwrap(),
            name: DisplayName::parse("Sam").unwrap(),
        });
    }
    message
}

/// `n` chats of Ann's.
async fn chats<S: TestStore>(store: &S, n: usize) -> Vec<ConversationId> {
    let pin = BearerToken::from_hex(&"01".repeat(32)).unwrap().digest();
    let mut ids = Vec::new();
    for i in 0..n {
        let owner = match i {
            0 => Caller::New { user: ann(), pin },
            _ => Caller::Known(ann()),
        };
        let chat = NewConversation {
            id: ConversationId::Chat(ChatId::generate()),
            owner,
            profile: Profile {
                name: None,
                plan_id: None,
                account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
            },
            first_message: message(Author::Customer, &format!("chat {i}")),
            follow_up_of: None,
            receipt: None,
        };
        store.create_conversation(&chat).await.unwrap();
        ids.push(chat.id);
    }
    ids
}

async fn seen<S: TestStore>(store: &S, id: &ConversationId) -> StoredConversation {
    store.find_conversation(id).await.unwrap().unwrap()
}

async fn snooze<S: TestStore>(store: &S, id: &ConversationId, until: i64) {
    store
        .set_status(&seen(store, id).await, Status::Pending, Some(until))
        .await
        .unwrap();
}

fn woken(due: &[Due]) -> Vec<ConversationId> {
    due.iter()
        .map(|item| match item {
            Due::Wake(conversation) => conversation.id.clone(),
        })
        .collect()
}

async fn snoozes_fall_due_at_their_time_and_wake_once<S: TestStore>() {
    let store = S::fresh().await;
    let ids = chats(&store, 4).await;
    let (soon, later) = (now_millis() + 3_600_000, now_millis() + 7_200_000);
    snooze(&store, &ids[0], soon).await;
    snooze(&store, &ids[1], later).await;
    // Pending with no snooze time is never due; nor is a snooze a customer's message
    // ended (it reopened the conversation).
    store
        .set_status(&seen(&store, &ids[2]).await, Status::Pending, None)
        .await
        .unwrap();
    snooze(&store, &ids[3], soon).await;
    store
        .append_message(
            &ids[3],
            &ann(),
            &message(Author::Customer, "still there?"),
            None,
        )
        .await
        .unwrap();

    assert!(store.due(soon - 1, 10).await.unwrap().is_empty());
    assert_eq!(
        woken(&store.due(soon, 10).await.unwrap()),
        vec![ids[0].clone()]
    );
    assert_eq!(
        woken(&store.due(later, 10).await.unwrap()),
        vec![ids[0].clone(), ids[1].clone()],
        "earliest first"
    );

    let report = sweep(&store, soon).await.unwrap();
    assert_eq!((report.woken, report.skipped), (1, 0));
    let woke = seen(&store, &ids[0]).await;
    assert_eq!((woke.status, woke.snoozed_until), (Status::Open, None));
    // It is in the open inbox again.
    let open = store
        .inbox_page(
            &InboxFilter {
                kind: Kind::Chat,
                status: Status::Open,
                assignee: AssigneeFilter::Any,
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert!(open.items.iter().any(|c| c.id == ids[0]));
    // Once: the same sweep again, and a later one, wake nothing more before `later`.
    assert_eq!(sweep(&store, soon).await.unwrap().woken, 0);
    assert!(store.due(later - 1, 10).await.unwrap().is_empty());
    // Only the snooze that came due; the pending one without a time stays pending.
    assert_eq!(seen(&store, &ids[1]).await.status, Status::Pending);
    assert_eq!(seen(&store, &ids[2]).await.status, Status::Pending);
    assert_eq!(sweep(&store, later).await.unwrap().woken, 1);
    assert_eq!(seen(&store, &ids[1]).await.status, Status::Open);
}

async fn overlapping_sweeps_wake_each_snooze_once<S: TestStore>() {
    let store = S::fresh().await;
    let ids = chats(&store, 6).await;
    let until = now_millis() + 3_600_000;
    for id in &ids {
        snooze(&store, id, until).await;
    }
    let (first, second) = tokio::join!(sweep(&store, until), sweep(&store, until));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.woken + second.woken, ids.len());
    for id in &ids {
        assert_eq!(seen(&store, id).await.status, Status::Open);
    }
}

async fn a_wake_never_overwrites_a_change_made_since_the_sweep_read<S: TestStore>() {
    let store = S::fresh().await;
    let ids = chats(&store, 3).await;
    let until = now_millis() + 3_600_000;
    for id in &ids {
        snooze(&store, id, until).await;
    }
    let due = store.due(until, 10).await.unwrap();
    let read = |id: &ConversationId| {
        due.iter()
            .find_map(|Due::Wake(c)| (&c.id == id).then(|| c.clone()))
            .unwrap()
    };
    // An agent snoozed it further; an agent replied (the activity moved); an agent
    // solved it.
    snooze(&store, &ids[0], until + 60_000).await;
    store
        .add_agent_message(
            &seen(&store, &ids[1]).await,
            &message(Author::Agent, "on it"),
        )
        .await
        .unwrap();
    store
        .set_status(&seen(&store, &ids[2]).await, Status::Solved, None)
        .await
        .unwrap();
    for id in &ids {
        assert!(!store.wake(&read(id)).await.unwrap(), "{id:?}");
    }
    assert_eq!(
        seen(&store, &ids[0]).await.snoozed_until,
        Some(until + 60_000)
    );
    assert_eq!(seen(&store, &ids[2]).await.status, Status::Solved);
    // The replied one is still due, as it is now: the next sweep wakes it.
    assert_eq!(
        woken(&store.due(until, 10).await.unwrap()),
        vec![ids[1].clone()]
    );
    assert_eq!(sweep(&store, until).await.unwrap().woken, 1);
    assert_eq!(seen(&store, &ids[1]).await.status, Status::Open);
}

for_each_store!(
    snoozes_fall_due_at_their_time_and_wake_once,
    overlapping_sweeps_wake_each_snooze_once,
    a_wake_never_overwrites_a_change_made_since_the_sweep_read,
);
