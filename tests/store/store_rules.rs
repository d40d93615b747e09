//! The rules every store must keep, written once and run against each implementation.
//! Each rule names what it protects; all of them also check that a refused write
//! left nothing behind.

use std::collections::BTreeSet;
use std::time::Duration;
use supportzen_shared::auth::{BearerToken, Caller, Credential, Secret, TokenDigest};
use supportzen_shared::domain::{
    Author, ChatId, ConversationId, DisplayName, Email, ImageUrl, MessageText, NewMessage, Profile,
    TicketId, UnixSeconds, UserId, now_millis,
};
use supportzen_shared::store::{NewConversation, SecretChange, StoreError};
use supportzen_tests::{TestStore, close, for_each_store, png_upload, texts};

fn user(email: &str) -> UserId {
    Email::parse(email).unwrap().user_id().clone()
}

/// The digest of a distinct, well-formed token for each `n`.
fn pin(n: u8) -> TokenDigest {
    BearerToken::from_hex(&format!("{n:02x}").repeat(32))
        .unwrap()
        .digest()
}

fn message(text: &str) -> NewMessage {
    NewMessage::now(
        Author::Customer,
        MessageText::parse(text).unwrap(),
        Some(ImageUrl::parse("https://cdn.example.com/a.png").unwrap()),
        None,
    )
}

fn profile(name: Option<&str>, plan_id: Option<i64>) -> Profile {
    Profile {
        name: name.map(|n| DisplayName::parse(n).unwrap()),
        plan_id,
        account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
    }
}

fn new_chat(owner: Caller, text: &str) -> NewConversation {
    NewConversation {
        id: ConversationId::Chat(ChatId::generate()),
        owner,
        profile: profile(Some("Basic Plan"), Some(1)),
        first_message: message(text),
        follow_up_of: None,
        receipt: None,
        source: None,
        notice_at: None,
    }
}

/// A known user, created by a first request with pin 1.
async fn known_user<S: TestStore>(store: &S, email: &str) -> Caller {
    let id = user(email);
    let first = new_chat(
        Caller::New {
            user: id.clone(),
            pin: pin(1),
        },
        "hello",
    );
    store.create_conversation(&first).await.unwrap();
    Caller::Known(id)
}

pub async fn a_conversation_and_its_messages_are_stored_in_order<S: TestStore>() {
    let store = S::fresh().await;
    let ann = user("ann@example.com");
    let chat = new_chat(
        Caller::New {
            user: ann.clone(),
            pin: pin(1),
        },
        "first",
    );
    store.create_conversation(&chat).await.unwrap();
    let record = store.find_user(&ann).await.unwrap().unwrap();
    assert_eq!(record.credential, Credential::Pinned(pin(1)));
    for text in ["second", "third"] {
        store
            .append_message(&chat.id, &ann, &message(text), None, None)
            .await
            .unwrap();
    }
    assert_eq!(texts(&store, &chat.id).await, ["first", "second", "third"]);
    let stored = store.messages(&chat.id).await.unwrap();
    assert_eq!(stored[0].id, chat.first_message.id);
    assert_eq!(
        stored[0].image_url.as_deref(),
        Some("https://cdn.example.com/a.png")
    );
    let conversation = store.find_conversation(&chat.id).await.unwrap().unwrap();
    assert_eq!(
        (conversation.owner, conversation.status),
        (ann.clone(), supportzen_shared::domain::Status::Open)
    );
    assert_eq!(conversation.last_activity_at, stored[2].sent_at);
    let mine = store.conversations_of(&ann).await.unwrap();
    assert_eq!(
        mine.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        [chat.id]
    );
}

pub async fn each_message_keeps_its_author<S: TestStore>() {
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let mut chat = new_chat(ann.clone(), "from the customer");
    chat.first_message.author = Author::Customer;
    store.create_conversation(&chat).await.unwrap();
    for author in [Author::Agent, Author::System, Author::Customer] {
        let mut reply = message(author.as_str());
        reply.author = author;
        store
            .append_message(&chat.id, ann.user(), &reply, None, None)
            .await
            .unwrap();
    }
    let authors: Vec<Author> = store
        .messages(&chat.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.author)
        .collect();
    assert_eq!(
        authors,
        [
            Author::Customer,
            Author::Agent,
            Author::System,
            Author::Customer
        ]
    );
}

pub async fn only_the_owner_can_append_to_an_open_conversation<S: TestStore>() {
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let bob = known_user(&store, "bob@example.com").await;
    let chat = new_chat(ann.clone(), "ann's");
    store.create_conversation(&chat).await.unwrap();

    let refused = store
        .append_message(&chat.id, bob.user(), &message("bob's"), None, None)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let missing = ConversationId::Chat(ChatId::generate());
    let refused = store
        .append_message(&missing, ann.user(), &message("nowhere"), None, None)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert!(store.messages(&missing).await.unwrap().is_empty());
    assert!(store.find_conversation(&missing).await.unwrap().is_none());

    assert!(close(&store, &chat.id).await);
    let refused = store
        .append_message(&chat.id, ann.user(), &message("late"), None, None)
        .await;
    assert!(matches!(refused, Err(StoreError::Closed)), "{refused:?}");
    // Closed is only revealed to the owner.
    let refused = store
        .append_message(&chat.id, bob.user(), &message("late"), None, None)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(texts(&store, &chat.id).await, ["ann's"]);
    assert!(!close(&store, &missing).await);
}

pub async fn a_first_use_write_loses_to_an_existing_user_and_writes_nothing<S: TestStore>() {
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let late = new_chat(
        Caller::New {
            user: ann.user().clone(),
            pin: pin(2),
        },
        "late",
    );
    let refused = store.create_conversation(&late).await;
    assert!(
        matches!(refused, Err(StoreError::UserExists)),
        "{refused:?}"
    );
    assert!(store.find_conversation(&late.id).await.unwrap().is_none());
    assert!(store.messages(&late.id).await.unwrap().is_empty());
    let record = store.find_user(ann.user()).await.unwrap().unwrap();
    assert_eq!(
        record.credential,
        Credential::Pinned(pin(1)),
        "the first pin stays"
    );
}

pub async fn a_conversation_id_is_never_overwritten<S: TestStore>() {
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let bob = known_user(&store, "bob@example.com").await;
    let original = new_chat(ann, "original");
    store.create_conversation(&original).await.unwrap();
    let clash = NewConversation {
        owner: bob.clone(),
        first_message: message("clash"),
        ..original.clone()
    };
    assert!(store.create_conversation(&clash).await.is_err());
    let stored = store
        .find_conversation(&original.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&stored.owner, original.owner.user());
    assert_eq!(texts(&store, &original.id).await, ["original"]);
    assert_eq!(
        store.conversations_of(bob.user()).await.unwrap().len(),
        1,
        "only bob's own first chat"
    );
}

pub async fn creating_updates_the_profile_with_what_was_sent<S: TestStore>() {
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let p = store.profile(ann.user()).await.unwrap().unwrap();
    assert_eq!(
        (p.name.as_deref(), p.plan_id, p.account_created_at),
        (Some("Basic Plan"), Some(1), Some(1_679_223_400))
    );
    let upgrade = NewConversation {
        profile: profile(Some("Premium Plan"), None),
        ..new_chat(ann.clone(), "upgrade")
    };
    store.create_conversation(&upgrade).await.unwrap();
    let p = store.profile(ann.user()).await.unwrap().unwrap();
    assert_eq!(
        (p.name.as_deref(), p.plan_id),
        (Some("Premium Plan"), Some(1)),
        "absent fields keep their value"
    );
}

pub async fn provisioning_a_secret_replaces_the_pin<S: TestStore>() {
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let secret = Secret::parse("rotated").unwrap();
    // A pin is not a secret: nothing is kept as the previous one, whatever the grace.
    let change = store.put_secret(ann.user(), &secret, DAY).await.unwrap();
    assert_eq!(change, SecretChange::First);
    let record = store.find_user(ann.user()).await.unwrap().unwrap();
    assert_eq!(record.credential, Credential::secret(secret));
    let cid = user("cid@example.com");
    let change = store
        .put_secret(&cid, &Secret::parse("fresh").unwrap(), DAY)
        .await
        .unwrap();
    assert_eq!(change, SecretChange::First);
    let record = store.find_user(&cid).await.unwrap().unwrap();
    assert_eq!(
        record.credential,
        Credential::secret(Secret::parse("fresh").unwrap())
    );
    assert!(
        store
            .find_user(&user("nobody@example.com"))
            .await
            .unwrap()
            .is_none()
    );
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The secrets `find_user` returns: the current one, and the previous one with its expiry.
async fn secrets<S: TestStore>(store: &S, id: &UserId) -> (String, Option<(String, i64)>) {
    match store.find_user(id).await.unwrap().unwrap().credential {
        Credential::Secret { current, previous } => (
            current.expose().to_string(),
            previous.map(|p| (p.secret.expose().to_string(), p.valid_until)),
        ),
        other => panic!("expected a secret, got {other:?}"),
    }
}

pub async fn rotating_a_secret_keeps_the_old_one_for_the_grace_period<S: TestStore>() {
    let store = S::fresh().await;
    let ann = user("ann@example.com");
    let put = |secret: &'static str, grace: Duration| {
        let (store, ann) = (store.clone(), ann.clone());
        async move {
            store
                .put_secret(&ann, &Secret::parse(secret).unwrap(), grace)
                .await
                .unwrap()
        }
    };
    assert_eq!(put("one", DAY).await, SecretChange::First);
    assert_eq!(secrets(&store, &ann).await, ("one".into(), None));

    let before = now_millis();
    assert_eq!(put("two", DAY).await, SecretChange::Replaced);
    let (current, previous) = secrets(&store, &ann).await;
    let (old, until) = previous.expect("the replaced secret is kept");
    assert_eq!((current.as_str(), old.as_str()), ("two", "one"));
    let day_ms = DAY.as_millis() as i64;
    assert!(
        (before + day_ms..=now_millis() + day_ms).contains(&until),
        "valid for the grace period"
    );

    // Putting the current secret again leaves the rotation as it was.
    assert_eq!(put("two", Duration::ZERO).await, SecretChange::Unchanged);
    assert_eq!(
        secrets(&store, &ann).await,
        ("two".into(), Some(("one".into(), until)))
    );

    // Only one previous secret is kept.
    put("three", DAY).await;
    assert_eq!(
        secrets(&store, &ann).await.1.map(|(old, _)| old),
        Some("two".into())
    );

    // A zero grace period revokes the replaced secret at once.
    assert_eq!(put("four", Duration::ZERO).await, SecretChange::Replaced);
    assert_eq!(secrets(&store, &ann).await, ("four".into(), None));
}

pub async fn ticket_numbers_count_up_from_one<S: TestStore>() {
    let store = S::fresh().await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(store.next_ticket_number().await.unwrap());
    }
    assert_eq!(numbers, [1, 2, 3]);
    let ann = known_user(&store, "ann@example.com").await;
    let ticket = NewConversation {
        id: ConversationId::Ticket(TicketId::from_number(4).unwrap()),
        ..new_chat(ann.clone(), "ticket")
    };
    store.create_conversation(&ticket).await.unwrap();
    let stored = store.find_conversation(&ticket.id).await.unwrap().unwrap();
    assert_eq!(stored.id.key(), "TKT-004");
}

pub async fn fifty_concurrent_sends_are_all_stored_in_order<S: TestStore>() {
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let chat = new_chat(ann.clone(), "start");
    store.create_conversation(&chat).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let (store, id, owner) = (store.clone(), chat.id.clone(), ann.user().clone());
            tokio::spawn(async move {
                let sent = message(&format!("m{n}"));
                store
                    .append_message(&id, &owner, &sent, None, None)
                    .await
                    .map(|()| sent.id)
            })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    for task in tasks {
        acknowledged.insert(task.await.unwrap().unwrap());
    }
    let stored = store.messages(&chat.id).await.unwrap();
    assert_eq!(stored.len(), 51);
    let ids: Vec<_> = stored.iter().map(|m| m.id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "messages come back in id (time) order");
    let stored_ids: BTreeSet<_> = ids.into_iter().skip(1).collect();
    assert_eq!(
        stored_ids, acknowledged,
        "every acknowledged message is stored, once"
    );
}

pub async fn thirty_concurrent_ticket_numbers_are_distinct_and_consecutive<S: TestStore>() {
    let store = S::fresh().await;
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.next_ticket_number().await.unwrap() })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for task in tasks {
        assert!(
            numbers.insert(task.await.unwrap()),
            "a number was handed out twice"
        );
    }
    assert_eq!(numbers, (1..=30).collect());
}

pub async fn ten_concurrent_first_uses_of_one_email_have_one_winner<S: TestStore>() {
    let store = S::fresh().await;
    let ann = user("ann@example.com");
    let tasks: Vec<_> = (0..10u8)
        .map(|n| {
            let (store, ann) = (store.clone(), ann.clone());
            tokio::spawn(async move {
                let chat = new_chat(
                    Caller::New {
                        user: ann,
                        pin: pin(n),
                    },
                    "first!",
                );
                store.create_conversation(&chat).await.map(|()| n)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(n) => winners.push(n),
            Err(StoreError::UserExists) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let record = store.find_user(&ann).await.unwrap().unwrap();
    assert_eq!(record.credential, Credential::Pinned(pin(winners[0])));
    assert_eq!(store.conversations_of(&ann).await.unwrap().len(), 1);
}

/// An upload of Ann's, recorded as declared.
async fn ann_upload<S: TestStore>(
    store: &S,
    ann: &UserId,
) -> supportzen_shared::domain::Attachment {
    use supportzen_shared::domain::Uploader;
    let record = png_upload(Uploader::customer(ann), "shot.png", 64);
    store.record_upload(&record).await.unwrap();
    record.attachment(record.uploader.kept_key(&record.id))
}

/// What keeps an upload attached once, and only by its uploader: the message's own write
/// claims it, so of ten messages racing for one upload one has it and nine write nothing;
/// Bob's message naming Ann's upload (with a key under his own folder, as his request
/// would build it) writes nothing either.
pub async fn an_upload_is_claimed_by_one_message_of_its_uploader<S: TestStore>() {
    use supportzen_shared::domain::Uploader;
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let chat = new_chat(ann.clone(), "first");
    store.create_conversation(&chat).await.unwrap();
    let file = ann_upload(&store, ann.user()).await;

    let sends = (0..10).map(|n| {
        let message = NewMessage {
            attachments: vec![file.clone()],
            ..message(&format!("with the file {n}"))
        };
        let (store, chat, ann) = (store.clone(), chat.id.clone(), ann.user().clone());
        tokio::spawn(async move {
            store
                .append_message(&chat, &ann, &message, None, None)
                .await
        })
    });
    let mut won = 0;
    for send in sends.collect::<Vec<_>>() {
        match send.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::AttachmentUnavailable(id)) => assert_eq!(id, file.id),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);
    let stored = store.messages(&chat.id).await.unwrap();
    assert_eq!(stored.len(), 2, "the first message and the one that won");
    assert_eq!(stored[1].attachments, vec![file.clone()]);
    let found = store
        .find_uploads(std::slice::from_ref(&file.id))
        .await
        .unwrap();
    assert_eq!(found[0].attached_to.as_ref(), Some(&stored[1].id));

    // Bob's write names Ann's upload under his folder: not his, nothing written.
    let bob = known_user(&store, "bob@example.com").await;
    let bobs_chat = new_chat(bob.clone(), "bob's");
    store.create_conversation(&bobs_chat).await.unwrap();
    let other = ann_upload(&store, ann.user()).await;
    let mut taken = other.clone();
    taken.key = Uploader::customer(bob.user()).key(&other.id);
    let message = NewMessage {
        attachments: vec![taken],
        ..message("not mine")
    };
    let refused = store
        .append_message(&bobs_chat.id, bob.user(), &message, None, None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::AttachmentUnavailable(_))),
        "{refused:?}"
    );
    assert_eq!(texts(&store, &bobs_chat.id).await, ["bob's"]);
    let found = store
        .find_uploads(std::slice::from_ref(&other.id))
        .await
        .unwrap();
    assert_eq!(found[0].attached_to, None, "still Ann's to attach");
}

/// A retry of an agent's reply that lost the race to its first try (the same key, the
/// same file, the conversation as read before the first committed) meets the first's
/// receipt before anything the first changed: the route replays the first answer,
/// rather than refusing the file it claimed or the activity it wrote.
pub async fn a_retried_agent_reply_meets_the_receipt_before_its_claimed_file<S: TestStore>() {
    use supportzen_shared::domain::{Agent, AgentId, Uploader, now_seconds};
    use supportzen_shared::endpoint::Endpoint;
    use supportzen_shared::idempotency::{BodyDigest, IdempotencyKey, Retry};
    let store = S::fresh().await;
    let ann = known_user(&store, "ann@example.com").await;
    let chat = new_chat(ann.clone(), "first");
    store.create_conversation(&chat).await.unwrap();
    let seen = store.find_conversation(&chat.id).await.unwrap().unwrap();
    let sam = Agent {
        id: AgentId::parse("sam").unwrap(),
        name: DisplayName::parse("Sam").unwrap(),
    };
    let record = png_upload(Uploader::agent(&sam.id), "steps.png", 64);
    store.record_upload(&record).await.unwrap();
    let file = record.attachment(record.uploader.kept_key(&record.id));
    let retry = Retry::for_agent(
        Endpoint::AgentReply,
        &sam.id,
        IdempotencyKey::parse("reply-1").unwrap(),
        BodyDigest::of(&serde_json::Map::new()),
    );
    let receipt = retry.receipt(&"the first answer", now_seconds()).unwrap();
    let reply = || NewMessage {
        attachments: vec![file.clone()],
        ..NewMessage::by_agent(
            sam.clone(),
            MessageText::parse("see the steps").unwrap(),
            None,
            None,
            false,
        )
    };
    store
        .add_agent_message(&seen, &reply(), None, Some(&receipt))
        .await
        .unwrap();
    let retried = store
        .add_agent_message(&seen, &reply(), None, Some(&receipt))
        .await;
    assert!(
        matches!(retried, Err(StoreError::ReceiptExists)),
        "{retried:?}"
    );
    assert_eq!(texts(&store, &chat.id).await, ["first", "see the steps"]);
}

for_each_store!(
    a_retried_agent_reply_meets_the_receipt_before_its_claimed_file,
    an_upload_is_claimed_by_one_message_of_its_uploader,
    a_conversation_and_its_messages_are_stored_in_order,
    each_message_keeps_its_author,
    only_the_owner_can_append_to_an_open_conversation,
    a_first_use_write_loses_to_an_existing_user_and_writes_nothing,
    a_conversation_id_is_never_overwritten,
    creating_updates_the_profile_with_what_was_sent,
    provisioning_a_secret_replaces_the_pin,
    rotating_a_secret_keeps_the_old_one_for_the_grace_period,
    ticket_numbers_count_up_from_one,
    fifty_concurrent_sends_are_all_stored_in_order,
    thirty_concurrent_ticket_numbers_are_distinct_and_consecutive,
    ten_concurrent_first_uses_of_one_email_have_one_winner,
);
