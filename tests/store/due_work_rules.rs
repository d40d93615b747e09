//! Due work on both stores: a snoozed conversation is due at its snooze time and not
//! before, wakes once (a second sweep, or two at once, do not wake it again), and a
//! conversation that changed since the sweep read it is not overwritten.

use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    Agent, AgentId, Author, ChatId, ConversationId, DisplayName, Email, Kind, MessageText,
    NewMessage, Profile, Reader, Status, UnixSeconds, UserId, now_millis,
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
            source: None,
            notice_at: None,
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
        .filter_map(|item| match item {
            Due::Wake(conversation) => Some(conversation.id.clone()),
            Due::UnreadReplies { .. } | Due::UnreadMessages { .. } => None,
        })
        .collect()
}

fn notices(due: &[Due]) -> Vec<(ConversationId, i64)> {
    due.iter()
        .filter_map(|item| match item {
            Due::UnreadReplies {
                conversation,
                due_at,
            } => Some((conversation.clone(), *due_at)),
            Due::Wake(_) | Due::UnreadMessages { .. } => None,
        })
        .collect()
}

/// The agents' notices among `due`, sorted by conversation.
fn agents_notices(due: &[Due]) -> Vec<(ConversationId, i64)> {
    let mut found: Vec<_> = due
        .iter()
        .filter_map(|item| match item {
            Due::UnreadMessages {
                conversation,
                due_at,
            } => Some((conversation.clone(), *due_at)),
            Due::Wake(_) | Due::UnreadReplies { .. } => None,
        })
        .collect();
    found.sort_by_key(|(id, _)| id.key());
    found
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
            .find_map(|item| match item {
                Due::Wake(c) if &c.id == id => Some((**c).clone()),
                _ => None,
            })
            .unwrap()
    };
    // An agent snoozed it further; an agent replied (the activity moved); an agent
    // solved it.
    snooze(&store, &ids[0], until + 60_000).await;
    store
        .add_agent_message(
            &seen(&store, &ids[1]).await,
            &message(Author::Agent, "on it"),
            None,
            None,
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

/// A reply sets the conversation's notice unless one is pending: a burst of replies is
/// one notice, at the first reply's time; a note sets none. Taking it succeeds once, for
/// the time read; the next reply starts a new quiet period.
async fn a_burst_of_replies_is_one_notice_taken_once<S: TestStore>() {
    let store = S::fresh().await;
    let ids = chats(&store, 2).await;
    let first = now_millis() + 3_600_000;
    for i in 0..5 {
        let seen = seen(&store, &ids[0]).await;
        let reply = message(Author::Agent, &format!("reply {i}"));
        store
            .add_agent_message(&seen, &reply, Some(first + i * 1000), None)
            .await
            .unwrap();
    }
    let mut note = message(Author::Agent, "internal");
    note.internal = true;
    store
        .add_agent_message(&seen(&store, &ids[1]).await, &note, Some(first), None)
        .await
        .unwrap();
    assert!(store.due(first - 1, 10).await.unwrap().is_empty());
    let due = store.due(first + 10_000, 10).await.unwrap();
    assert_eq!(notices(&due), vec![(ids[0].clone(), first)]);

    assert!(
        !store
            .take_notice(Reader::Customer, &ids[0], first + 1000)
            .await
            .unwrap(),
        "another time"
    );
    assert!(
        store
            .take_notice(Reader::Customer, &ids[0], first)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_notice(Reader::Customer, &ids[0], first)
            .await
            .unwrap(),
        "once"
    );
    assert!(store.due(first + 10_000, 10).await.unwrap().is_empty());

    // A new period: the next reply's time; scheduling again keeps the pending one.
    let later = first + 600_000;
    let reply = message(Author::Agent, "one more");
    store
        .add_agent_message(&seen(&store, &ids[0]).await, &reply, Some(later), None)
        .await
        .unwrap();
    store
        .schedule_notice(Reader::Customer, &ids[0], later + 5)
        .await
        .unwrap();
    assert_eq!(
        notices(&store.due(later + 10, 10).await.unwrap()),
        vec![(ids[0].clone(), later)]
    );
    // Two sweepers taking it at once: one wins.
    let (a, b) = tokio::join!(
        store.take_notice(Reader::Customer, &ids[0], later),
        store.take_notice(Reader::Customer, &ids[0], later)
    );
    assert!(a.unwrap() ^ b.unwrap());
    // Scheduling with none pending sets one.
    store
        .schedule_notice(Reader::Customer, &ids[1], later)
        .await
        .unwrap();
    assert_eq!(
        notices(&store.due(later, 10).await.unwrap()),
        vec![(ids[1].clone(), later)]
    );
}

/// A customer's message (an opening one too) sets the agents' notice unless one is
/// pending: a burst is one notice at the first message's time, apart from the
/// customer's; taking it succeeds once. A sweep without a mailer takes it and sends
/// nothing. The assignee's address is kept with their assignment only.
async fn customer_messages_set_one_agents_notice_per_quiet_period<S: TestStore>() {
    let store = S::fresh().await;
    let ids = chats(&store, 2).await;
    let first = now_millis() + 3_600_000;
    let opened = NewConversation {
        id: ConversationId::Chat(ChatId::generate()),
        owner: Caller::Known(ann()),
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: message(Author::Customer, "hello?"),
        follow_up_of: None,
        receipt: None,
        notice_at: Some(first),
        source: None,
    };
    store.create_conversation(&opened).await.unwrap();
    for i in 0..5 {
        store
            .append_message(
                &ids[0],
                &ann(),
                &message(Author::Customer, &format!("message {i}")),
                Some(first + i * 1000),
                None,
            )
            .await
            .unwrap();
    }
    assert!(store.due(first - 1, 10).await.unwrap().is_empty());
    let due = store.due(first + 10_000, 10).await.unwrap();
    let mut expected = vec![(ids[0].clone(), first), (opened.id.clone(), first)];
    expected.sort_by_key(|(id, _)| id.key());
    assert_eq!(agents_notices(&due), expected);
    assert!(notices(&due).is_empty(), "no customer's notice");

    assert!(
        !store
            .take_notice(Reader::Customer, &ids[0], first)
            .await
            .unwrap(),
        "the customer's notice is another"
    );
    assert!(
        !store
            .take_notice(Reader::Agents, &ids[0], first + 1000)
            .await
            .unwrap()
    );
    assert!(
        store
            .take_notice(Reader::Agents, &ids[0], first)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_notice(Reader::Agents, &ids[0], first)
            .await
            .unwrap(),
        "once"
    );
    // A new period starts with the next message; retrying keeps the pending one.
    let later = first + 600_000;
    store
        .append_message(
            &ids[0],
            &ann(),
            &message(Author::Customer, "anyone?"),
            Some(later),
            None,
        )
        .await
        .unwrap();
    store
        .schedule_notice(Reader::Agents, &ids[0], later + 5)
        .await
        .unwrap();
    let due = store.due(later + 10, 10).await.unwrap();
    assert!(agents_notices(&due).contains(&(ids[0].clone(), later)));
    // A sweep with no mailer takes the due notices and sends nothing.
    let report = sweep(&store, later + 10).await.unwrap();
    assert_eq!((report.agents_emailed, report.skipped), (0, 2));
    assert!(store.due(later + 10, 10).await.unwrap().is_empty());

    // The assignee's address: set with the assignment, gone with another one.
    let sam = AgentId::parse("agent-7").unwrap();
    let sams = Email::parse("sam@example.com").unwrap();
    assert_eq!(store.assignee_email(&ids[1]).await.unwrap(), None);
    store
        .assign(&ids[1], Some(&sam), Some(&sams))
        .await
        .unwrap();
    assert_eq!(
        store
            .assignee_email(&ids[1])
            .await
            .unwrap()
            .map(|e| e.user_id().clone()),
        Some(sams.user_id().clone())
    );
    let kim = AgentId::parse("agent-8").unwrap();
    store.assign(&ids[1], Some(&kim), None).await.unwrap();
    assert_eq!(store.assignee_email(&ids[1]).await.unwrap(), None);
    store
        .assign(&ids[1], Some(&sam), Some(&sams))
        .await
        .unwrap();
    store.assign(&ids[1], None, Some(&sams)).await.unwrap();
    assert_eq!(store.assignee_email(&ids[1]).await.unwrap(), None);
    assert_eq!(seen(&store, &ids[1]).await.assignee, None);
}

/// Opting out is recorded once and read back; an unknown user is not created.
async fn unsubscribing_is_kept_and_repeats_harmlessly<S: TestStore>() {
    let store = S::fresh().await;
    chats(&store, 1).await;
    assert!(!store.unsubscribed(&ann()).await.unwrap());
    assert!(store.unsubscribe(&ann()).await.unwrap());
    assert!(store.unsubscribe(&ann()).await.unwrap());
    assert!(store.unsubscribed(&ann()).await.unwrap());
    let nobody = Email::parse("nobody@example.com")
        .unwrap()
        .user_id()
        .clone();
    assert!(!store.unsubscribe(&nobody).await.unwrap());
    assert!(!store.unsubscribed(&nobody).await.unwrap());
}

for_each_store!(
    a_burst_of_replies_is_one_notice_taken_once,
    customer_messages_set_one_agents_notice_per_quiet_period,
    unsubscribing_is_kept_and_repeats_harmlessly,
    snoozes_fall_due_at_their_time_and_wake_once,
    overlapping_sweeps_wake_each_snooze_once,
    a_wake_never_overwrites_a_change_made_since_the_sweep_read,
);
