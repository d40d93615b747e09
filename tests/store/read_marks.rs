//! Read marks and unread counts, on both stores: marks only move forward, a mark names a
//! message of its conversation (the customer never a note), and the counts kept in the
//! message writes stay exact under concurrent sends, replies, notes and marks. And the
//! typing throttle production keeps in the table.

use supportzen_shared::auth::Caller;
use supportzen_shared::domain::{
    Agent, AgentId, Author, ChatId, ConversationId, DisplayName, Email, MessageId, MessageText,
    NewMessage, Profile, UnixSeconds, UserId,
};
use supportzen_shared::store::{NewConversation, Reader, StoreError, StoredConversation};
use supportzen_tests::{TestStore, for_each_store};

fn user(email: &str) -> UserId {
    Email::parse(email).unwrap().user_id().clone()
}

fn text(text: &str) -> MessageText {
    MessageText::parse(text).unwrap()
}

fn agent(id: &str) -> Agent {
    Agent {
        id: AgentId::parse(id).unwrap(),
        name: DisplayName::parse(&format!("Agent {id}")).unwrap(),
    }
}

fn customer_message(body: &str) -> NewMessage {
    NewMessage::now(Author::Customer, text(body), None, None)
}

fn reply(body: &str, internal: bool) -> NewMessage {
    NewMessage::by_agent(agent("a"), text(body), None, None, internal)
}

/// A chat of Ann's (created by her first-use write) whose first message is hers.
async fn new_chat<S: TestStore>(store: &S, email: &str) -> (UserId, NewConversation) {
    let owner = user(email);
    let pin = supportzen_shared::auth::BearerToken::from_hex(&"01".repeat(32))
        .unwrap()
        .digest();
    let new = NewConversation {
        id: ConversationId::Chat(ChatId::generate()),
        owner: Caller::New {
            user: owner.clone(),
            pin,
        },
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: customer_message("first"),
        follow_up_of: None,
        receipt: None,
        source: None,
        notice_at: None,
    };
    store.create_conversation(&new).await.unwrap();
    (owner, new)
}

async fn read<S: TestStore>(store: &S, id: &ConversationId) -> StoredConversation {
    store.find_conversation(id).await.unwrap().unwrap()
}

async fn send<S: TestStore>(store: &S, id: &ConversationId, owner: &UserId, m: &NewMessage) {
    store
        .append_message(id, owner, m, None, None)
        .await
        .unwrap();
}

async fn answer<S: TestStore>(store: &S, id: &ConversationId, m: &NewMessage) {
    let seen = read(store, id).await;
    store.add_agent_message(&seen, m, None, None).await.unwrap();
}

/// `reader`'s unread as recounted from the stored messages: the other side's public
/// messages after the mark.
async fn recount<S: TestStore>(
    store: &S,
    conversation: &StoredConversation,
    reader: Reader,
) -> i64 {
    let mark = conversation.reads.mark(reader).map(|m| m.up_to.clone());
    store
        .messages(&conversation.id)
        .await
        .unwrap()
        .iter()
        .filter(|m| !m.internal && m.author == reader.reads())
        .filter(|m| {
            mark.as_ref()
                .is_none_or(|up_to| m.id.as_str() > up_to.as_str())
        })
        .count() as i64
}

pub async fn marks_only_move_forward_and_name_a_message_of_their_conversation<S: TestStore>() {
    let store = S::fresh().await;
    let (ann, first) = new_chat(&store, "ann@example.com").await;
    let id = &first.id;
    let (r1, r2, note) = (reply("r1", false), reply("r2", false), reply("n1", true));
    answer(&store, id, &r1).await;
    answer(&store, id, &note).await;
    answer(&store, id, &r2).await;
    let m2 = customer_message("second");
    send(&store, id, &ann, &m2).await;

    // Nothing marked yet: every reply is unread by Ann, both of her messages by agents.
    let seen = read(&store, id).await;
    assert_eq!(seen.reads.customer_messages, 2);
    assert_eq!(seen.reads.agent_replies, 2, "the note is not counted");
    assert_eq!(seen.reads.unread(Reader::Customer), 2);
    assert_eq!(seen.reads.unread(Reader::Agents), 2);

    // Ann reads the first reply, then the second; marking the first again changes nothing.
    let marked = store
        .mark_read(&seen, Reader::Customer, &r1.id, None)
        .await
        .unwrap();
    assert!(marked.moved);
    assert_eq!(
        marked.conversation.reads.customer.as_ref().unwrap().up_to,
        r1.id
    );
    assert_eq!(marked.conversation.reads.unread(Reader::Customer), 1);
    let marked = store
        .mark_read(&marked.conversation, Reader::Customer, &r2.id, None)
        .await
        .unwrap();
    assert_eq!(marked.conversation.reads.unread(Reader::Customer), 0);
    let again = store
        .mark_read(&seen, Reader::Customer, &r1.id, None)
        .await
        .unwrap();
    assert!(!again.moved, "an older mark is a no-op");
    assert_eq!(
        again.conversation.reads.customer.as_ref().unwrap().up_to,
        r2.id
    );
    assert_eq!(again.conversation.reads.unread(Reader::Customer), 0);
    let stored = read(&store, id).await;
    assert_eq!(stored.reads.customer.as_ref().unwrap().up_to, r2.id);
    assert_eq!(stored.reads.unread(Reader::Customer), 0);
    // A reply after the mark is unread again.
    let r3 = reply("r3", false);
    answer(&store, id, &r3).await;
    assert_eq!(read(&store, id).await.reads.unread(Reader::Customer), 1);

    // The customer cannot mark a note; nobody can mark an id that is not in this
    // conversation; and nothing changed.
    let seen = read(&store, id).await;
    let (_, other) = new_chat(&store, "bob@example.com").await;
    for (reader, up_to) in [
        (Reader::Customer, note.id.clone()),
        (Reader::Customer, MessageId::generate()),
        (Reader::Agents, MessageId::generate()),
        (Reader::Customer, other.first_message.id.clone()),
        (Reader::Agents, other.first_message.id.clone()),
    ] {
        let refused = store.mark_read(&seen, reader, &up_to, None).await;
        assert!(
            matches!(refused, Err(StoreError::UnknownMessage)),
            "{refused:?}"
        );
    }
    assert_eq!(read(&store, id).await, seen);

    // The agents share one mark: one agent's note, then another agent's read of Ann's
    // newest message, each recorded with who moved it.
    let marked = store
        .mark_read(&seen, Reader::Agents, &note.id, Some(&agent("a")))
        .await
        .unwrap();
    assert_eq!(
        marked.conversation.reads.unread(Reader::Agents),
        1,
        "m2 is after the note"
    );
    let marked = store
        .mark_read(
            &marked.conversation,
            Reader::Agents,
            &m2.id,
            Some(&agent("b")),
        )
        .await
        .unwrap();
    let mark = marked.conversation.reads.agents.clone().unwrap();
    assert_eq!((mark.up_to, mark.by), (m2.id.clone(), Some(agent("b"))));
    assert_eq!(marked.conversation.reads.unread(Reader::Agents), 0);
    // The agents' mark leaves the customer's alone.
    assert_eq!(
        marked.conversation.reads.customer.as_ref().unwrap().up_to,
        r2.id
    );

    // Marks racing each other: the furthest wins, whatever order they land in.
    let (_, race) = new_chat(&store, "cy@example.com").await;
    let mut replies = Vec::new();
    for n in 0..10 {
        let r = reply(&format!("race {n}"), false);
        answer(&store, &race.id, &r).await;
        replies.push(r.id);
    }
    let seen = read(&store, &race.id).await;
    let marks: Vec<_> = replies
        .iter()
        .rev()
        .map(|up_to| {
            let (store, seen, up_to) = (store.clone(), seen.clone(), up_to.clone());
            tokio::spawn(
                async move { store.mark_read(&seen, Reader::Customer, &up_to, None).await },
            )
        })
        .collect();
    for mark in marks {
        mark.await.unwrap().unwrap();
    }
    let stored = read(&store, &race.id).await;
    assert_eq!(stored.reads.customer.as_ref().unwrap().up_to, replies[9]);
    assert_eq!(stored.reads.unread(Reader::Customer), 0);
}

pub async fn unread_counts_are_exact_after_concurrent_sends_replies_notes_and_marks<
    S: TestStore,
>() {
    let store = S::fresh().await;
    let (ann, first) = new_chat(&store, "ann@example.com").await;
    let id = first.id.clone();

    // 50 at once: 25 customer messages, 15 replies and 10 notes, interleaved.
    let writes = |from: usize, to: usize| {
        (from..to)
            .map(|n| {
                let (store, id, ann) = (store.clone(), id.clone(), ann.clone());
                tokio::spawn(async move {
                    match n % 5 {
                        0 | 2 | 4 => {
                            let m = customer_message(&format!("c{n}"));
                            store
                                .append_message(&id, &ann, &m, None, None)
                                .await
                                .map(|()| m)
                        }
                        1 => {
                            let m = reply(&format!("r{n}"), false);
                            answer(&store, &id, &m).await;
                            Ok(m)
                        }
                        _ => {
                            let m = reply(&format!("n{n}"), true);
                            answer(&store, &id, &m).await;
                            Ok(m)
                        }
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    let mut written = Vec::new();
    for task in writes(0, 50) {
        written.push(task.await.unwrap().unwrap());
    }
    let stored = read(&store, &id).await;
    assert_eq!(
        stored.reads.customer_messages, 31,
        "the first message and 30 more"
    );
    assert_eq!(stored.reads.agent_replies, 10);
    assert_eq!(stored.reads.unread(Reader::Customer), 10);
    assert_eq!(stored.reads.unread(Reader::Agents), 31);

    // Each side marks a message in the middle: unread is what came after it.
    written.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let middle = &written[24];
    let mut seen = stored;
    for (reader, up_to) in [
        (
            Reader::Customer,
            written
                .iter()
                .filter(|m| m.author == Author::Agent && !m.internal)
                .nth(4),
        ),
        (Reader::Agents, Some(middle)),
    ] {
        let up_to = &up_to.unwrap().id;
        seen = store
            .mark_read(
                &seen,
                reader,
                up_to,
                Some(&agent("a")).filter(|_| reader == Reader::Agents),
            )
            .await
            .unwrap()
            .conversation;
        assert_eq!(
            seen.reads.unread(reader),
            recount(&store, &seen, reader).await
        );
    }
    assert_eq!(seen.reads.unread(Reader::Customer), 5);

    // 20 more writes while both sides mark, again and again, messages already there.
    let earlier: Vec<MessageId> = written
        .iter()
        .filter(|m| !m.internal)
        .map(|m| m.id.clone())
        .collect();
    let marks: Vec<_> = (0..10)
        .map(|n| {
            let (store, id) = (store.clone(), id.clone());
            let up_to = earlier[earlier.len() - 1 - n].clone();
            tokio::spawn(async move {
                let reader = if n % 2 == 0 {
                    Reader::Agents
                } else {
                    Reader::Customer
                };
                let seen = read(&store, &id).await;
                match store.mark_read(&seen, reader, &up_to, None).await {
                    Ok(_) => {}
                    // The customer cannot mark... every id here is public: no refusal.
                    Err(err) => panic!("{err:?}"),
                }
            })
        })
        .collect();
    let more = writes(50, 70);
    for mark in marks {
        mark.await.unwrap();
    }
    for task in more {
        task.await.unwrap().unwrap();
    }
    let stored = read(&store, &id).await;
    assert_eq!(stored.reads.customer_messages, 31 + 12);
    assert_eq!(stored.reads.agent_replies, 10 + 4);
    for reader in Reader::ALL {
        assert_eq!(
            stored.reads.unread(reader),
            recount(&store, &stored, reader).await,
            "{reader:?}'s unread"
        );
    }
}

/// Production's typing throttle: one claim per sender and conversation per 2 s, one
/// winner among claims racing at one moment.
pub async fn typing_is_claimed_once_per_sender_and_conversation_per_interval<S: TestStore>() {
    use supportzen_shared::events::{Subscriber, TYPING_INTERVAL_MS};
    let store = S::fresh().await;
    let (ann, first) = new_chat(&store, "ann@example.com").await;
    let (_, other) = new_chat(&store, "bob@example.com").await;
    let ann = Subscriber::Customer(ann);
    let agent = Subscriber::Agent(self::agent("agent-7"));
    let now = 1_795_341_600_000;
    assert!(store.claim_typing(&ann, &first.id, now).await.unwrap());
    assert!(
        !store
            .claim_typing(&ann, &first.id, now + TYPING_INTERVAL_MS - 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_typing(&agent, &first.id, now + 1)
            .await
            .unwrap(),
        "another sender"
    );
    assert!(
        store.claim_typing(&ann, &other.id, now + 1).await.unwrap(),
        "another conversation"
    );
    assert!(
        store
            .claim_typing(&ann, &first.id, now + TYPING_INTERVAL_MS)
            .await
            .unwrap()
    );

    let later = now + 10 * TYPING_INTERVAL_MS;
    let racing: Vec<_> = (0..10)
        .map(|_| {
            let (store, agent, id) = (store.clone(), agent.clone(), first.id.clone());
            tokio::spawn(async move { store.claim_typing(&agent, &id, later).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for claim in racing {
        won += usize::from(claim.await.unwrap());
    }
    assert_eq!(won, 1);
}

for_each_store!(
    typing_is_claimed_once_per_sender_and_conversation_per_interval,
    marks_only_move_forward_and_name_a_message_of_their_conversation,
    unread_counts_are_exact_after_concurrent_sends_replies_notes_and_marks,
);
